"""Cross-site browser requests refused on the routes that change what is kept.

A page on another site can make a visitor's browser POST a form here (no CORS preflight is
needed for a multipart form), with the visitor's cookies. `@same_site_only` refuses such a
request with a 403 before the route runs. The browser says where a request comes from:

- `Sec-Fetch-Site` (every current browser): `same-origin` (this server's own page) and `none`
  (typed by the person, a bookmark) are allowed; `same-site` (another subdomain) and
  `cross-site` are refused;
- else `Origin` (older browsers): allowed when it is this server's own origin;
- neither header: not a browser (curl, a script, the tests), allowed: it has no visitor's
  cookies to abuse.

Origins listed in DIGITPAD_CORS_ORIGINS are other sites allowed to call the API, so they are
allowed here too.
"""

from functools import wraps

from flask import current_app, request

from web.errors import error_response

ALLOWED_FETCH_SITES = ("same-origin", "none")


def allowed_origins():
    listed = current_app.config.get("CORS_ORIGINS") or ""
    return {origin.strip().rstrip("/").lower() for origin in listed.split(",") if origin.strip()}


def own_origin():
    # request.host_url follows X-Forwarded-Proto and Host behind DIGITPAD_TRUSTED_PROXIES.
    return request.host_url.rstrip("/").lower()


def refusal():
    """Why this request is refused as cross-site, or None when it is allowed."""
    site = request.headers.get("Sec-Fetch-Site")
    origin = request.headers.get("Origin")
    if origin is not None:
        origin = origin.strip().rstrip("/").lower()
        listed = allowed_origins()
        if origin in listed or "*" in listed:
            return None
    if site is not None:
        if site.strip().lower() in ALLOWED_FETCH_SITES:
            return None
        sender = f"Sec-Fetch-Site: {site[:40]}" + (f", Origin: {origin[:100]}" if origin else "")
        return (
            f"Cross-site requests are refused here ({sender}): a page on another "
            "site cannot send corrections or delete data in a visitor's name. Use digitpad's own page, "
            "or call the API from outside a browser."
        )
    if origin is None or origin == own_origin():
        return None
    return (
        f"Cross-site requests are refused here (Origin: {origin[:100]} is not {own_origin()}): a page on "
        "another site cannot send corrections or delete data in a visitor's name. Use digitpad's own "
        "page, or call the API from outside a browser."
    )


def same_site_only(view):
    """Refuse the route to cross-site browser requests with a 403 (see the module's text)."""

    @wraps(view)
    def checked(*args, **kwargs):
        reason = refusal()
        if reason is not None:
            return error_response(403, reason)
        return view(*args, **kwargs)

    return checked
