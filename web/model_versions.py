"""Model versions: a registry in the database, the commands that fill it, and the switch while
serving.

Each version's files (model.json, model.h5, model.tflite, metadata.json), its training metadata
and the accuracy measured for it on each evaluation set are kept in the corrections' database,
with a log of which version is served. Every worker of every server that shares the database
asks which version is served every DIGITPAD_MODEL_POLL_SECONDS; on a change it writes that
version's files into instance/model-versions/VERSION/, loads and warms a new classifier in a
thread of its own and only then swaps it in, so requests already running finish on the old one
(every answer names the `model_version` that produced it). With an empty registry the committed
model/ is served, as before; the first promotion adds it as the first version.

    flask --app app models list | add DIR | evaluate VERSION | promote VERSION [--force] | rollback
"""

import json
import logging
import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import click
from flask import Blueprint, current_app, jsonify
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from handwriting.corrections import read_corrections, split_by_client
from model.batching import Batcher
from model.loader import (
    ARCHITECTURE_FILE,
    LITERT_FILE,
    METADATA_FILE,
    WEIGHTS_FILE,
    model_files_sha256,
    read_metadata,
)
from model.service import DigitClassifier
from web.database import DatabaseUnavailable, ModelFile, ModelPromotion, ModelVersion, db, short, utc_now
from web.metrics import BATCH_SIZES, SERVED_MODEL

log = logging.getLogger("digitpad")

model_versions = Blueprint("model_versions", __name__, cli_group="models")

MODEL_FILES = (ARCHITECTURE_FILE, WEIGHTS_FILE, LITERT_FILE, METADATA_FILE)
EVALUATION_SETS = ("mnist_test", "validation_writers", "held_out_corrections")
# A version's figures must match what its training recorded to this many percentage points.
RECORDED_TOLERANCE_POINTS = 0.1
RETIRED_BATCHER_SECONDS = 90


# --- Serving: the classifier and its batcher, swapped together ----------------------------------


@dataclass(frozen=True)
class ServedModel:
    classifier: DigitClassifier
    batcher: Batcher


def served_model():
    """The classifier and batcher serving now; a request takes them once and keeps them."""
    return current_app.extensions["digitpad.served"]


def build_served_model(config, model_dir, classifier=None):
    """A classifier for the model folder (or the one given, as tests give theirs) with its batcher."""
    classifier = classifier or DigitClassifier(
        model_dir=model_dir,
        unsure_below=config["UNSURE_BELOW"],
        second_look_below=config["SECOND_LOOK_BELOW"],
        max_batch_size=config["BATCH_MAX_SIZE"],
        runtime=config["RUNTIME"],
        inference_threads=config["INFERENCE_THREADS"],
        number_inference_threads=config["NUMBER_INFERENCE_THREADS"],
        gpu_batch_from=config["GPU_BATCH_FROM"],
        image_limits={"max_side": config["MAX_IMAGE_SIDE"], "max_pixels": config["MAX_IMAGE_PIXELS"]},
    )
    batcher = Batcher(
        classifier.predict,
        max_batch_size=config["BATCH_MAX_SIZE"],
        max_wait_seconds=config["BATCH_MAX_WAIT_MS"] / 1000,
        on_batch=BATCH_SIZES.observe,
    )
    return ServedModel(classifier, batcher)


def serve(app, served):
    """Swap in the classifier and batcher that serve from now on (one assignment: a request
    takes both or neither), and say so in the Prometheus gauge once it has loaded."""
    previous = app.extensions.get("digitpad.served")
    app.extensions["digitpad.served"] = served
    if previous is not None and previous.classifier.ready and previous.classifier.version != served.classifier.version:
        SERVED_MODEL.labels(previous.classifier.version).set(0)
    if served.classifier.ready:
        SERVED_MODEL.labels(served.classifier.version).set(1)


def served_version():
    """The version the registry says is served, or None while it is empty."""
    return db.session.execute(
        select(ModelPromotion.version).order_by(ModelPromotion.id.desc()).limit(1)
    ).scalar()


