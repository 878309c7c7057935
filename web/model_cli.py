"""The registry's commands: flask --app app models list | add DIR | evaluate VERSION |
promote VERSION [--force] | rollback."""

import json

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from web.database import ModelVersion, db
from web.model_registry import (
    EvaluationSets,
    RegistryError,
    add_version,
    describe_figures,
    load_classifier,
    measure,
    promote,
    rollback,
    served_version,
    version_folder,
)
from web.retrain import retrain_command

models_cli = AppGroup("models", help="The model registry: versions, their figures, promotion and rollback.")


@models_cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="print the versions as one JSON object, for scripts")
def list_command(as_json):
    """The versions in the registry, their figures and which one is served."""
    serving = served_version()
    rows = db.session.execute(select(ModelVersion).order_by(ModelVersion.added_at)).scalars().all()
    if as_json:
        click.echo(json.dumps({
            "served": serving,
            "versions": [{"version": row.version, "added_at": row.added_at.isoformat() + "Z",
                          "evaluation": json.loads(row.evaluation), "served": row.version == serving}
                         for row in rows],
        }))
        return
    if not rows:
        click.echo(f"The registry is empty: the committed model ({current_app.config['MODEL_DIR']}) is served.")
    for row in rows:
        marker = "*" if row.version == serving else " "
        click.echo(f"{marker} {row.version}  added {row.added_at:%Y-%m-%d %H:%M}  "
                   f"{describe_figures(json.loads(row.evaluation))}")


@models_cli.command("add")
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
def add_command(folder):
    """Check a model folder (files, hashes, recorded accuracy) and add it to the registry."""
    try:
        row = add_version(folder, EvaluationSets(), report=click.echo)
    except RegistryError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"Added {row.version}: {describe_figures(json.loads(row.evaluation))}")


@models_cli.command("evaluate")
@click.argument("version")
def evaluate_command(version):
    """Measure a version again on every evaluation set (the held-out corrections grow)."""
    row = db.session.get(ModelVersion, version)
    if row is None:
        raise click.ClickException(f"No version {version} in the registry (see `models list`).")
    try:
        figures = measure(load_classifier(version_folder(current_app, version)), EvaluationSets())
    except RegistryError as error:
        raise click.ClickException(str(error)) from error
    row.evaluation = json.dumps(figures)
    db.session.commit()
    click.echo(f"{version}: {describe_figures(figures)}")


@models_cli.command("promote")
@click.argument("version")
@click.option("--force", is_flag=True, help="promote even if it reads worse than the served version")
def promote_command(version, force):
    """Serve a version, unless it reads worse than the served one on any evaluation set by more
    than DIGITPAD_PROMOTE_TOLERANCE percentage points."""
    try:
        previous, _ = promote(version, current_app.config["MODEL_DIR"], current_app.config["PROMOTE_TOLERANCE"], force)
    except RegistryError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"Promoted {version} (was {previous}); every worker serves it within "
               f"{current_app.config['MODEL_POLL_SECONDS']:g} s and its loading time.")


@models_cli.command("rollback")
def rollback_command():
    """Serve again the version served before the current one was promoted."""
    try:
        now, before = rollback()
    except RegistryError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"Rolled back to {now} (was {before}).")


# The whole loop from corrections to a promoted version (web/retrain.py).
models_cli.add_command(retrain_command)
