"""The corrections' commands: flask --app app corrections stats | export | delete."""

import io
from pathlib import Path

import click
import numpy as np
from flask.cli import AppGroup
from sqlalchemy import delete, func, select

from model.loader import write_atomically
from model.preprocessing import MNIST_SIZE
from web.database import Correction, db

corrections_cli = AppGroup("corrections", help="People's corrections: counts, export for training, deletion.")


# ---------------------------------------------------------------------------------------------


@corrections_cli.command("stats")
def stats_command():
    """Counts by label, kind and model version, and predicted digit against the right one."""
    total = db.session.scalar(select(func.count(Correction.id)))
    click.echo(f"{total:,} corrections")
    if not total:
        return
    for title, column in (
        ("By label", Correction.label),
        ("By kind", Correction.kind),
        ("By model version", Correction.model_version),
    ):
        click.echo(f"\n{title}:")
        for key, count in db.session.execute(select(column, func.count()).group_by(column).order_by(column)):
            click.echo(f"  {key!s:>24}  {count:>8,}")
    confusion = np.zeros((10, 10), dtype=np.int64)
    pairs = select(Correction.predicted, Correction.label, func.count()).group_by(
        Correction.predicted, Correction.label
    )
    for predicted, label, count in db.session.execute(pairs):
        confusion[predicted, label] = count
    click.echo("\nPredicted (rows) against the right digit (columns):")
    click.echo("      " + "".join(f"{digit:>7}" for digit in range(10)))
    for predicted in range(10):
        click.echo(f"  {predicted:>3} " + "".join(f"{count:>7,}" for count in confusion[predicted]))


# The export's arrays: name, the column it holds, and its NumPy type.
EXPORT_COLUMNS = (
    ("ids", Correction.id, np.int64),
    ("labels", Correction.label, np.uint8),
    ("predicted", Correction.predicted, np.uint8),
    ("kinds", Correction.kind, "<U5"),
    ("model_versions", Correction.model_version, "<U64"),
    ("created_at", Correction.created_at, "datetime64[ms]"),
    ("clients", Correction.client, "<U32"),
)


@corrections_cli.command("export")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path))
def export_command(out):
    """Write every correction to an .npz file of arrays for training."""
    # Counted first and read in pages into arrays of that size: a million corrections never sit
    # in memory as Python objects. Rows stored meanwhile wait for the next export.
    total = db.session.scalar(select(func.count(Correction.id)))
    arrays = {name: np.empty(total, dtype=dtype) for name, _, dtype in EXPORT_COLUMNS}
    arrays["images"] = np.empty((total, MNIST_SIZE, MNIST_SIZE), dtype=np.uint8)
    query = select(Correction.model_input, *(column for _, column, _ in EXPORT_COLUMNS)).order_by(Correction.id)
    count = 0
    for count, (model_input, *values) in enumerate(
        db.session.execute(query.limit(total).execution_options(yield_per=2000)), start=1
    ):
        arrays["images"][count - 1] = np.frombuffer(model_input, dtype=np.uint8).reshape(MNIST_SIZE, MNIST_SIZE)
        for (name, _, _), value in zip(EXPORT_COLUMNS, values):
            arrays[name][count - 1] = value
    # Rows deleted meanwhile leave the arrays shorter, never with empty rows.
    arrays = {name: array[:count] for name, array in arrays.items()}
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(out, buffer.getvalue())
    click.echo(f"Wrote {count:,} corrections to {out}")


@corrections_cli.command("delete")
@click.option(
    "--before",
    required=True,
    type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"]),
    help="Delete corrections stored before this UTC date (and time).",
)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def delete_command(before, yes):
    """Delete the corrections stored before a date."""
    older = Correction.created_at < before
    count = db.session.scalar(select(func.count(Correction.id)).where(older))
    if count == 0:
        click.echo(f"No corrections stored before {before:%Y-%m-%d %H:%M:%S}.")
        return
    if not yes:
        click.confirm(f"Delete {count:,} corrections stored before {before}?", abort=True)
    result = db.session.execute(delete(Correction).where(older))
    db.session.commit()
    click.echo(f"Deleted {result.rowcount:,} corrections stored before {before:%Y-%m-%d %H:%M:%S}.")
