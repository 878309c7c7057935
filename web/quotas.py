"""The daily quota of corrections (DIGITPAD_CORRECTIONS_QUOTA), per client address and per
writer, counted by Flask-Limiter like the rate limits, so that a shared storage (Redis) shares
it between workers and servers. Only a correction that added a row counts (a 201); past the
quota a correction is answered 429 and nothing is stored. Empty turns it off."""

from flask import current_app

from web.writers import request_writer


def corrections_quota():
    """The quota as Flask-Limiter reads it ("500 per day"), or "" (no quota)."""
    quota = current_app.config["CORRECTIONS_QUOTA"]
    return f"{int(quota)} per day" if quota.strip() else ""


def over_quota_message():
    quota = int(current_app.config["CORRECTIONS_QUOTA"])
    return (
        f"The quota of {quota:,} corrections a day is used up (from this address, or by this writer), "
        "so this one was not kept. Predictions still work; corrections are taken again tomorrow."
    )


def writer_key():
    """The writer's limit key: their writer id (the hash of their token), never the token."""
    return f"writer:{request_writer() or ''}"


def writer_less():
    """Whether the request names no writer (the per-writer quota does not apply)."""
    return request_writer() is None


def stored_a_new_row(response):
    return response.status_code == 201
