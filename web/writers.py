"""The anonymous writer identity: a random token the server issues in a cookie.

No login and no personal data: the token is 32 random bytes, sent back by the browser with the
page's own requests (HttpOnly, SameSite=Lax, Secure over HTTPS) and by API clients that keep
cookies. The database never sees the token itself, only its SHA-256 (`writer_id`): a copy of
the database cannot be used to act as a writer. Without a token every answer is as before.
"""

import hashlib
import re
import secrets

from flask import request

WRITER_COOKIE = "digitpad_writer"
# A year: a person keeps their examples between visits until they ask to be forgotten.
COOKIE_MAX_AGE_SECONDS = 365 * 24 * 3600
TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")  # secrets.token_urlsafe(32)


def writer_id(token):
    """What the database keeps of a writer's token."""
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def request_token():
    """The writer token the request carries, or None (a malformed one is ignored)."""
    token = request.cookies.get(WRITER_COOKIE)
    return token if token and TOKEN.match(token) else None


def request_writer():
    """The writer id of the request's token, or None for an anonymous request."""
    token = request_token()
    return writer_id(token) if token else None


def new_token():
    return secrets.token_urlsafe(32)


def set_writer_cookie(response, token):
    response.set_cookie(
        WRITER_COOKIE, token, max_age=COOKIE_MAX_AGE_SECONDS, httponly=True, samesite="Lax",
        secure=request.is_secure, path="/",
    )
    return response


def drop_writer_cookie(response):
    response.delete_cookie(WRITER_COOKIE, path="/", httponly=True, samesite="Lax", secure=request.is_secure)
    return response