def version_folder(app, version):
    """The version's files, written from the database once, into the instance folder."""
    folder = Path(app.instance_path) / "model-versions" / version
    expected = db.session.get(ModelVersion, version).files_sha256
    if (folder / METADATA_FILE).exists():
        if model_files_sha256(folder) == expected:
            return folder
        shutil.rmtree(folder)  # Another registry's files under the same name.
    files = db.session.execute(select(ModelFile).where(ModelFile.version == version)).scalars().all()
    folder.parent.mkdir(parents=True, exist_ok=True)
    # Written beside, then renamed: another worker may be writing the same version.
    staging = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=folder.parent))
    for file in files:
        (staging / file.name).write_bytes(file.content)
    try:
        staging.rename(folder)
    except OSError:  # Another worker was first.
        shutil.rmtree(staging, ignore_errors=True)
    return folder


class ModelWatcher:
    """A worker's thread that loads the served version at start and follows every promotion."""

    def __init__(self, app, poll_seconds):
        self.app = app
        self.poll_seconds = poll_seconds
        self._failed = set()  # Versions that would not load here: not tried again and again.
        self._retired = []  # (when, ServedModel) replaced, whose batchers end a minute later.
        threading.Thread(target=self._run, name="model-watcher", daemon=True).start()

    def _run(self):
        # At start the registry's version, where there is one: the classifier that requests
        # already wait for is pointed at its files before it loads.
        classifier = self.app.extensions["digitpad.served"].classifier
        folder = self._folder_of(self._registry_version())
        if folder is not None:
            classifier.model_dir = str(folder)
        classifier.load()
        serve(self.app, self.app.extensions["digitpad.served"])
        # A real thread's pause (time.sleep would be gevent's in a gevent worker).
        pause = threading.Event()
        while not pause.wait(self.poll_seconds):
            self._follow()
            self._close_retired()

    def _close_retired(self):
        # A request that took the old model just before the switch may still use its batcher:
        # it is ended once no request can be that old (gunicorn's timeout is a minute).
        while self._retired and time.monotonic() - self._retired[0][0] > RETIRED_BATCHER_SECONDS:
            self._retired.pop(0)[1].batcher.close()

    def _registry_version(self):
        """The registry's served version (one small query), or None while it is empty or unreadable."""
        with self.app.app_context():
            try:
                version = served_version()
            except SQLAlchemyError as error:
                log.warning("The model registry could not be read: %s", error)
                return None
            finally:
                db.session.remove()
        return None if version in self._failed else version

    def _folder_of(self, version):
        """The version's files here, written from the registry if they are not (None: unreadable)."""
        if version is None:
            return None
        with self.app.app_context():
            try:
                return version_folder(self.app, version)
            except (SQLAlchemyError, OSError) as error:
                log.warning("Model version %s could not be written here: %s", version, error)
                return None
            finally:
                db.session.remove()

    def _follow(self):
        """Switch to the registry's served version if it is not the one served."""
        version = self._registry_version()
        if version is None or version == self.app.extensions["digitpad.served"].classifier.version:
            return
        folder = self._folder_of(version)
        if folder is None:
            return
        candidate = build_served_model(self.app.config, str(folder))
        candidate.classifier.load()  # Loaded and warmed before it takes a request.
        if not candidate.classifier.ready:
            log.error("Model version %s did not load: %s", version, candidate.classifier.load_error)
            self._failed.add(version)
            return
        self._retired.append((time.monotonic(), self.app.extensions["digitpad.served"]))
        serve(self.app, candidate)
        log.info("Serving model version %s", version)


# --- The registry's API ---------------------------------------------------------------------


@model_versions.get("/api/models")
def list_models():
    serving = served_model().classifier.version
    try:
        rows = db.session.execute(select(ModelVersion).order_by(ModelVersion.added_at)).scalars().all()
        registry_served = served_version()
    except SQLAlchemyError as error:
        db.session.rollback()
        raise DatabaseUnavailable(
            f"The model registry cannot be read now ({short(error)}); this worker serves {serving}."
        ) from error
    return jsonify({
        "served": serving,
        "registry_served": registry_served,
        "versions": [
            {"version": row.version, "added_at": row.added_at.isoformat() + "Z",
             "evaluation": json.loads(row.evaluation), "served": row.version == serving}
            for row in rows
        ],
    })


# --- Evaluation -----------------------------------------------------------------------------


