"""Flask extensions, created unbound and attached in create_app()."""

from flask import current_app, request
from flask_babel import Babel
from flask_bootstrap import Bootstrap5
from flask_limiter import Limiter
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_talisman import Talisman
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
bootstrap = Bootstrap5()


def client_address() -> str:
    """The throttle's key: the client's address (the proxy's X-Forwarded-For when
    TRUSTED_PROXIES says so), under the installation's prefix. The prefix is read per request
    because one Limiter serves every app built in a process (the tests build many)."""
    return f"{current_app.config['LOGIN_THROTTLE_PREFIX']}:{request.remote_addr}"


# Storage from RATELIMIT_STORAGE_URI (memory://, or the Redis of FLEET_REDIS_URL). Should that
# Redis stop answering, each process counts in memory meanwhile: sign-in must not fail with
# it (the per-account lock-out goes on regardless).
limiter = Limiter(key_func=client_address, default_limits=[], in_memory_fallback_enabled=True,
                  swallow_errors=True)

# What has a limit: the sign-in form (LOGIN_THROTTLE) and the API (API_RATE_LIMIT per token).
LIMITED_ENDPOINTS = frozenset({"auth.login"})
LIMITED_BLUEPRINTS = frozenset({"api"})


@limiter.request_filter
def _nothing_to_limit() -> bool:
    """Every other request skips the limiter's bookkeeping, which costs more than serving a
    cached page (a test checks that every limited view is named above)."""
    return (request.blueprint not in LIMITED_BLUEPRINTS
            and request.endpoint not in LIMITED_ENDPOINTS)
talisman = Talisman()
