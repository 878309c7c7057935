"""The MkDocs hook (mkdocs.yml `hooks:`) that renders the API's OpenAPI description
(web/openapi.yaml) into docs/openapi.md as plain Markdown, so the page reads offline with no
script, and publishes openapi.json beside it."""

import json

from web.openapi import description_json, read_description

DOCS_PAGE = "openapi.md"


# docs/openapi.md holds this line where the reference goes.
MARKER = "<!-- openapi-reference -->"


METHODS = ("get", "put", "post", "delete", "patch")


def _name(reference):
    return reference.rsplit("/", 1)[-1]


def _link(reference):
    """A link to a named schema's section."""
    return f"[{_name(reference)}](#schema-{_name(reference).lower()})"


def _code(value):
    return f"`{json.dumps(value, ensure_ascii=False)}`"


def type_of(schema):
    """A schema's type in a few words, with links to the named schemas it uses."""
    if schema is True or schema == {}:
        return "any"
    if schema is False:
        return "nothing"
    if "$ref" in schema:
        return _link(schema["$ref"])
    if "const" in schema:
        return _code(schema["const"])
    if "enum" in schema:
        return "one of " + ", ".join(_code(value) for value in schema["enum"])
    for keyword in ("oneOf", "anyOf"):
        if keyword in schema:
            return " or ".join(type_of(part) for part in schema[keyword])
    if "allOf" in schema:
        # Named schemas, and the parts that only narrow their fields ("with `error.status` 400").
        return " ".join(
            type_of(part) if "$ref" in part or "type" in part
            else "with " + ", ".join(f"`{name}` {value}" for name, value in narrowed_fields(part))
            for part in schema["allOf"]
        )
    types = schema.get("type", "any")
    types = types if isinstance(types, list) else [types]
    words = []
    for name in types:
        if name == "array" and "prefixItems" in schema:
            words.append("[" + ", ".join(type_of(item) for item in schema["prefixItems"]) + "]")
        elif name == "array":
            words.append(f"array of {type_of(schema.get('items', {}))}")
        elif name == "object" and isinstance(schema.get("additionalProperties"), dict) and not schema.get("properties"):
            words.append(f"object of {type_of(schema['additionalProperties'])}")
        else:
            words.append(name)
    return " or ".join(words)


def narrowed_fields(schema, prefix=""):
    """(dotted field, its narrowed value) for an allOf part that only narrows fields."""
    for name, field in schema.get("properties", {}).items():
        if "properties" in field:
            yield from narrowed_fields(field, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", type_of(field)


def constraints_of(schema):
    """The limits a schema sets, as words."""
    if not isinstance(schema, dict):
        return ""
    words = []
    for keyword, text in (
        ("minimum", "≥ {}"), ("maximum", "≤ {}"), ("minLength", "at least {} characters"),
        ("minItems", "at least {} item(s)"), ("maxItems", "at most {} item(s)"), ("format", "format {}"),
        ("contentMediaType", "{}"),
    ):
        if keyword in schema:
            words.append(text.format(schema[keyword]))
    if "pattern" in schema:
        words.append(f"matches `{schema['pattern']}`")
    return ", ".join(words)


def _cell(text):
    return " ".join(str(text).split()).replace("|", "\\|")


def properties_table(schema):
    required = set(schema.get("required", ()))
    rows = ["| Field | Type | Required | Notes |", "| --- | --- | --- | --- |"]
    for name, field in schema["properties"].items():
        notes = "; ".join(part for part in (constraints_of(field), field.get("description", "").strip()) if part)
        rows.append(f"| `{name}` | {_cell(type_of(field))} | {'yes' if name in required else 'no'} | {_cell(notes)} |")
    if schema.get("additionalProperties") is False:
        rows.append("\nNo other fields.")
    return "\n".join(rows)


def schema_section(name, schema):
    lines = [f"### {name} {{ #schema-{name.lower()} }}", ""]
    if schema.get("description"):
        lines += [schema["description"].strip(), ""]
    if "properties" in schema and schema.get("type") == "object":
        lines += [properties_table(schema), ""]
    else:
        summary = type_of({key: value for key, value in schema.items() if key != "description"})
        limits = constraints_of(schema)
        lines += [f"{summary}{f' ({limits})' if limits else ''}.", ""]
    lines += ['??? note "JSON Schema"', "", "    ```json"]
    lines += ["    " + line for line in json.dumps(schema, indent=2, ensure_ascii=False).splitlines()]
    lines += ["    ```", ""]
    return lines


def resolve(description, node):
    """The object a local `$ref` names, its own `$ref`s followed."""
    while isinstance(node, dict) and "$ref" in node:
        target = description
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def _content_cell(content):
    return "<br>".join(
        f"`{media_type}`: {_cell(type_of(body.get('schema', {})))}" for media_type, body in content.items()
    ) or "no body"


def operation_section(description, path, method, operation):
    lines = [f"### {method.upper()} `{path}` {{ #{operation['operationId'].lower()} }}", ""]
    lines += [f"**{operation.get('summary', '')}**", ""]
    if operation.get("description"):
        lines += [operation["description"].strip(), ""]
    if "requestBody" in operation:
        body = resolve(description, operation["requestBody"])
        if body.get("description"):
            lines += [body["description"].strip(), ""]
        lines += ["| Request content type | Body |", "| --- | --- |"]
        for media_type, content in body["content"].items():
            schema = content.get("schema", {})
            notes = "; ".join(part for part in (constraints_of(schema), schema.get("description", "").strip()) if part)
            lines.append(f"| `{media_type}` | {_cell(type_of(schema) + (f' ({notes})' if notes else ''))} |")
        lines.append("")
    lines += ["| Status | Meaning | Answer |", "| --- | --- | --- |"]
    for status, answer in operation["responses"].items():
        resolved = resolve(description, answer)
        headers = ", ".join(f"`{name}` header" for name in resolved.get("headers", {}))
        meaning = resolved.get("description", "") + (f" ({headers})" if headers else "")
        lines.append(f"| {status} | {_cell(meaning)} | {_content_cell(resolved.get('content', {}))} |")
    lines.append("")
    return lines


def markdown_reference(description):
    """The whole description as Markdown: the operations, then every named schema."""
    lines = ["## Operations", ""]
    for path, item in description["paths"].items():
        for method in METHODS:
            if method in item:
                lines += operation_section(description, path, method, item[method])
    lines += ["## Errors", ""]
    lines += [
        "Every error answer has the body [Error](#schema-error), its `status` the answer's own. "
        "The answers named in the tables above:", "",
        "| Answer | Status | Meaning |", "| --- | --- | --- |",
    ]
    for name, answer in description["components"]["responses"].items():
        schema = answer["content"]["application/json"]["schema"]
        status = schema["allOf"][1]["properties"]["error"]["properties"]["status"]["const"]
        lines.append(f"| {name} | {status} | {_cell(answer['description'])} |")
    lines += ["", "## Schemas", ""]
    for name, schema in description["components"]["schemas"].items():
        lines += schema_section(name, schema)
    return "\n".join(lines)


def on_page_markdown(markdown, page, config, files, **kwargs):
    """MkDocs hook: docs/openapi.md's marker becomes the reference."""
    if page.file.src_uri != DOCS_PAGE or MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, markdown_reference(read_description()))


def on_files(files, config, **kwargs):
    """MkDocs hook: the site carries openapi.json, as the app serves it."""
    from mkdocs.structure.files import File

    files.append(File.generated(config, "openapi.json", content=description_json(read_description())))
    return files
