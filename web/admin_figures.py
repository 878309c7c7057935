"""What the review page (web/admin.py) shows, read from the database: the quarantine a page at
a time, the corrections' confusion matrix drawn as SVG cells, corrections per writer, and the
model registry's versions and log. Drawings and model inputs are never read here but one by
one, for a thumbnail."""

import json
from dataclasses import dataclass

from sqlalchemy import case, func, select

from web.database import Correction, ModelPromotion, ModelVersion, db
from web.model_registry import EVALUATION_SETS

PAGE_SIZE = 50
TOP_WRITERS = 50
LATEST_PROMOTIONS = 50
SHORT = 12  # Characters of a writer id or a client hash shown.
DIGITS = range(10)

# The confusion matrix's picture: cells of CELL pixels after a MARGIN for the digits.
CELL = 40
MARGIN = 44


@dataclass(frozen=True)
class QuarantinedRow:
    id: int
    created_at: object
    label: int
    kind: str
    predicted: int
    confidence: float
    model_version: str
    writer: str | None
    client: str

    @property
    def writer_short(self):
        return self.writer[:SHORT] if self.writer else "none"

    @property
    def client_short(self):
        return self.client[:SHORT]


def quarantine_page(page):
    """(the page's quarantined corrections, oldest first; how many are quarantined)."""
    columns = (Correction.id, Correction.created_at, Correction.label, Correction.kind, Correction.predicted,
               Correction.confidence, Correction.model_version, Correction.writer, Correction.client)
    quarantined = Correction.status == "quarantined"
    rows = db.session.execute(
        select(*columns).where(quarantined).order_by(Correction.id).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)
    ).all()
    total = db.session.scalar(select(func.count(Correction.id)).where(quarantined))
    return [QuarantinedRow(*row) for row in rows], total


# ---------------------------------------------------------------------------------------------
# The confusion matrix
# ---------------------------------------------------------------------------------------------


def confusion_counts(trusted_only):
    """counts[predicted][label] over every correction, or the trusted ones only."""
    counts = [[0] * 10 for _ in DIGITS]
    query = select(Correction.predicted, Correction.label, func.count()).group_by(
        Correction.predicted, Correction.label)
    if trusted_only:
        query = query.where(Correction.status == "trusted")
    for predicted, label, count in db.session.execute(query):
        counts[predicted][label] = count
    return counts


def shade(count, peak, diagonal):
    """A cell's fill: white for none, deeper with the count; agreements green, misreadings red."""
    if count == 0 or peak == 0:
        return "#ffffff", "#8a93a3"
    depth = 0.15 + 0.85 * (count / peak) ** 0.5
    deep = (29, 107, 58) if diagonal else (179, 38, 30)
    red, green, blue = (round(255 + (channel - 255) * depth) for channel in deep)
    return f"#{red:02x}{green:02x}{blue:02x}", "#ffffff" if depth > 0.55 else "#1b2333"


def confusion_picture(trusted_only):
    """The matrix as an SVG's cells and axis labels (presentation attributes only: the page's
    CSP allows no style attributes): rows are the model's reading, columns the label given."""
    counts = confusion_counts(trusted_only)
    total = sum(map(sum, counts))
    agreed = sum(counts[digit][digit] for digit in DIGITS)
    # The diagonal is most of a healthy matrix: misreadings are shaded against their own peak.
    peaks = (max((counts[d][d] for d in DIGITS), default=0),
             max((counts[p][t] for p in DIGITS for t in DIGITS if p != t), default=0))
    cells = []
    for predicted in DIGITS:
        for label in DIGITS:
            count, diagonal = counts[predicted][label], predicted == label
            fill, ink = shade(count, peaks[0] if diagonal else peaks[1], diagonal)
            cells.append({"x": MARGIN + label * CELL, "y": MARGIN + predicted * CELL, "fill": fill, "ink": ink,
                          "count": count, "predicted": predicted, "label": label})
    return {
        "cells": cells, "total": total, "agreed": agreed, "cell": CELL, "margin": MARGIN,
        "size": MARGIN + 10 * CELL + 4, "axis": [MARGIN + digit * CELL + CELL // 2 for digit in DIGITS],
    }


# ---------------------------------------------------------------------------------------------
# Writers
# ---------------------------------------------------------------------------------------------


def writers_table():
    """(the TOP_WRITERS writers with the most corrections, with how many are quarantined and
    their share of all corrections; how many corrections there are). Corrections without a
    writer cookie are one row, writer None."""
    total = db.session.scalar(select(func.count(Correction.id))) or 0
    count = func.count(Correction.id)
    quarantined = func.sum(case((Correction.status == "quarantined", 1), else_=0))
    rows = db.session.execute(
        select(Correction.writer, count, quarantined).group_by(Correction.writer)
        .order_by(count.desc(), Correction.writer).limit(TOP_WRITERS)
    ).all()
    return [
        {"writer": writer[:SHORT] if writer else None, "full": writer, "count": number,
         "quarantined": int(held or 0), "share": number / total if total else 0.0}
        for writer, number, held in rows
    ], total


# ---------------------------------------------------------------------------------------------
# The model registry
# ---------------------------------------------------------------------------------------------


def model_versions():
    """Every version, newest first, with its figures on each evaluation set."""
    rows = db.session.execute(select(ModelVersion).order_by(ModelVersion.added_at.desc())).scalars().all()
    versions = []
    for row in rows:
        figures = json.loads(row.evaluation)
        versions.append({
            "version": row.version, "added_at": row.added_at,
            "figures": [(name.replace("_", " "), figures.get(name, {})) for name in EVALUATION_SETS],
        })
    return versions


def promotions():
    """The registry's log, newest first: what was served when, and whether the gate was forced."""
    return db.session.execute(
        select(ModelPromotion).order_by(ModelPromotion.id.desc()).limit(LATEST_PROMOTIONS)
    ).scalars().all()