class EvaluationSets:
    """The images and labels each version is measured on, read once per command."""

    def __init__(self):
        self._sets = {}

    def get(self, name):
        if name not in self._sets:
            self._sets[name] = getattr(self, f"_{name}")()
        return self._sets[name]

    # The data sets as the training script reads them: MNIST_PATH and PENDIGITS_PATH, else
    # downloaded. Imported here: it brings Keras, which only these commands need.
    def _mnist_test(self):
        from train_mnist import load_mnist

        _, test, _ = load_mnist(os.environ.get("MNIST_PATH"))
        return test

    def _validation_writers(self):
        from handwriting.pendigits import read_pendigits, split_by_writer, validation_drawings
        from train_mnist import pendigits_path

        _, validation = split_by_writer(read_pendigits(pendigits_path(os.environ.get("PENDIGITS_PATH"))))
        images, labels, _ = validation_drawings(validation)
        return images, labels

    def _held_out_corrections(self):
        # The clients train_mnist.py --corrections never trains on, from this database.
        _, held_out = split_by_client(*read_corrections(db.engine))
        return held_out


def measure(classifier, sets):
    """{set: {"accuracy", "images"}} for the classifier's network as the server runs it (LiteRT),
    without the second look at unsure images: that is the server's, the same for every version,
    and the training script records the network's own figures, which these are checked against."""
    figures = {}
    for name in EVALUATION_SETS:
        images, labels = sets.get(name)
        if len(labels) == 0:
            figures[name] = {"accuracy": None, "images": 0}
            continue
        predicted = classifier.network_alone(images).argmax(axis=1)
        figures[name] = {"accuracy": round(float((predicted == labels).mean()), 6), "images": int(len(labels))}
    return figures


def load_classifier(folder):
    classifier = DigitClassifier(model_dir=str(folder), runtime="litert")
    classifier.load()
    if not classifier.ready:
        raise click.ClickException(f"{folder} does not load: {classifier.load_error}")
    return classifier


def describe_figures(figures):
    return ", ".join(
        f"{name.replace('_', ' ')} {figure['accuracy']:.2%} ({figure['images']:,})"
        if figure["accuracy"] is not None else f"{name.replace('_', ' ')} none yet"
        for name, figure in figures.items()
    )


def add_version(folder, sets):
    """Check a model folder and register it; its ModelVersion row."""
    folder = Path(folder)
    missing = [name for name in MODEL_FILES if not (folder / name).is_file()]
    if missing:
        raise click.ClickException(f"{folder} lacks {', '.join(missing)}.")
    metadata = read_metadata(folder)
    version = metadata.get("version")
    if not version:
        raise click.ClickException(f"{folder}/{METADATA_FILE} names no version.")
    if db.session.get(ModelVersion, version):
        raise click.ClickException(f"Version {version} is in the registry already.")
    recorded_hash = metadata.get("model_files_sha256")
    actual_hash = model_files_sha256(folder)
    if recorded_hash != actual_hash:
        raise click.ClickException(
            f"The files of {folder} do not match their hash in {METADATA_FILE} "
            f"({actual_hash[:12]} against {str(recorded_hash)[:12]} recorded): they are not the files trained together."
        )
    figures = measure(load_classifier(folder), sets)
    for name in ("mnist_test", "validation_writers"):
        recorded = metadata.get("evaluation", {}).get(name, {})
        if recorded.get("images") != figures[name]["images"]:
            click.echo(f"  {name}: recorded on {recorded.get('images')} images, not these {figures[name]['images']:,}; "
                       "not compared")
            continue
        gap = abs(recorded["accuracy"] - figures[name]["accuracy"]) * 100
        if gap > RECORDED_TOLERANCE_POINTS:
            raise click.ClickException(
                f"{name}: this model reads {figures[name]['accuracy']:.2%}, its metadata records "
                f"{recorded['accuracy']:.2%}: not the model that was measured."
            )
    row = ModelVersion(
        version=version, added_at=utc_now(), model_metadata=json.dumps(metadata),
        evaluation=json.dumps(figures), files_sha256=actual_hash,
    )
    db.session.add(row)
    db.session.flush()  # The version's row before its files', which refer to it.
    for name in MODEL_FILES:
        db.session.add(ModelFile(version=version, name=name, content=(folder / name).read_bytes()))
    db.session.commit()
    return row


def promotion_log(version, action, previous, forced=False):
    db.session.add(ModelPromotion(at=utc_now(), action=action, version=version, previous=previous, forced=forced))
    db.session.commit()


