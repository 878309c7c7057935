"""The corrections' commands: flask --app app corrections stats | export | delete."""

import io
import json
from pathlib import Path

import click
import numpy as np
from flask.cli import AppGroup
from sqlalchemy import delete, func, select

from model.loader import write_atomically
from model.preprocessing import MNIST_SIZE
from web.corrections_usage import delete_corrections, usage
from web.database import Correction, Writer, db
from web.retrain import check_command
from web.writer_examples import examples_changed
from web.writers import TOKEN, writer_id

corrections_cli = AppGroup("corrections", help="People's corrections: counts, export for training, deletion.")


# ---------------------------------------------------------------------------------------------


@corrections_cli.command("stats")
@click.option("--json", "as_json", is_flag=True, help="print the counts as one JSON object, for scripts")
def stats_command(as_json):
    """Counts by status, label, kind and model version, and predicted digit against the right one."""
    counts = corrections_counts()
    if as_json:
        click.echo(json.dumps(counts))
        return
    click.echo(f"{counts['total']:,} corrections")
    if not counts["total"]:
        return
    click.echo(f"{counts['bytes']:,} bytes of drawings and model inputs (DIGITPAD_CORRECTIONS_MAX_BYTES counts them)")
    for title, key in (("By status", "by_status"), ("By label", "by_label"), ("By kind", "by_kind"),
                       ("By model version", "by_model_version")):
        click.echo(f"\n{title}:")
        for name, count in counts[key].items():
            click.echo(f"  {name:>24}  {count:>8,}")
    click.echo("\nPredicted (rows) against the right digit (columns):")
    click.echo("      " + "".join(f"{digit:>7}" for digit in range(10)))
    for predicted, row in enumerate(counts["confusion"]):
        click.echo(f"  {predicted:>3} " + "".join(f"{count:>7,}" for count in row))


def corrections_counts():
    """The corrections counted: in all, by status, label, kind and model version, and the
    confusion matrix (predicted digit against the right one, rows by prediction)."""
    counts = {"total": db.session.scalar(select(func.count(Correction.id))), "bytes": usage()[1]}
    for key, column in (("by_status", Correction.status), ("by_label", Correction.label),
                        ("by_kind", Correction.kind), ("by_model_version", Correction.model_version)):
        rows = db.session.execute(select(column, func.count()).group_by(column).order_by(column))
        counts[key] = {str(name): count for name, count in rows}
    confusion = np.zeros((10, 10), dtype=np.int64)
    pairs = select(Correction.predicted, Correction.label, func.count()).group_by(Correction.predicted, Correction.label)
    for predicted, label, count in db.session.execute(pairs):
        confusion[predicted, label] = count
    counts["confusion"] = confusion.tolist()
    return counts


# The export's arrays: name, the column it holds, and its NumPy type.
EXPORT_COLUMNS = (
    ("ids", Correction.id, np.int64),
    ("labels", Correction.label, np.uint8),
    ("predicted", Correction.predicted, np.uint8),
    ("kinds", Correction.kind, "<U5"),
    ("model_versions", Correction.model_version, "<U64"),
    ("created_at", Correction.created_at, "datetime64[ms]"),
    ("clients", Correction.client, "<U32"),
    ("statuses", Correction.status, "<U12"),
)


@corrections_cli.command("export")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path))
def export_command(out):
    """Write every correction to an .npz file of arrays for training.

    Each row's strokes are JSON text ([[[x, y, t], ...], ...] in the pixels of its drawing, empty
    where it has none), all of them one after another in `strokes_json` (ASCII bytes, uint8) and
    row i's ending at strokes_ends[i]: bytes(strokes_json[strokes_ends[i - 1]:strokes_ends[i]])
    (from 0 for the first). One array of texts would be as wide as the longest for every row.
    """
    # Counted first and read in pages into arrays of that size: a million corrections never sit
    # in memory as Python objects. Rows stored meanwhile wait for the next export.
    total = db.session.scalar(select(func.count(Correction.id)))
    arrays = {name: np.empty(total, dtype=dtype) for name, _, dtype in EXPORT_COLUMNS}
    arrays["images"] = np.empty((total, MNIST_SIZE, MNIST_SIZE), dtype=np.uint8)
    arrays["strokes_ends"] = np.empty(total, dtype=np.int64)
    strokes_json = bytearray()
    query = select(Correction.model_input, Correction.strokes, *(column for _, column, _ in EXPORT_COLUMNS)).order_by(Correction.id)
    count = 0
    for count, (model_input, strokes, *values) in enumerate(
        db.session.execute(query.limit(total).execution_options(yield_per=2000)), start=1
    ):
        arrays["images"][count - 1] = np.frombuffer(model_input, dtype=np.uint8).reshape(MNIST_SIZE, MNIST_SIZE)
        for (name, _, _), value in zip(EXPORT_COLUMNS, values):
            arrays[name][count - 1] = value
        strokes_json += (strokes or "").encode("ascii")
        arrays["strokes_ends"][count - 1] = len(strokes_json)
    # Rows deleted meanwhile leave the arrays shorter, never with empty rows.
    arrays = {name: array[:count] for name, array in arrays.items()}
    arrays["strokes_json"] = np.frombuffer(bytes(strokes_json), dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(out, buffer.getvalue())
    click.echo(f"Wrote {count:,} corrections to {out}")


@corrections_cli.command("delete")
@click.option(
    "--before",
    type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"]),
    help="Delete corrections stored before this UTC date (and time).",
)
@click.option("--writer", "token", help="Delete a writer's corrections: their token, as their cookie holds it.")
@click.option("--id", "correction_id", type=click.IntRange(min=1), help="Delete one correction, by its id.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def delete_command(before, token, correction_id, yes):
    """Delete corrections: those stored before a date, a writer's, or one by its id."""
    chosen = [name for name, value in (("--before", before), ("--writer", token), ("--id", correction_id))
              if value is not None]
    if len(chosen) != 1:
        raise click.UsageError("Give exactly one of --before, --writer and --id.")
    if before is not None:
        condition, what = Correction.created_at < before, f"stored before {before:%Y-%m-%d %H:%M:%S}"
    elif token is not None:
        if not TOKEN.match(token):
            raise click.BadParameter("not a writer token (43 characters of A-Z, a-z, 0-9, _ and -).", param_hint="--writer")
        condition, what = Correction.writer == writer_id(token), f"of writer {writer_id(token)[:12]}"
    else:
        condition, what = Correction.id == correction_id, f"with id {correction_id}"
    count = db.session.scalar(select(func.count(Correction.id)).where(condition))
    if count == 0:
        click.echo(f"No corrections {what}.")
        return
    if not yes:
        click.confirm(f"Delete {count:,} corrections {what}?", abort=True)
    # The writers whose examples change: their revision moves, so every worker reloads them.
    writers = set(db.session.scalars(select(Correction.writer).where(condition, Correction.writer.is_not(None)).distinct()))
    deleted = delete_corrections(condition)  # Taken off the running total too.
    if token is not None:
        db.session.execute(delete(Writer).where(Writer.id == writer_id(token)))
    else:
        for writer in writers:
            examples_changed(writer)
    db.session.commit()
    click.echo(f"Deleted {deleted:,} corrections {what}.")


# The label check of `models retrain`, on its own (web/retrain.py).
corrections_cli.add_command(check_command)
