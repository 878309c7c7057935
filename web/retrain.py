"""`flask --app app models retrain`: from corrections to a better served network in one command.

    flask --app app models retrain [--dry-run] [--epochs N] [--limit N] [--no-filter]

1. Reads the corrections from the database.
2. Checks their labels (training/label_quality.py): every row not reviewed by a person becomes
   trusted or quarantined, with cleanlab over the served network's probabilities and each
   writer's and address's reliability.
3. Chooses what to train on: the trusted and accepted rows of the clients that are not held out
   for the gate, no writer and no address above DIGITPAD_RETRAIN_MAX_SHARE of them.
4. Fine-tunes the served version on them, replaying MNIST and the pen strokes
   (training/fine_tune.py), on a GPU where Keras sees one.
5. Adds the result to the registry, which measures it on every evaluation set (the held-out
   corrections: trusted rows only).
6. Promotes it through the gate, or says why not.

It exits 0 whether or not the new version was promoted, and non-zero only when it could not run,
so a scheduler (Heroku Scheduler, cron, a Kubernetes CronJob: docs/operations.md) runs it as it
is. --dry-run stops after step 3 and changes nothing.
"""

import datetime
import json
import time
from pathlib import Path

import click
import numpy as np
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select, update

from handwriting.datasets import held_out
from model.loader import read_metadata, save_network
from model.preprocessing import MNIST_SIZE
from training.label_quality import REVIEWED, USABLE, capped, judge
from web.database import Correction, db
from web.model_registry import (
    EvaluationSets,
    RegistryError,
    add_version,
    describe_figures,
    load_classifier,
    promote,
    served_version,
    version_folder,
)

STAGES = 6


def stage(number, text):
    click.echo(f"[{number}/{STAGES}] {text}")


@click.command("retrain")
@click.option("--dry-run", is_flag=True, help="show what would be trained on and quarantined; change nothing")
@click.option("--epochs", type=int, default=None, help="epochs of fine-tuning (default: training/fine_tune.py's)")
@click.option("--limit", type=int, default=None, help="replay and measure on this many images only (quick runs)")
@click.option("--no-filter", is_flag=True, help="train on every correction as it came (to measure the filter)")
@click.option("--seed", type=int, default=1)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="where the new version's files go (default: instance/retrained/VERSION)")
@with_appcontext
def retrain_command(dry_run, epochs, limit, no_filter, seed, out):
    """Check the corrections' labels, fine-tune the served network on the trusted ones, add the
    result to the registry and promote it through the gate."""
    started = time.monotonic()
    rows, images, statuses, served, folder = read_and_checked(dry_run)
    stage(3, "Choosing what to train on")
    chosen = training_rows(rows, statuses, no_filter)
    click.echo(f"      trained on: {len(chosen):,} corrections (each {current_app.config['RETRAIN_CORRECTIONS_WEIGHT']} "
               f"times); held out for the gate: {sum(held_out(row.client) for row in rows):,}")
    if dry_run:
        click.echo("Dry run: nothing changed.")
        return
    version, out = fine_tuned_version(folder, served, images[chosen], np.array([rows[i].label for i in chosen]),
                                      epochs, limit, seed, out)
    stage(5, f"Adding {version} to the registry and measuring it")
    sets = EvaluationSets()  # Read once: the new version and, at a first promotion, the committed one.
    try:
        row = add_version(out, sets, report=click.echo)
    except RegistryError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"      {describe_figures(json.loads(row.evaluation))}")
    stage(6, "The gate")
    try:
        previous, _ = promote(version, current_app.config["MODEL_DIR"], current_app.config["PROMOTE_TOLERANCE"],
                              sets=sets)
        click.echo(f"Promoted {version} (was {previous}).")
    except RegistryError as error:
        click.echo(f"Not promoted: {error}")
    click.echo(f"Done in {time.monotonic() - started:.0f} s.")


def read_and_checked(dry_run):
    """Stages 1 and 2: (rows, their network inputs, their statuses now, served version, folder)."""
    stage(1, "Reading the corrections")
    rows = db.session.execute(select(
        Correction.id, Correction.model_input, Correction.label, Correction.kind, Correction.writer,
        Correction.client, Correction.status,
    ).order_by(Correction.id)).all()
    click.echo(f"      {len(rows):,} corrections")
    served, folder = served_folder()
    classifier = loaded(folder)
    images = np.stack([np.frombuffer(row.model_input, np.uint8).reshape(MNIST_SIZE, MNIST_SIZE) for row in rows]) \
        if rows else np.zeros((0, MNIST_SIZE, MNIST_SIZE), np.uint8)
    stage(2, f"Checking their labels with {served}'s readings")
    return rows, images, checked_statuses(rows, images, classifier, dry_run), served, folder


