"""`flask --app app models retrain` end to end on a small data set (--limit), on SQLite and on
PostgreSQL: the label check quarantines planted flipped labels, the result is promoted when it
is better and refused when it is worse, with exit status 0 both times."""

import hashlib
import json

import numpy as np
import pytest
from sqlalchemy import func, select

from handwriting.datasets import held_out
from handwriting.pendigits import draw, random_drawing, read_pendigits, split_by_writer
from handwriting.render import encode
from harness.apps import migrated_app
from model.preprocessing import preprocess
from web.database import Correction, ModelPromotion, Writer, db, utc_now

pytestmark = pytest.mark.slow


@pytest.fixture
def registry(classifier, database_url, mnist_path, pendigits_file, monkeypatch):
    monkeypatch.setenv("MNIST_PATH", str(mnist_path))
    monkeypatch.setenv("PENDIGITS_PATH", str(pendigits_file))
    application = migrated_app({"CLASSIFIER": classifier, "SQLALCHEMY_DATABASE_URI": database_url})
    runner = application.test_cli_runner()

    def flask(*arguments):
        result = runner.invoke(args=list(map(str, arguments)))
        assert result.exit_code == 0, result.output + repr(result.exception)
        return result.output

    yield application, flask
    with application.app_context():
        db.engine.dispose()


def client_hash(name):
    """A client hash as the server keeps it (hex), for a name, of a client not held out for the
    gate (its corrections are trained on)."""
    for attempt in range(100):
        hashed = hashlib.sha256(f"{name}-{attempt}".encode()).hexdigest()[:32]
        if not held_out(hashed):
            return hashed


def corrections(pendigits_file, honest=40, poisoned=150):
    """Honest corrections of training writers' digits (ten writers, right labels) and sevens
    labelled 1 by 30 attacker tokens: (model input, label, kind, writer, client) each."""
    training, _ = split_by_writer(read_pendigits(pendigits_file))
    rng = np.random.default_rng(0)
    rows = []
    for index, digit in enumerate(training[:: len(training) // honest][:honest]):
        image = preprocess(encode(draw(digit, random_drawing(rng))))
        rows.append((image, digit.label, "right", f"honest-{index % 10}", client_hash(f"address-{index % 10}")))
    sevens = [digit for digit in training if digit.label == 7][:poisoned]
    for index, digit in enumerate(sevens):
        image = preprocess(encode(draw(digit, random_drawing(rng))))
        rows.append((image, 1, "wrong", f"attacker-{index % 30}", client_hash("attacker-address")))
    return rows


def store(application, rows):
    now = utc_now()
    with application.app_context():
        for index, (image, label, kind, writer, client) in enumerate(rows):
            db.session.add(Correction(
                created_at=now, label=label, kind=kind, predicted=label, confidence=0.9, model_version="test",
                model_input=image.tobytes(), drawing=b"", drawing_sha256=f"{index:064x}", client=client,
                writer=writer, status="unchecked",
            ))
        for writer in {row[3] for row in rows}:
            db.session.add(Writer(id=writer, revision=1, created_at=now, updated_at=now))
        db.session.commit()


def statuses(application):
    with application.app_context():
        return dict(db.session.execute(select(Correction.writer, Correction.status)).all()), \
            dict(db.session.execute(select(Correction.status, func.count()).group_by(Correction.status)).all())


def test_retrain_quarantines_flipped_labels_promotes_when_better_and_refuses_when_worse(
        registry, pendigits_file, tmp_path):
    application, flask = registry
    # A gate of one point first: a short fine-tune of the committed model on a few thousand
    # images keeps within it.
    application.config["PROMOTE_TOLERANCE"] = 1.0
    store(application, corrections(pendigits_file))

    dry = flask("models", "retrain", "--dry-run", "--limit", "1500", "--out", tmp_path)
    assert "150 quarantined" in dry and "Dry run: nothing changed." in dry
    assert statuses(application)[1] == {"unchecked": 190}  # A dry run changes nothing.

    better = flask("models", "retrain", "--limit", "1500", "--epochs", "1", "--out", tmp_path)
    for step in range(1, 7):
        assert f"[{step}/6]" in better
    owners, counts = statuses(application)
    assert counts == {"trusted": 40, "quarantined": 150}
    assert all(status == "quarantined" for writer, status in owners.items() if writer.startswith("attacker"))
    assert "Promoted" in better
    with application.app_context():
        promoted = db.session.scalar(select(ModelPromotion.version).order_by(ModelPromotion.id.desc()).limit(1))
    assert promoted.endswith("-retrain")
    listed = json.loads(flask("models", "list", "--json"))
    assert listed["served"] == promoted and len(listed["versions"]) == 2  # the committed model, then this
    stats = json.loads(flask("corrections", "stats", "--json"))
    assert stats["by_status"] == {"quarantined": 150, "trusted": 40} and stats["total"] == 190

    # The flipped labels trained on as they came, and weighed heavily in a short run (the weights'
    # moving average keeps most of the served network's in a few steps): the 7s of the
    # validation writers read worse, and a gate that lets nothing read worse refuses it.
    application.config["PROMOTE_TOLERANCE"] = 0.0
    application.config["RETRAIN_CORRECTIONS_WEIGHT"] = 40
    worse = flask("models", "retrain", "--limit", "1500", "--epochs", "3", "--no-filter", "--out", tmp_path)
    assert "Not promoted:" in worse and "reads worse than the served" in worse, worse
    with application.app_context():
        still = db.session.scalar(select(ModelPromotion.version).order_by(ModelPromotion.id.desc()).limit(1))
    assert still == promoted
