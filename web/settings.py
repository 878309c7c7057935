"""Every setting of the app, its default and its meaning: the one place each is defined.

Settings come from the environment, under the DIGITPAD_ prefix (DATABASE_URL keeps the name
Heroku gives it), and are read when the app is created, not when this module is imported.
Unset means the default; so does an empty value for a number. An empty rate limit or quota
turns it off. A value that is not of the setting's type stops the app at start with a message
that names it. docs/configuration.md is this table (`python -m web.settings` prints it).
"""

import os
from dataclasses import dataclass

from model.classifier import MAX_BATCH_SIZE, UNSURE_BELOW
from model.loader import DEFAULT_MODEL_DIR
from model.preprocessing import MAX_IMAGE_PIXELS, MAX_IMAGE_SIDE
from model.test_time_augmentation import TTA_BELOW


class Quota(str):
    """A whole number of requests a day, as text; empty turns the quota off."""

    def __new__(cls, raw):
        raw = raw.strip()
        if raw and not (raw.isascii() and raw.isdigit()):
            raise ValueError(f"{raw!r} is not a whole number")
        return super().__new__(cls, raw)


@dataclass(frozen=True)
class Setting:
    key: str  # in app.config
    environment: str  # the variable it is read from
    default: object
    kind: type  # str, int, float or Quota (text: empty is a value, not the default)
    meaning: str