@click.command("check")
@with_appcontext
def check_command():
    """Check the corrections' labels and store their statuses (trusted or quarantined), as
    `models retrain` does first: what train_mnist.py --corrections and the gate then use."""
    read_and_checked(dry_run=False)


def served_folder():
    """(the served version's name, its folder): the registry's, or the committed model."""

    version = served_version()
    if version is None:
        folder = current_app.config["MODEL_DIR"]
        return read_metadata(folder)["version"], Path(folder)
    return version, version_folder(current_app, version)


def loaded(folder):
    try:
        return load_classifier(folder)
    except RegistryError as error:
        raise click.ClickException(str(error)) from error


def checked_statuses(rows, images, classifier, dry_run):
    """Every row's status after the label check; stored unless it is a dry run."""
    if not rows:
        return np.array([], dtype=object)
    probabilities = classifier.predict(images)
    verdicts = judge(np.array([row.label for row in rows]), probabilities, np.array([row.kind for row in rows]),
                     [row.writer for row in rows], [row.client for row in rows], [row.status for row in rows])
    counts = {status: int((verdicts.statuses == status).sum()) for status in ("trusted", "quarantined", *REVIEWED)}
    click.echo(f"      {counts['trusted']:,} trusted, {counts['quarantined']:,} quarantined, "
               f"{counts['accepted']:,} accepted and {counts['rejected']:,} rejected by a person; "
               f"{int(verdicts.flagged.sum()):,} labels flagged; unreliable: {len(verdicts.unreliable_writers)} "
               f"writers, {len(verdicts.unreliable_clients)} addresses")
    if not dry_run:
        for status in ("trusted", "quarantined"):
            ids = [row.id for row, new in zip(rows, verdicts.statuses) if new == status and row.status != status]
            for start in range(0, len(ids), 500):
                db.session.execute(update(Correction).where(Correction.id.in_(ids[start:start + 500]))
                                   .values(status=status))
        db.session.commit()
    return verdicts.statuses


def training_rows(rows, statuses, no_filter):
    """Indexes of the rows to train on: usable, not held out, no owner above the share (without
    the filter: every row of the clients not held out, as it came)."""
    usable = [index for index, row in enumerate(rows)
              if (no_filter or statuses[index] in USABLE) and not held_out(row.client)]
    if no_filter:
        return np.array(usable, dtype=np.int64)
    share = current_app.config["RETRAIN_MAX_SHARE"]
    by_writer = capped(np.array(usable, dtype=np.int64), [row.writer for row in rows], share)
    return capped(by_writer, [row.client for row in rows], share)


def fine_tuned_version(folder, served, images, labels, epochs, limit, seed, out=None):
    """Stage 4: the served network fine-tuned, saved in the instance folder; (version, folder)."""
    # Imported here: Keras and the data sets are for this command only.
    from training.fine_tune import EPOCHS, fine_tune, loaded_for_fine_tuning, measured, replay_data, with_corrections
    from training.network import feature_mean

    stage(4, "Fine-tuning, replaying MNIST and the pen strokes")
    replay_images, replay_labels, evaluation, mnist_images = replay_data(seed, limit)
    train_images, train_labels = with_corrections(replay_images, replay_labels, images, labels,
                                                  current_app.config["RETRAIN_CORRECTIONS_WEIGHT"])
    network = loaded_for_fine_tuning(folder, seed)
    seconds = fine_tune(network, train_images, train_labels, epochs or EPOCHS, seed, verbose=2)
    trained_at = datetime.datetime.now(datetime.timezone.utc)
    version = trained_at.strftime("%Y%m%d-%H%M%S") + "-retrain"
    metadata = {
        "version": version, "trained_at": trained_at.isoformat(timespec="seconds"), "initial_model": served,
        "evaluation": measured(network, evaluation), "parameters": network.count_params(),
        "training_samples": int(len(train_labels)), "training_seconds": round(seconds, 1),
        "corrections": {"trained_on": int(len(labels)), "weight": current_app.config["RETRAIN_CORRECTIONS_WEIGHT"]},
        "feature_mean": feature_mean(network, mnist_images),
        "command": "flask --app app models retrain",
    }
    metadata["test_accuracy"] = metadata["evaluation"]["mnist_test"]["accuracy"]
    out = (out or Path(current_app.instance_path) / "retrained") / version
    save_network(network, out, metadata)
    click.echo(f"      {seconds:.0f} s; saved in {out}")
    return version, out
