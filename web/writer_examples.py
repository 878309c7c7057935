"""Each writer's examples, kept in the database and cached by each worker.

A writer's examples are their corrections, "wrong" and "right" alike: the newest MOST_EXAMPLES
of them, as the network's 28x28 inputs, turned into the served network's features when a worker
first needs them. Every change of a writer's corrections (a new one, a replaced label, forget
me) raises their revision in the `writers` table; a worker reads that revision (one primary-key
lookup) on each of the writer's predictions and reloads the examples when it moved, so a
correction made through any worker or server counts on the writer's very next prediction
everywhere. A worker keeps the examples of at most CACHED_WRITERS writers, the most recently
used. Predictions never fail for the database: where it cannot be read, the writer is answered
as an anonymous client is.
"""

import logging
import threading
from collections import OrderedDict

import numpy as np
from flask import current_app
from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.exc import SQLAlchemyError

from model.preprocessing import MNIST_SIZE
from model.writer_examples import MOST_EXAMPLES, WriterExamples
from web.corrections_usage import delete_corrections
from web.database import Correction, Writer, db, utc_now

log = logging.getLogger("digitpad")

CACHED_WRITERS = 2_000


class ExamplesCache:
    """{(writer id, model version): (revision, WriterExamples)}, least recently used dropped."""

    def __init__(self, size=CACHED_WRITERS):
        self.size = size
        self._entries = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key, revision):
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] != revision:
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def put(self, key, revision, examples):
        with self._lock:
            self._entries[key] = (revision, examples)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)


def examples_cache():
    return current_app.extensions.setdefault("digitpad.writer_examples", ExamplesCache())


def examples_for(writer, classifier):
    """The writer's examples for this classifier's network (empty when they have none), or None
    where the database cannot be read now."""
    try:
        revision = revision_of(writer)
        if revision is None:
            return WriterExamples.none()
        key = (writer, classifier.version)
        examples = examples_cache().get(key, revision)
        if examples is None:
            examples = load_examples(writer, classifier)
            examples_cache().put(key, revision, examples)
        return examples
    except SQLAlchemyError as error:
        db.session.rollback()
        log.warning("A writer's examples could not be read: %s", error)
        return None


# Through a Core connection, not the ORM session: it is read on every prediction of a writer,
# and the session's bookkeeping cost three times the query (0.35 against 0.1 ms, measured by
# bench/personal_accuracy.py's cost line).
REVISION = select(Writer.revision).where(Writer.id == bindparam("writer"))


def revision_of(writer):
    """The writer's revision, or None while they have no examples."""
    with db.engine.connect() as connection:
        return connection.execute(REVISION, {"writer": writer}).scalar()


def load_examples(writer, classifier):
    rows = db.session.execute(
        select(Correction.model_input, Correction.label).where(Correction.writer == writer)
        .order_by(Correction.id.desc()).limit(MOST_EXAMPLES)
    ).all()
    if not rows:
        return WriterExamples.none()
    digits = np.stack([np.frombuffer(model_input, np.uint8).reshape(MNIST_SIZE, MNIST_SIZE) for model_input, _ in rows])
    features = classifier.features_of(digits)
    if features is None:  # A runtime without features (Keras): no examples.
        return WriterExamples.none()
    return WriterExamples.of(features, [label for _, label in rows])


def examples_changed(writer):
    """Raise the writer's revision (in the caller's transaction), making their row if new."""
    now = utc_now()
    raised = db.session.execute(
        update(Writer).where(Writer.id == writer).values(revision=Writer.revision + 1, updated_at=now)
    )
    if raised.rowcount == 0:
        db.session.add(Writer(id=writer, revision=1, created_at=now, updated_at=now))


def forget(writer):
    """Delete the writer's corrections and their row; the number of corrections deleted."""
    # Taken off the running total of what corrections take, in the same transaction.
    deleted = delete_corrections(Correction.writer == writer)
    db.session.execute(delete(Writer).where(Writer.id == writer))
    db.session.commit()
    return deleted
