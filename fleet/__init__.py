"""Fleet: the pilot-city NEV reporting system. create_app() builds the Flask application."""

import os
import time
from pathlib import Path

from babel import Locale
from flask import (
    Flask,
    flash,
    has_request_context,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError
from werkzeug.middleware.proxy_fix import ProxyFix

from . import config as config_module
from . import headers
from .extensions import babel, bootstrap, csrf, db, limiter, login_manager, migrate

PROJECT_ROOT = Path(__file__).resolve().parent.parent

def create_app(test_config: dict | None = None) -> Flask:
    """Application factory: config, extensions, blueprints, CLI, error pages."""
    app = Flask(
        __name__,
        instance_path=os.environ.get("FLEET_INSTANCE_PATH") or str(PROJECT_ROOT / "instance"),
        instance_relative_config=True,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    configure(app, test_config)
    # Uploads are parsed by openpyxl; refuse to run where it would not use defusedxml.
    from .domain.excel.safety import assert_safe_parser

    assert_safe_parser()
    register_extensions(app)
    register_blueprints(app)
    register_request_hooks(app)
    register_template_helpers(app)
    register_errorhandlers(app)
    register_commands(app)
    return app


def configure(app: Flask, test_config: dict | None) -> None:
    """Defaults → instance/config.py → FLEET_* environment → test mapping."""
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.from_object(config_module.Defaults)
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env("FLEET")
    if test_config:
        app.config.update(test_config)
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        app.config["SQLALCHEMY_DATABASE_URI"] = config_module.database_url_from_env(
            app.instance_path)
    app.config["SQLALCHEMY_DATABASE_URI"] = config_module.normalise_database_url(
        app.config["SQLALCHEMY_DATABASE_URI"])
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = config_module.instance_secret_key(app.instance_path)
    for name in ("PERMANENT_SESSION_LIFETIME", "SESSION_ABSOLUTE_LIFETIME"):
        app.config[name] = config_module.as_timedelta(app.config[name])
    # The sign-in throttle's counts: shared through Redis when there is one.
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config["REDIS_URL"] or "memory://")
    config_module.check_production(app.config)
    if app.config["TRUSTED_PROXIES"]:
        n = int(app.config["TRUSTED_PROXIES"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)


def register_extensions(app: Flask) -> None:
    from . import models  # noqa: F401  (tables must be known to Alembic)

    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            event.listen(db.engine, "connect", _sqlite_pragmas)
        else:
            event.listen(db.engine.pool, "checkout", _ping_if_idle)
            event.listen(db.engine.pool, "checkin", _note_last_use)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"),
                     render_as_batch=True, compare_type=True)
    csrf.init_app(app)
    limiter.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    bootstrap.init_app(app)
    # Security headers on every response, errors and downloads included; HSTS only over HTTPS
    # (behind the proxy, ProxyFix with TRUSTED_PROXIES tells). The cookie's Secure flag is the
    # config's (FLEET_ENV=production insists on it).
    headers.init_app(app)
    login_manager.init_app(app)
    from . import mail

    mail.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None
    login_manager.session_protection = "strong"
    from flask_login import session_protected

    from .web import end_moved_session

    session_protected.connect(end_moved_session, app)

    @login_manager.user_loader
    def load_user(user_id: str):
        """The signed-in user, unless this session was ended on the server since (sign-out,
        password change or reset, disabling: fleet.domain.accounts.end_sessions). The same
        query reads the data version and the unread count, kept for this request. It runs on
        the driver's connection (fleet.domain.driver_read): a page from a cache opens no ORM
        session and, on PostgreSQL, makes one round trip."""
        from . import cache, web
        from .domain.accounts import SIGNED_IN, signed_in
        from .domain.driver_read import read_one

        found = signed_in(read_one(db.engine, SIGNED_IN, user_id=int(user_id)),
                          web.CurrentUser)
        if found is None or not web.session_is_current(found.user):
            return None
        cache.keep_data_version(found.data_version)
        web.keep_unread_notices(found.unread)
        return found.user

    @login_manager.unauthorized_handler
    def unauthorized():
        if request.path.startswith("/api/"):
            from .web import problem

            return problem(401, _("Authentication required: send Authorization: Bearer "
                                  "with an API token."),
                           headers={"WWW-Authenticate": 'Bearer realm="fleet"'})
        flash(_("Please sign in."), "info")
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


# A database server's connection unused for longer than this is tested before it is used
# again (the server may have restarted meanwhile). Testing every connection at every use
# (pool_pre_ping) cost a round trip per request: about a third of a cached page's time on
# PostgreSQL. A connection in steady use needs no test: a broken one fails its request, and
# SQLAlchemy then replaces the whole pool.
IDLE_BEFORE_PING = 10.0


def _note_last_use(_dbapi_connection, record) -> None:
    record.info["fleet_last_use"] = time.monotonic()


def _ping_if_idle(dbapi_connection, record, _proxy) -> None:
    last_use = record.info.get("fleet_last_use")  # None: a connection just made
    if last_use is not None and time.monotonic() - last_use >= IDLE_BEFORE_PING:
        ping(dbapi_connection)


def ping(dbapi_connection) -> None:
    """Test a connection; DisconnectionError makes the pool use a new one instead."""
    try:
        cursor = dbapi_connection.cursor()
        cursor.execute("SELECT 1")
        cursor.close()
        dbapi_connection.rollback()
    except Exception as error:  # any failure: the connection is not to be used
        raise DisconnectionError() from error


def _sqlite_pragmas(dbapi_connection, _record):
    """SQLite: enforce foreign keys; WAL so that readers never block the writer."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


# Parsed once: Flask-Babel would parse the selector's answer again on every request.
LOCALES = {code: Locale.parse(code) for code in ("zh", "en")}


def select_locale() -> Locale:
    if not has_request_context():  # the CLI speaks the default language
        return LOCALES["zh"]
    if request.path.startswith("/api/"):  # machines say which language they read
        return LOCALES[request.accept_languages.best_match(("zh", "en")) or "zh"]
    lang = session.get("lang")
    if lang in LOCALES:
        return LOCALES[lang]
    return LOCALES["zh"]


def register_blueprints(app: Flask) -> None:
    """One blueprint per audience; none imports another."""
    from . import cache, pages, web
    from .admin import bp as admin_bp
    from .api import bp as api_bp
    from .audit import bp as audit_bp
    from .auth import bp as auth_bp
    from .inbox import bp as inbox_bp
    from .jobs import bp as jobs_bp
    from .main import bp as main_bp
    from .progress import bp as progress_bp
    from .returns import bp as returns_bp
    from .review import bp as review_bp

    cache.init_app(app)
    pages.init_app(app)
    # Before any rule is added: every <int:...> is a bounded database id.
    app.url_map.converters["int"] = web.DatabaseId
    app.register_blueprint(main_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(admin_bp, url_prefix="/admin")
    app.register_blueprint(progress_bp)
    app.register_blueprint(api_bp, url_prefix="/api/v1")
    app.register_blueprint(returns_bp)
    app.register_blueprint(review_bp, url_prefix="/review")
    app.register_blueprint(audit_bp, url_prefix="/audit")
    app.register_blueprint(inbox_bp, url_prefix="/inbox")
    app.register_blueprint(jobs_bp, url_prefix="/jobs")


def register_request_hooks(app: Flask) -> None:
    from . import web

    # First of all hooks: nothing, not even the session's user, is looked up for such input.
    app.before_request(web.refuse_illegal_input)

    @app.before_request
    def expire_session():
        """Sign out a user idle for longer than the idle lifetime, or signed in for longer
        than the absolute one (both checked on the server, whatever the cookie says)."""
        if request.endpoint in (None, "static", "bootstrap.static", "main.favicon"):
            return None
        if web.is_token_request(request) or not current_user.is_authenticated:
            return None
        message = web.session_expiry()
        if message is None:
            return None
        web.end_session()
        if request.path.startswith("/api/"):
            return web.problem(401, message)
        flash(message, "warning")
        return redirect(url_for("auth.login"))

    @app.before_request
    def require_password_change():
        """Someone else chose this password: nothing but changing it until it is changed."""
        if (current_user.is_authenticated and current_user.must_change_password
                and request.endpoint not in ("auth.change_password", "auth.logout",
                                             "main.set_language", "static",
                                             "bootstrap.static", "main.favicon")):
            if request.path.startswith("/api/"):
                from .web import problem

                return problem(403, _("Please choose your own password first: sign in on "
                                      "the web and change it."))
            return redirect(url_for("auth.change_password"))
        return None


def register_template_helpers(app: Flask) -> None:
    from . import web
    from .domain.reference import CATEGORIES, NEV_SHARE_AIM, POWERTRAINS, role_label

    app.jinja_env.filters["num"] = web.format_number
    app.jinja_env.filters["pct"] = web.format_percent
    app.jinja_env.filters["pct_step"] = web.percent_step
    app.jinja_env.filters["period"] = web.format_period_for_user
    app.jinja_env.filters["dt"] = web.format_datetime_for_user
    app.jinja_env.globals["has_endpoint"] = lambda name: name in app.view_functions
    app.jinja_env.globals["categories"] = CATEGORIES
    app.jinja_env.globals["powertrains"] = POWERTRAINS
    app.jinja_env.globals["nev_share_aim"] = NEV_SHARE_AIM
    app.jinja_env.globals["role_label"] = role_label
    app.context_processor(web.template_context)


def register_errorhandlers(app: Flask) -> None:
    def render_error(error):
        code = getattr(error, "code", 500) or 500
        if request.path.startswith("/api/"):
            from .web import problem, too_large_message

            return problem(code, too_large_message() if code == 413
                           else getattr(error, "description", None))
        return render_template(f"errors/{code}.html"), code

    for code in (400, 403, 404, 413, 429, 500):
        app.register_error_handler(code, render_error)

    from flask_wtf.csrf import CSRFError

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        from .web import audit_request

        audit_request("security.csrf_failed", error.description)
        if request.path.startswith("/api/"):
            from .web import problem

            return problem(400, _("CSRF token missing or invalid. Scripts send an API token "
                                  "instead of a session cookie."))
        return render_template("errors/csrf.html"), 400


def register_commands(app: Flask) -> None:
    from .cli import fleet_cli

    app.cli.add_command(fleet_cli)
