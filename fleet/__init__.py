"""Fleet: the pilot-city NEV reporting system. create_app() builds the Flask application."""

import os
from datetime import datetime, timezone
from pathlib import Path

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
from flask_login import current_user, logout_user
from sqlalchemy import event
from werkzeug.middleware.proxy_fix import ProxyFix

from . import config as config_module
from .extensions import babel, bootstrap, csrf, db, login_manager, migrate

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
    if app.config["TRUSTED_PROXIES"]:
        n = int(app.config["TRUSTED_PROXIES"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)


def register_extensions(app: Flask) -> None:
    from . import models  # noqa: F401  (tables must be known to Alembic)

    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            event.listen(db.engine, "connect", _sqlite_pragmas)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"),
                     render_as_batch=True, compare_type=True)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    bootstrap.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None
    login_manager.session_protection = "strong"

    @login_manager.user_loader
    def load_user(user_id: str):
        return db.session.get(models.User, int(user_id))

    @login_manager.unauthorized_handler
    def unauthorized():
        if request.path.startswith("/api/"):
            return {"error": "authentication required"}, 401
        flash(_("Please sign in."), "info")
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def _sqlite_pragmas(dbapi_connection, _record):
    """SQLite: enforce foreign keys; WAL so that readers never block the writer."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def select_locale() -> str:
    if not has_request_context():  # the CLI speaks the default language
        return "zh"
    lang = session.get("lang")
    if lang in ("zh", "en"):
        return lang
    return "zh"


def register_blueprints(app: Flask) -> None:
    """One blueprint per audience; none imports another."""
    from . import cache
    from .admin import bp as admin_bp
    from .api import bp as api_bp
    from .auth import bp as auth_bp
    from .main import bp as main_bp
    from .progress import bp as progress_bp
    from .returns import bp as returns_bp
    from .review import bp as review_bp

    cache.init_app(app)
    app.register_blueprint(main_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(admin_bp, url_prefix="/admin")
    app.register_blueprint(progress_bp)
    app.register_blueprint(api_bp, url_prefix="/api/v1")
    app.register_blueprint(returns_bp)
    app.register_blueprint(review_bp, url_prefix="/review")


def register_request_hooks(app: Flask) -> None:
    @app.before_request
    def expire_idle_session():
        """Sign out a user idle for longer than the session lifetime (checked server-side)."""
        if request.endpoint in (None, "static", "bootstrap.static", "main.favicon"):
            return None
        if not current_user.is_authenticated:
            return None
        now = datetime.now(timezone.utc).timestamp()
        seen = session.get("seen")
        lifetime = app.config["PERMANENT_SESSION_LIFETIME"].total_seconds()
        if seen is not None and now - seen > lifetime:
            logout_user()
            session.clear()
            if request.path.startswith("/api/"):
                return {"error": "session expired"}, 401
            flash(_("Your session expired after a period of inactivity. Please sign in again."),
                  "warning")
            return redirect(url_for("auth.login"))
        session.permanent = True
        session["seen"] = now
        return None

    @app.before_request
    def require_password_change():
        """Someone else chose this password: nothing but changing it until it is changed."""
        if (current_user.is_authenticated and current_user.must_change_password
                and request.endpoint not in ("auth.change_password", "auth.logout",
                                             "main.set_language", "static",
                                             "bootstrap.static", "main.favicon")):
            if request.path.startswith("/api/"):
                return {"error": "password change required"}, 403
            return redirect(url_for("auth.change_password"))
        return None

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response


def register_template_helpers(app: Flask) -> None:
    from . import web
    from .domain.reference import CATEGORIES, NEV_SHARE_AIM, POWERTRAINS

    app.jinja_env.filters["num"] = web.format_number
    app.jinja_env.filters["pct"] = web.format_percent
    app.jinja_env.filters["period"] = web.format_period_for_user
    app.jinja_env.filters["dt"] = web.format_datetime_for_user
    app.jinja_env.globals["has_endpoint"] = lambda name: name in app.view_functions
    app.jinja_env.globals["categories"] = CATEGORIES
    app.jinja_env.globals["powertrains"] = POWERTRAINS
    app.jinja_env.globals["nev_share_aim"] = NEV_SHARE_AIM
    app.context_processor(web.template_context)


def register_errorhandlers(app: Flask) -> None:
    def render_error(error):
        code = getattr(error, "code", 500) or 500
        if request.path.startswith("/api/"):
            return {"error": getattr(error, "description", "error")}, code
        return render_template(f"errors/{code}.html"), code

    for code in (400, 403, 404, 413, 500):
        app.register_error_handler(code, render_error)

    from flask_wtf.csrf import CSRFError

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        if request.path.startswith("/api/"):
            return {"error": "CSRF token missing or invalid"}, 400
        return render_template("errors/csrf.html"), 400


def register_commands(app: Flask) -> None:
    from .cli import fleet_cli

    app.cli.add_command(fleet_cli)
