"""The model registry: versions of the network kept in the database, how each is measured, and
the gate a version must pass to be served.

Each version's files (model.json, model.h5, model.tflite, metadata.json), its training metadata
and the accuracy measured for it on each evaluation set are kept in the corrections' database,
with a log of which version is served (web/database.py). The commands that fill it are in
web/model_cli.py; the thread that follows it while serving is in web/model_watcher.py.
"""

import json
import re
import shutil
import tempfile
from pathlib import Path

from sqlalchemy import select

from handwriting.datasets import load_mnist, pendigits_path, read_corrections, split_by_client
from model.classifier import DigitClassifier
from model.loader import (
    ARCHITECTURE_FILE,
    LITERT_FILE,
    METADATA_FILE,
    WEIGHTS_FILE,
    model_files_sha256,
    read_metadata,
)
from web.database import ModelFile, ModelPromotion, ModelVersion, db, utc_now


class RegistryError(Exception):
    """What the registry refuses to do, and why, for people (the CLI and the admin page)."""


MODEL_FILES = (ARCHITECTURE_FILE, WEIGHTS_FILE, LITERT_FILE, METADATA_FILE)
# A version becomes a folder name (instance/model-versions/VERSION): one path component, no
# dots alone, nothing a shell or a URL must quote.
VERSION_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def checked_version(version):
    """The version name, if it is safe as a folder name; else RegistryError."""
    if not isinstance(version, str) or not VERSION_NAME.fullmatch(version) or ".." in version:
        raise RegistryError(
            f"Version name {str(version)[:80]!r} is refused: a version is 1-64 letters, digits, '.', "
            "'_' or '-', starting with a letter or digit, without '..'."
        )
    return version


def checked_file_name(name):
    if name not in MODEL_FILES:
        raise RegistryError(f"File name {str(name)[:80]!r} is refused: a version's files are {', '.join(MODEL_FILES)}.")
    return name


EVALUATION_SETS = ("mnist_test", "validation_writers", "held_out_corrections")


# A version's figures must match what its training recorded to this many percentage points.
RECORDED_TOLERANCE_POINTS = 0.1


def served_version():
    """The version the registry says is served, or None while it is empty."""
    return db.session.execute(
        select(ModelPromotion.version).order_by(ModelPromotion.id.desc()).limit(1)
    ).scalar()


def version_folder(app, version):
    """The version's files, written from the database once, into the instance folder."""
    # Checked here too: the name and the file names come from the database.
    folder = Path(app.instance_path) / "model-versions" / checked_version(version)
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
        (staging / checked_file_name(file.name)).write_bytes(file.content)
    try:
        staging.rename(folder)
    except OSError:  # Another worker was first.
        shutil.rmtree(staging, ignore_errors=True)
    return folder


class EvaluationSets:
    """The images and labels each version is measured on, read once per command."""

    def __init__(self):
        self._sets = {}

    def get(self, name):
        if name not in self._sets:
            self._sets[name] = getattr(self, f"_{name}")()
        return self._sets[name]

    # The data sets as training reads them: MNIST_PATH and PENDIGITS_PATH, else downloaded.
    def _mnist_test(self):
        _, test, _ = load_mnist()
        return test

    def _validation_writers(self):
        # Imported here: drawing the pen strokes needs Skia, which only these commands need.
        from handwriting.pendigits import read_pendigits, split_by_writer, validation_drawings

        _, validation = split_by_writer(read_pendigits(pendigits_path()))
        images, labels, _ = validation_drawings(validation)
        return images, labels

    def _held_out_corrections(self):
        # The clients train_mnist.py --corrections never trains on, from this database.
        _, held_out = split_by_client(*read_corrections(db.engine))
        return held_out