SETTINGS = (
    Setting("MODEL_DIR", "DIGITPAD_MODEL_DIR", str(DEFAULT_MODEL_DIR), str,
            "The model folder served while the registry is empty."),
    Setting("MAX_CONTENT_LENGTH", "DIGITPAD_MAX_BODY_BYTES", 2_000_000, int,
            "The largest request body, in bytes (a batch has its own, below)."),
    Setting("MAX_IMAGE_SIDE", "DIGITPAD_MAX_IMAGE_SIDE", MAX_IMAGE_SIDE, int,
            "The longest side of an image that is decoded, in pixels."),
    Setting("MAX_IMAGE_PIXELS", "DIGITPAD_MAX_IMAGE_PIXELS", MAX_IMAGE_PIXELS, int,
            "The most pixels of an image that is decoded."),
    Setting("MAX_JSON_DEPTH", "DIGITPAD_MAX_JSON_DEPTH", 8, int,
            "The deepest nesting of a JSON body, checked before it is parsed."),
    # The strokes a drawing was made with, sent beside its image (web/stroke_input.py). A number
    # of 12 digits takes some 36 strokes; a pen's pointer events come up to 240 a second, so 15
    # seconds of writing is about 3,600 points (the page thins them past the limit).
    Setting("STROKES_MAX_STROKES", "DIGITPAD_STROKES_MAX_STROKES", 100, int,
            "The most strokes sent with one drawing."),
    Setting("STROKES_MAX_POINTS", "DIGITPAD_STROKES_MAX_POINTS", 5_000, int,
            "The most points of a drawing's strokes, all strokes together."),
    Setting("STROKES_MAX_OUTSIDE", "DIGITPAD_STROKES_MAX_OUTSIDE", 0.5, float,
            "How far outside the image a stroke's point may lie, in the image's widths and heights "
            "(the pen may leave the pad while drawing)."),
    Setting("STROKES_MAX_SECONDS", "DIGITPAD_STROKES_MAX_SECONDS", 600.0, float,
            "The latest time of a stroke's point, in seconds after the drawing's first point."),
    Setting("UNSURE_BELOW", "DIGITPAD_UNSURE_BELOW", UNSURE_BELOW, float,
            "Below this confidence an answer says it is unsure."),
    Setting("TTA_BELOW", "DIGITPAD_TTA_BELOW", TTA_BELOW, float,
            "Below this confidence an image is read again turned and scaled, and the readings "
            "averaged (test-time augmentation; 0: never)."),
    Setting("MODEL_WAIT_SECONDS", "DIGITPAD_MODEL_WAIT_SECONDS", 20.0, float,
            "How long a request waits for a model that is still loading before a 503."),
    Setting("MODEL_POLL_SECONDS", "DIGITPAD_MODEL_POLL_SECONDS", 1.0, float,
            "How often each worker asks the registry which version is served (0: never; the "
            "committed model is served)."),
    Setting("RETRAIN_MAX_SHARE", "DIGITPAD_RETRAIN_MAX_SHARE", 0.2, float,
            "`models retrain`: no writer and no address supplies more than this share of the corrections trained on."),
    Setting("RETRAIN_CORRECTIONS_WEIGHT", "DIGITPAD_RETRAIN_CORRECTIONS_WEIGHT", 5, int,
            "`models retrain`: how many times each correction is trained on an epoch."),
    Setting("PROMOTE_TOLERANCE", "DIGITPAD_PROMOTE_TOLERANCE", 0.2, float,
            "The gate: a version may read worse than the served one on no evaluation set by more "
            "than this many percentage points."),
    Setting("RUNTIME", "DIGITPAD_RUNTIME", "auto", str,
            "auto (LiteRT, and Keras on a GPU for large batches where it is faster), litert or keras."),
    Setting("INFERENCE_THREADS", "DIGITPAD_INFERENCE_THREADS", 1, int,
            "LiteRT threads for lone images and small batches."),
    Setting("NUMBER_INFERENCE_THREADS", "DIGITPAD_NUMBER_INFERENCE_THREADS", None, int,
            "LiteRT threads for a number's candidate digits (unset: two where the worker may use two cores)."),
    Setting("BATCH_MAX_SIZE", "DIGITPAD_BATCH_MAX_SIZE", MAX_BATCH_SIZE, int,
            "The most images of concurrent requests run together in one call of the network."),
    Setting("BATCH_MAX_WAIT_MS", "DIGITPAD_BATCH_MAX_WAIT_MS", 2.0, float,
            "How long a batch being gathered waits for requests already on their way."),
    Setting("BATCH_MAX_IMAGES", "DIGITPAD_BATCH_MAX_IMAGES", 1000, int,
            "The most images of one POST /predict/batch."),
    Setting("BATCH_IMAGE_BYTES", "DIGITPAD_BATCH_IMAGE_BYTES", 50_000, int,
            "A batch's body allowance for each image (the body limit is this times the images)."),
    Setting("BATCH_RATE_LIMIT", "DIGITPAD_BATCH_RATE_LIMIT", "30 per minute", str,
            "POST /predict/batch requests a client may send (empty: no limit)."),
    Setting("GPU_BATCH_FROM", "DIGITPAD_GPU_BATCH_FROM", None, int,
            "Where set, the GPU takes batches from this many images; else the size measured at warm-up."),
    # A person drawing fast with live answers sends a few requests a second; a flood is stopped
    # within the second.
    Setting("RATE_LIMIT", "DIGITPAD_RATE_LIMIT", "20 per second;600 per minute", str,
            "Predictions a client may ask for (empty: no limit)."),
    Setting("RATELIMIT_STORAGE_URI", "DIGITPAD_RATE_LIMIT_STORAGE", "memory://", str,
            "Where the rate limits are counted (Flask-Limiter's storage URI): memory:// counts in "
            "each worker; redis://HOST:6379 is shared by every worker of every server."),
    Setting("RATE_LIMIT_STORAGE_TIMEOUT_SECONDS", "DIGITPAD_RATE_LIMIT_STORAGE_TIMEOUT_SECONDS", 0.25, float,
            "How long a request waits for a shared rate-limit storage (Redis) before each worker "
            "counts in its own memory until it answers again."),
    Setting("CORS_ORIGINS", "DIGITPAD_CORS_ORIGINS", "", str,
            "Other sites' origins, comma-separated, whose pages may call the API."),
    Setting("TRUSTED_PROXIES", "DIGITPAD_TRUSTED_PROXIES", 0, int,
            "How many proxies in front set X-Forwarded-For (1 behind Heroku's router)."),
    Setting("BODY_TIMEOUT_SECONDS", "DIGITPAD_BODY_TIMEOUT_SECONDS", 10.0, float,
            "A body must arrive within this many seconds, plus one for every BODY_MIN_RATE bytes "
            "received (0: no deadline)."),
    Setting("BODY_MIN_RATE", "DIGITPAD_BODY_MIN_RATE", 5_000, int,
            "Bytes a second that extend a body's deadline."),
    Setting("SQLALCHEMY_DATABASE_URI", "DATABASE_URL", "", str,
            "The corrections' and the registry's database (empty: SQLite in instance/digitpad.sqlite3)."),
    Setting("DATABASE_TIMEOUT_SECONDS", "DIGITPAD_DATABASE_TIMEOUT_SECONDS", 5.0, float,
            "How long a database call may wait: to connect, for a lock, for a statement."),
    Setting("CORRECTIONS_RATE_LIMIT", "DIGITPAD_CORRECTIONS_RATE_LIMIT", "60 per minute", str,
            "Corrections a client may send (empty: no limit)."),
    Setting("CORRECTIONS_MAX_ROWS", "DIGITPAD_CORRECTIONS_MAX_ROWS", 1_000_000, int,
            "The most corrections kept; beyond it a correction is answered 507 and not kept."),
    Setting("CORRECTIONS_MAX_BYTES", "DIGITPAD_CORRECTIONS_MAX_BYTES", 2_000_000_000, int,
            "The most bytes of drawings and model inputs kept; beyond it a correction is answered "
            "507 and not kept."),
    Setting("CORRECTIONS_QUOTA", "DIGITPAD_CORRECTIONS_QUOTA", "500", Quota,
            "Corrections a day kept from one client address, and from one writer (empty: no quota); "
            "past it a correction is answered 429 and not kept."),
    Setting("CLIENT_SALT", "DIGITPAD_CLIENT_SALT", "", str,
            "The salt of the client hashes kept with corrections, never kept in the database "
            "(empty: with SQLite one is made in instance/client-salt; any other database needs it set)."),
    # The review page (web/admin.py): off unless a password hash is set.
    Setting("ADMIN_PASSWORD_HASH", "DIGITPAD_ADMIN_PASSWORD_HASH", "", str,
            "The operator's password as a Werkzeug hash (generate_password_hash); set, it turns the "
            "review page /admin/ on (empty: off, every /admin/ path is a 404)."),
    Setting("SECRET_KEY", "DIGITPAD_SECRET_KEY", "", str,
            "The key that signs the review page's session cookie, at least 32 characters, the same on "
            "every server; the app refuses to start with the review page on and no key."),
    Setting("ADMIN_INSECURE_COOKIE", "DIGITPAD_ADMIN_INSECURE_COOKIE", 0, int,
            "1: the review page's session cookie is sent over plain http too (a local try-out); 0: "
            "over HTTPS only."),
    Setting("ADMIN_LOGIN_RATE_LIMIT", "DIGITPAD_ADMIN_LOGIN_RATE_LIMIT", "10 per minute", str,
            "Login attempts on the review page a client may make (empty: no limit)."),
)


class SettingError(ValueError):
    """A setting's value is not of its type."""


def settings_from_environment(environment=None):
    """{app.config key: value} for every setting, from the environment (os.environ by default)."""
    environment = os.environ if environment is None else environment
    settings = {}
    for setting in SETTINGS:
        raw = environment.get(setting.environment)
        if raw is None or (not issubclass(setting.kind, str) and raw.strip() == ""):
            settings[setting.key] = setting.default
            continue
        try:
            settings[setting.key] = setting.kind(raw)
        except ValueError as error:
            raise SettingError(
                f"{setting.environment}={raw!r} is not a {setting.kind.__name__}: {setting.meaning}"
            ) from error
    return settings


def markdown_table():
    """The settings as docs/configuration.md lists them."""
    rows = ["| variable | default | meaning |", "| --- | --- | --- |"]
    for setting in SETTINGS:
        default = "(unset)" if setting.default in (None, "") else f"`{setting.default}`"
        if setting.key == "MODEL_DIR":
            default = "`model/`"
        rows.append(f"| `{setting.environment}` | {default} | {setting.meaning} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown_table())