def worse_sets(candidate, served, tolerance_points):
    """The evaluation sets on which the candidate reads worse than the served version by more
    than the tolerance, with both figures."""
    worse = []
    for name in EVALUATION_SETS:
        new, old = candidate.get(name, {}), served.get(name, {})
        if new.get("accuracy") is None or old.get("accuracy") is None:
            continue
        if (old["accuracy"] - new["accuracy"]) * 100 > tolerance_points:
            worse.append(f"{name.replace('_', ' ')}: {new['accuracy']:.2%} against {old['accuracy']:.2%}")
    return worse


@model_versions.cli.command("list")
def list_command():
    """The versions in the registry, their figures and which one is served."""
    serving = served_version()
    rows = db.session.execute(select(ModelVersion).order_by(ModelVersion.added_at)).scalars().all()
    if not rows:
        click.echo(f"The registry is empty: the committed model ({current_app.config['MODEL_DIR']}) is served.")
    for row in rows:
        marker = "*" if row.version == serving else " "
        click.echo(f"{marker} {row.version}  added {row.added_at:%Y-%m-%d %H:%M}  "
                   f"{describe_figures(json.loads(row.evaluation))}")


@model_versions.cli.command("add")
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
def add_command(folder):
    """Check a model folder (files, hashes, recorded accuracy) and add it to the registry."""
    row = add_version(folder, EvaluationSets())
    click.echo(f"Added {row.version}: {describe_figures(json.loads(row.evaluation))}")


@model_versions.cli.command("evaluate")
@click.argument("version")
def evaluate_command(version):
    """Measure a version again on every evaluation set (the held-out corrections grow)."""
    row = db.session.get(ModelVersion, version)
    if row is None:
        raise click.ClickException(f"No version {version} in the registry (see `models list`).")
    figures = measure(load_classifier(version_folder(current_app, version)), EvaluationSets())
    row.evaluation = json.dumps(figures)
    db.session.commit()
    click.echo(f"{version}: {describe_figures(figures)}")


@model_versions.cli.command("promote")
@click.argument("version")
@click.option("--force", is_flag=True, help="promote even if it reads worse than the served version")
def promote_command(version, force):
    """Serve a version, unless it reads worse than the served one on any evaluation set by more
    than DIGITPAD_PROMOTE_TOLERANCE percentage points."""
    candidate = db.session.get(ModelVersion, version)
    if candidate is None:
        raise click.ClickException(f"No version {version} in the registry: `models add DIR` first.")
    serving = served_version()
    if serving is None:
        # The committed model was served until now: it becomes the first version.
        committed_folder = current_app.config["MODEL_DIR"]
        serving = read_metadata(committed_folder)["version"]
        if db.session.get(ModelVersion, serving) is None:
            add_version(committed_folder, EvaluationSets())
        promotion_log(serving, "initial", None)
    if serving == version:
        raise click.ClickException(f"{version} is served already.")
    tolerance = float(os.environ.get("DIGITPAD_PROMOTE_TOLERANCE", "0.2"))
    worse = worse_sets(json.loads(candidate.evaluation), json.loads(db.session.get(ModelVersion, serving).evaluation),
                       tolerance)
    if worse and not force:
        raise click.ClickException(
            f"{version} reads worse than the served {serving} by more than {tolerance:g} points on "
            + "; ".join(worse) + ". Nothing changed (--force to promote it anyway)."
        )
    promotion_log(version, "promote", serving, forced=bool(worse))
    click.echo(f"Promoted {version} (was {serving}); every worker serves it within "
               f"{current_app.config['MODEL_POLL_SECONDS']:g} s and its loading time.")


@model_versions.cli.command("rollback")
def rollback_command():
    """Serve again the version served before the current one was promoted."""
    serving = served_version()
    introduced = db.session.execute(
        select(ModelPromotion).where(ModelPromotion.version == serving, ModelPromotion.action != "rollback")
        .order_by(ModelPromotion.id.desc()).limit(1)
    ).scalar()
    if introduced is None or introduced.previous is None:
        raise click.ClickException("Nothing to roll back to: no version was served before this one.")
    promotion_log(introduced.previous, "rollback", serving)
    click.echo(f"Rolled back to {introduced.previous} (was {serving}).")
