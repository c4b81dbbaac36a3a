"""Helpers shared by the views: the acting user, role checks, formatting for templates."""

from decimal import ROUND_HALF_EVEN, Decimal
from functools import wraps
from urllib.parse import urlsplit

from babel.numbers import format_decimal
from babel.numbers import format_percent as babel_percent
from flask import abort, current_app, request
from flask_babel import get_locale, to_user_timezone
from flask_login import current_user, login_required

from .accounts import PasswordPolicy
from .audit import Actor, record_event
from .extensions import db
from .periods import format_period, parse_period
from .programme import get_programme


def lang() -> str:
    locale = get_locale()
    return "en" if locale is not None and locale.language == "en" else "zh"


def current_actor() -> Actor:
    return Actor.of(current_user if current_user.is_authenticated else None,
                    request.remote_addr)


def password_policy() -> PasswordPolicy:
    return PasswordPolicy(current_app.config["PASSWORD_MIN_LENGTH"],
                          current_app.config["PASSWORD_MIN_CLASSES"])


def refuse(code: int = 403):
    """Refuse the request, keeping an audit event of the attempt (who tried what, from where)."""
    record_event(db.session, current_actor(), "access.denied", "path", request.path[:64],
                 detail=f"{request.method} {request.full_path}"[:2000])
    db.session.commit()
    abort(code)


def roles_required(*roles: str):
    """Signed in, and with one of these roles; otherwise 403 (audited)."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if current_user.role not in roles:
                refuse(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def period_or_404(text: str) -> str:
    """A month from the URL ('2025-09'), or 404 for anything else."""
    try:
        return parse_period(text)
    except ValueError:
        abort(404)


def safe_next(target: str | None, default: str) -> str:
    """Only redirect to paths on this site (no open redirect)."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    return target


def format_number(value) -> str:
    if value is None:
        return "—"
    if type(value) is int:
        # Fast path, same text as babel's for zh and en ("1,234"): pages with hundreds of
        # numbers would otherwise spend most of their time here.
        return f"{value:,}"
    return format_decimal(value, format="#,##0.##", locale=lang())


def format_percent(value, digits: int = 1) -> str:
    if value is None:
        return "—"
    if isinstance(value, float | int) and not isinstance(value, bool):
        # Same text as babel's for zh and en ("12.3%"), rounded the same way, much faster.
        scaled = (Decimal(repr(value)) * 100).quantize(Decimal(1).scaleb(-digits),
                                                       rounding=ROUND_HALF_EVEN)
        return f"{scaled:,.{digits}f}%"
    return babel_percent(value, format="#,##0." + "0" * digits + "%", locale=lang())


def format_period_for_user(period: str) -> str:
    return format_period(period, lang())


def format_datetime_for_user(value) -> str:
    if value is None:
        return "—"
    from datetime import timezone

    local = to_user_timezone(value.replace(tzinfo=timezone.utc))
    return local.strftime("%Y-%m-%d %H:%M")


def template_context() -> dict:
    programme = get_programme(db.session) if current_user.is_authenticated else None
    return {"lang": lang(), "programme": programme}
