"""GET /api/models: the registry's versions, their figures, and which one is served.

The registry itself is web/model_registry.py, its commands web/model_cli.py, and the thread that
follows it while serving web/model_watcher.py.
"""

import json

from flask import Blueprint, jsonify
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from web.database import DatabaseUnavailable, ModelVersion, db, short
from web.model_registry import served_version
from web.model_watcher import served_model

model_versions = Blueprint("model_versions", __name__)


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
