"""The review page, /admin/: one operator reviews quarantined corrections and promotes models.

Off unless DIGITPAD_ADMIN_PASSWORD_HASH is set (every /admin/ path is then a 404). On, it needs
DIGITPAD_SECRET_KEY, which signs the session cookie (Flask's), and refuses to start without it.
Nothing under /admin/ answers before the operator logs in (Flask-Login): a page redirects to the
login form, a POST is a 401. Every POST, the login's included, carries a CSRF token
(Flask-WTF's CSRFProtect, checked for this blueprint only: the public API takes no tokens). The
session cookie is HttpOnly, SameSite=Lax, Secure (unless DIGITPAD_ADMIN_INSECURE_COOKIE, for a
local try-out over http), kept for /admin/ only, and valid 12 hours at most; login attempts are
rate-limited per client (DIGITPAD_ADMIN_LOGIN_RATE_LIMIT).

The pages: the quarantine (accept or reject each correction the label-quality filter held
back), the corrections' confusion matrices, corrections per writer, and the model versions with
promote and rollback through the registry's own gate (web/model_registry.py). What they read is
web/admin_figures.py.
"""

import datetime
import hashlib
import logging

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import select, update
from werkzeug.security import check_password_hash

from web.admin_figures import (
    PAGE_SIZE,
    confusion_picture,
    model_versions,
    promotions,
    quarantine_page,
    writers_table,
)
from web.database import Correction, db
from web.model_registry import RegistryError, promote, rollback, served_version
from web.rate_limits import limiter
from web.settings import SettingError
from web.writer_examples import examples_changed

log = logging.getLogger("digitpad")

admin = Blueprint("admin", __name__, url_prefix="/admin")
login_manager = LoginManager()
csrf = CSRFProtect()

# The hash schemes Werkzeug's generate_password_hash writes ("scrypt:32768:8:1$salt$hash").
PASSWORD_SCHEMES = ("scrypt", "pbkdf2")
MIN_SECRET_KEY_LENGTH = 32
SESSION_HOURS = 12
# A quarantined correction's review: the button's value, the status it sets.
DECISIONS = {"accept": "accepted", "reject": "rejected"}
MAKE_A_HASH = ("python -c \"from werkzeug.security import generate_password_hash; "
               "print(generate_password_hash('...'))\"")
MAKE_A_KEY = "python -c \"import secrets; print(secrets.token_hex(32))\""


# ---------------------------------------------------------------------------------------------
# Turning it on
# ---------------------------------------------------------------------------------------------


def admin_enabled(config):
    return bool(config.get("ADMIN_PASSWORD_HASH"))


def checked_admin_settings(config):
    """SettingError, with what to do, where the review page is on but cannot be safe."""
    password_hash = config["ADMIN_PASSWORD_HASH"]
    scheme = password_hash.split("$", 1)[0].split(":", 1)[0]
    if password_hash.count("$") != 2 or scheme not in PASSWORD_SCHEMES:
        raise SettingError(
            "DIGITPAD_ADMIN_PASSWORD_HASH is not a Werkzeug password hash (never the password "
            f"itself): make one with {MAKE_A_HASH}."
        )
    if len(config.get("SECRET_KEY") or "") < MIN_SECRET_KEY_LENGTH:
        raise SettingError(
            "DIGITPAD_ADMIN_PASSWORD_HASH turns the review page (/admin/) on, which needs "
            f"DIGITPAD_SECRET_KEY, at least {MIN_SECRET_KEY_LENGTH} characters, to sign its session "
            f"cookie: make one with {MAKE_A_KEY} and set the same on every server."
        )


def init_admin(app):
    """Register the review page where DIGITPAD_ADMIN_PASSWORD_HASH is set; else nothing."""
    if not admin_enabled(app.config):
        return
    checked_admin_settings(app.config)
    app.config.update(
        SESSION_COOKIE_NAME="digitpad_admin",
        SESSION_COOKIE_PATH="/admin/",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=not app.config["ADMIN_INSECURE_COOKIE"],
        PERMANENT_SESSION_LIFETIME=datetime.timedelta(hours=SESSION_HOURS),
        # The token is checked by this blueprint alone (guard below), never on the public API;
        # it lasts as long as the session.
        WTF_CSRF_CHECK_DEFAULT=False,
        WTF_CSRF_TIME_LIMIT=None,
    )
    # As LoginManager.init_app does, without its context processor and its after_request (for a
    # remember-me cookie, unused here), which read the session on every request: the public
    # pages and API never touch it (no `Vary: Cookie`).
    app.login_manager = login_manager
    login_manager.session_protection = "strong"
    csrf.init_app(app)
    app.register_blueprint(admin)


# ---------------------------------------------------------------------------------------------
# The operator and the login
# ---------------------------------------------------------------------------------------------


class Operator(UserMixin):
    """The one operator. Their id changes with the password hash: a new password logs out every
    session signed for the old one."""

    def __init__(self, password_hash):
        self.id = "operator-" + hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def the_operator():
    return Operator(current_app.config["ADMIN_PASSWORD_HASH"])


@login_manager.user_loader
def load_operator(user_id):
    operator = the_operator()
    return operator if user_id == operator.id else None


@login_manager.unauthorized_handler
def not_logged_in():
    if request.method in ("GET", "HEAD"):
        return redirect(url_for("admin.login", next=request.full_path.rstrip("?")))
    abort(401, "Log in to the review page first.")


