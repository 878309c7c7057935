"""Per-client rate limits (Flask-Limiter), set per route from the app's config."""

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

# Keyed by the client's address (the proxy's X-Forwarded-For with DIGITPAD_TRUSTED_PROXIES),
# held in memory or in DIGITPAD_RATE_LIMIT_STORAGE, never in the database.
limiter = Limiter(key_func=get_remote_address)