def measure(classifier, sets):
    """{set: {"accuracy", "images"}} for the classifier's network as the server runs it (LiteRT),
    without test-time augmentation of unsure images: that is the server's, the same for every version,
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
        raise RegistryError(f"{folder} does not load: {classifier.load_error}")
    return classifier


def describe_figures(figures):
    return ", ".join(
        f"{name.replace('_', ' ')} {figure['accuracy']:.2%} ({figure['images']:,})"
        if figure["accuracy"] is not None else f"{name.replace('_', ' ')} none yet"
        for name, figure in figures.items()
    )


def add_version(folder, sets, report=print):
    """Check a model folder and register it; its ModelVersion row. `report` is told what was
    not compared."""
    folder = Path(folder)
    missing = [name for name in MODEL_FILES if not (folder / name).is_file()]
    if missing:
        raise RegistryError(f"{folder} lacks {', '.join(missing)}.")
    metadata = read_metadata(folder)
    version = metadata.get("version")
    if not version:
        raise RegistryError(f"{folder}/{METADATA_FILE} names no version.")
    checked_version(version)
    if db.session.get(ModelVersion, version):
        raise RegistryError(f"Version {version} is in the registry already.")
    recorded_hash = metadata.get("model_files_sha256")
    actual_hash = model_files_sha256(folder)
    if recorded_hash != actual_hash:
        raise RegistryError(
            f"The files of {folder} do not match their hash in {METADATA_FILE} "
            f"({actual_hash[:12]} against {str(recorded_hash)[:12]} recorded): they are not the files trained together."
        )
    figures = measure(load_classifier(folder), sets)
    for name in ("mnist_test", "validation_writers"):
        recorded = metadata.get("evaluation", {}).get(name, {})
        if recorded.get("images") != figures[name]["images"]:
            report(f"  {name}: recorded on {recorded.get('images')} images, not these {figures[name]['images']:,}; "
                   "not compared")
            continue
        gap = abs(recorded["accuracy"] - figures[name]["accuracy"]) * 100
        if gap > RECORDED_TOLERANCE_POINTS:
            raise RegistryError(
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


def ensure_initial_version(committed_folder, sets):
    """The served version's name. While the registry has none, the committed model (served until
    now) becomes the first version."""
    serving = served_version()
    if serving is not None:
        return serving
    serving = read_metadata(committed_folder)["version"]
    if db.session.get(ModelVersion, serving) is None:
        add_version(committed_folder, sets)
    promotion_log(serving, "initial", None)
    return serving


def promote(version, committed_folder, tolerance_points, force=False, sets=None):
    """Serve `version` if it passes the gate: it may read worse than the served version on no
    evaluation set by more than `tolerance_points` (unless forced). (the version it replaces,
    the sets it reads worse on) once promoted; RegistryError, with nothing changed, if refused."""
    candidate = db.session.get(ModelVersion, version)
    if candidate is None:
        raise RegistryError(f"No version {version} in the registry: `models add DIR` first.")
    # The evaluation sets the caller read already, where it did (reading them takes seconds).
    serving = ensure_initial_version(committed_folder, sets or EvaluationSets())
    if serving == version:
        raise RegistryError(f"{version} is served already.")
    worse = worse_sets(json.loads(candidate.evaluation), json.loads(db.session.get(ModelVersion, serving).evaluation),
                       tolerance_points)
    if worse and not force:
        raise RegistryError(
            f"{version} reads worse than the served {serving} by more than {tolerance_points:g} points on "
            + "; ".join(worse) + ". Nothing changed (--force to promote it anyway)."
        )
    promotion_log(version, "promote", serving, forced=bool(worse))
    return serving, worse


def rollback():
    """Serve again the version served before the current one was promoted; (now, before)."""
    serving = served_version()
    introduced = db.session.execute(
        select(ModelPromotion).where(ModelPromotion.version == serving, ModelPromotion.action != "rollback")
        .order_by(ModelPromotion.id.desc()).limit(1)
    ).scalar()
    if introduced is None or introduced.previous is None:
        raise RegistryError("Nothing to roll back to: no version was served before this one.")
    promotion_log(introduced.previous, "rollback", serving)
    return introduced.previous, serving