@admin.before_request
def guard():
    """Every route but the login form needs the operator; every POST needs its CSRF token."""
    if request.endpoint != "admin.login" and not current_user.is_authenticated:
        return login_manager.unauthorized()
    csrf.protect()
    return None


@admin.after_request
def private(response):
    response.headers["Cache-Control"] = "no-store"
    # The forms' Referer names this origin, which CSRFProtect checks over HTTPS (the app's
    # default policy sends none).
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


def safe_next(target):
    """Where to go after logging in: a page of this review only, never another site."""
    if target and target.startswith("/admin/") and "\\" not in target:
        return target
    return url_for("admin.quarantine")


def login_limit():
    return current_app.config["ADMIN_LOGIN_RATE_LIMIT"]


@admin.route("/login", methods=["GET", "POST"])
@limiter.limit(login_limit, methods=["POST"])
def login():
    if request.method == "GET":
        if current_user.is_authenticated:
            return redirect(safe_next(request.args.get("next")))
        return render_template("admin/login.html", next=request.args.get("next", ""))
    password = request.form.get("password", "")
    if not check_password_hash(current_app.config["ADMIN_PASSWORD_HASH"], password):
        log.warning("Review page: a login was refused (wrong password).")
        return render_template("admin/login.html", next=request.form.get("next", ""),
                               refused=True), 401
    session.clear()  # Nothing from before the login, the CSRF token included, is kept.
    login_user(the_operator())
    session.permanent = True  # Signed with its time: the cookie is refused after SESSION_HOURS.
    log.info("Review page: the operator logged in.")
    return redirect(safe_next(request.form.get("next")))


@admin.post("/logout")
def logout():
    logout_user()
    session.clear()
    return redirect(url_for("admin.login"))


# ---------------------------------------------------------------------------------------------
# The quarantine
# ---------------------------------------------------------------------------------------------


@admin.get("/")
def quarantine():
    page = max(1, request.args.get("page", 1, type=int))
    rows, total = quarantine_page(page)
    pages = max(1, -(-total // PAGE_SIZE))
    return render_template("admin/quarantine.html", rows=rows, total=total, page=page, pages=pages)


@admin.get("/corrections/<int:correction_id>/drawing.png")
def drawing(correction_id):
    png = db.session.scalar(select(Correction.drawing).where(Correction.id == correction_id))
    if png is None:
        abort(404, f"No correction {correction_id}.")
    return Response(png, mimetype="image/png")


@admin.post("/corrections/<int:correction_id>/review")
def review(correction_id):
    """Accept or reject a quarantined correction; one reviewed meanwhile is left as it is."""
    status = DECISIONS.get(request.form.get("decision", ""))
    if status is None:
        abort(400, "Send decision=accept or decision=reject.")
    changed = db.session.execute(
        update(Correction).where(Correction.id == correction_id, Correction.status == "quarantined")
        .values(status=status)
    ).rowcount
    writer = db.session.scalar(select(Correction.writer).where(Correction.id == correction_id))
    if changed and writer is not None:
        examples_changed(writer)  # Every worker reads the writer's examples again.
    db.session.commit()
    if changed:
        log.info("Review page: correction %s %s.", correction_id, status)
        flash(f"Correction {correction_id} {status}.", "done")
    else:
        flash(f"Correction {correction_id} is not in quarantine (reviewed already, or deleted).", "refused")
    return redirect(url_for("admin.quarantine", page=request.form.get("page", 1, type=int)))


# ---------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------


@admin.get("/confusion")
def confusion():
    return render_template("admin/confusion.html", every=confusion_picture(trusted_only=False),
                           trusted=confusion_picture(trusted_only=True))


@admin.get("/writers")
def writers():
    rows, total = writers_table()
    return render_template("admin/writers.html", rows=rows, total=total)


# ---------------------------------------------------------------------------------------------
# Model versions: the gate's promote and rollback, never forced here
# ---------------------------------------------------------------------------------------------


@admin.get("/models")
def models():
    return render_template("admin/models.html", versions=model_versions(), promotions=promotions(),
                           served=served_version())


@admin.post("/models/<version>/promote")
def promote_version(version):
    if served_version() is None:
        # The first promotion measures the committed model on every evaluation set: minutes,
        # longer than a request may take.
        flash("The registry serves no version yet: make the first promotion with `flask --app app "
              f"models promote {version}`, which measures the committed model first.", "refused")
        return redirect(url_for("admin.models"))
    config = current_app.config
    try:
        previous, _ = promote(version, config["MODEL_DIR"], config["PROMOTE_TOLERANCE"])
    except RegistryError as error:
        flash(str(error), "refused")
    else:
        log.info("Review page: promoted %s (was %s).", version, previous)
        flash(f"Promoted {version} (was {previous}); every worker serves it within "
              f"{config['MODEL_POLL_SECONDS']:g} s and its loading time.", "done")
    return redirect(url_for("admin.models"))


@admin.post("/models/rollback")
def rollback_version():
    try:
        now, before = rollback()
    except RegistryError as error:
        flash(str(error), "refused")
    else:
        log.info("Review page: rolled back to %s (was %s).", now, before)
        flash(f"Rolled back to {now} (was {before}).", "done")
    return redirect(url_for("admin.models"))
