"""DELETE /api/writer: forget my handwriting. The writer's corrections (their examples) are
deleted, and the cookie that named them is dropped; their next answer is an anonymous one."""

from flask import Blueprint, jsonify
from sqlalchemy.exc import SQLAlchemyError

from web.cross_site import same_site_only
from web.database import DatabaseUnavailable, db, short
from web.writer_examples import forget
from web.writers import drop_writer_cookie, request_writer

forget_me = Blueprint("forget_me", __name__)


@forget_me.delete("/api/writer")
@same_site_only
def forget_writer():
    writer = request_writer()
    deleted = 0
    if writer is not None:
        try:
            deleted = forget(writer)
        except SQLAlchemyError as error:
            db.session.rollback()
            raise DatabaseUnavailable(
                f"Your handwriting could not be forgotten now ({short(error)}); nothing was deleted. "
                "Please try again in a minute."
            ) from error
    return drop_writer_cookie(jsonify({"forgotten": writer is not None, "corrections_deleted": deleted}))
