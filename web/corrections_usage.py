"""What the corrections take, kept as a running total, and the storage caps checked against it.

DIGITPAD_CORRECTIONS_MAX_ROWS and DIGITPAD_CORRECTIONS_MAX_BYTES (the stored drawings, model
inputs and strokes) are checked on every new correction. Counting them there (COUNT(*), SUM(LENGTH(...)))
would read the whole table, or an index of every row, for each correction: on a million rows
tens of milliseconds on SQLite and a sequential scan on PostgreSQL, growing with the table. So
one row (`corrections_usage`, id 1) keeps both totals, changed in the transaction that stores
or deletes corrections: a correction's check is a single conditional UPDATE of that row, as
cheap on a million rows as on ten, and a rollback undoes it with the insert. The UPDATE is the
check: two corrections arriving together cannot both take the last place (on PostgreSQL the
row's lock makes them take turns between the update and the commit, a moment).

Whatever deletes corrections goes through `delete_corrections`, which takes what it deleted
off the totals in the same transaction.
"""

from sqlalchemy import delete, func, select, update

from web.database import Correction, CorrectionsUsage, db

USAGE_ROW = 1


class StorageFull(Exception):
    """The corrections store is at a cap; the message says which, for people."""


def stored_bytes(drawing, model_input, strokes=None):
    """What a correction counts towards DIGITPAD_CORRECTIONS_MAX_BYTES: its drawing, its model
    input and its strokes' text (ASCII: a character is a byte), as KEPT_SIZE counts a row."""
    return len(drawing) + len(model_input) + len(strokes or "")


# What a kept row counts, in SQL (LENGTH of a text is its characters, here its bytes).
KEPT_SIZE = (func.length(Correction.drawing) + func.length(Correction.model_input)
             + func.coalesce(func.length(Correction.strokes), 0))


def reserve(size, max_rows, max_bytes):
    """Count one more correction of `size` bytes in the current transaction, or StorageFull
    (nothing counted) when it would pass a cap (None: no cap)."""
    statement = update(CorrectionsUsage).where(CorrectionsUsage.id == USAGE_ROW)
    if max_rows is not None:
        statement = statement.where(CorrectionsUsage.stored_rows < max_rows)
    if max_bytes is not None:
        statement = statement.where(CorrectionsUsage.stored_bytes + size <= max_bytes)
    statement = statement.values(
        stored_rows=CorrectionsUsage.stored_rows + 1, stored_bytes=CorrectionsUsage.stored_bytes + size
    ).execution_options(synchronize_session=False)
    if db.session.execute(statement).rowcount == 1:
        return
    usage = db.session.get(CorrectionsUsage, USAGE_ROW)
    if usage is None:
        # The row is gone (deleted by hand): counted again once, then checked as usual.
        db.session.add(recounted())
        db.session.flush()
        return reserve(size, max_rows, max_bytes)
    if max_rows is not None and usage.stored_rows >= max_rows:
        raise StorageFull(
            f"The corrections store is full ({max_rows:,} drawings), so this one was not kept. "
            "Predictions still work."
        )
    raise StorageFull(
        f"The corrections store is full ({usage.stored_bytes:,} of {max_bytes:,} bytes), so this one "
        "was not kept. Predictions still work."
    )


def recounted():
    """The usage row counted from the table (a full scan: only where the row is missing)."""
    rows, total = db.session.execute(
        select(func.count(Correction.id), func.coalesce(func.sum(KEPT_SIZE), 0))
    ).one()
    return CorrectionsUsage(id=USAGE_ROW, stored_rows=rows, stored_bytes=total)


def delete_corrections(condition):
    """Delete the corrections matching `condition` and take them off the totals, in the current
    transaction (the caller commits); how many were deleted."""
    deleted = db.session.execute(
        delete(Correction).where(condition)
        .returning(KEPT_SIZE)
        .execution_options(synchronize_session=False)
    )
    count = total = 0
    for (size,) in deleted:
        count, total = count + 1, total + size
    if count:
        db.session.execute(
            update(CorrectionsUsage).where(CorrectionsUsage.id == USAGE_ROW)
            .values(stored_rows=CorrectionsUsage.stored_rows - count, stored_bytes=CorrectionsUsage.stored_bytes - total)
            .execution_options(synchronize_session=False)
        )
    return count


def usage():
    """(rows, bytes) kept, from the running total."""
    row = db.session.get(CorrectionsUsage, USAGE_ROW)
    return (row.stored_rows, row.stored_bytes) if row else (0, 0)
