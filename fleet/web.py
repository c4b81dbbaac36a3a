"""What every view shares: the acting user, role checks, the one parser of the figures'
parameters (basis, through, city scope), the cities a user may see, files as attachments,
and formatting for templates."""

import ipaddress
from datetime import datetime, timezone
from decimal import ROUND_HALF_EVEN, Decimal
from functools import wraps
from urllib.parse import urlsplit

from babel.numbers import format_decimal
from babel.numbers import format_percent as babel_percent
from flask import (
    Response,
    abort,
    current_app,
    flash,
    g,
    has_app_context,
    json,
    render_template,
    request,
    session,
)
from flask_babel import get_locale, to_user_timezone
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import UserMixin, current_user, login_required, login_user, logout_user
from sqlalchemy import event
from sqlalchemy.orm import Session
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.routing import IntegerConverter

from .domain import figures, notices
from .domain.accounts import PasswordPolicy, SessionUser
from .domain.audit import Actor, record_event
from .domain.cities import city_by_code
from .domain.periods import format_period, parse_period
from .domain.programme import get_programme
from .domain.returns import can_view
from .domain.text import has_illegal_characters
from .extensions import db
from .models import City, User

# The roles that read every city's figures (the ministry's side of the house).
MINISTRY_SIDE = ("ministry", "viewer", "admin")
BAD_FIGURE_PARAMETERS = "basis is reported or verified; through is YYYY-MM"


# --- input that no view should ever see --------------------------------------------------------

class DatabaseId(IntegerConverter):
    """<int:...> in every route: ASCII digits (\\d takes other scripts' digits too) and a value
    that fits the database's 32-bit id columns; anything else is 404, never an overflow."""

    regex = r"[0-9]{1,18}"

    def __init__(self, map, fixed_digits: int = 0, min: int | None = 1,
                 max: int | None = 2**31 - 1, signed: bool = False) -> None:
        super().__init__(map, fixed_digits, min, max, signed)


def _illegal_input() -> bool:
    """NUL or another control character in the path, a query or form name or value, or a
    file name (fleet.domain.text.ILLEGAL_CHARACTERS)."""
    if has_illegal_characters(request.path):
        return True
    # A request without a body has no form or files to parse (most requests: GET).
    has_body = request.content_length or "Transfer-Encoding" in request.headers
    for multi in (request.args, request.form) if has_body else (request.args,):
        for key, value in multi.items(multi=True):
            if has_illegal_characters(key) or has_illegal_characters(value):
                return True
    return bool(has_body) and any(
        has_illegal_characters(key) or has_illegal_characters(f.filename or "")
        for key, f in request.files.items(multi=True))


def refuse_illegal_input():
    """before_request: refuse, with 400 and a message, any request carrying a character no
    field accepts, before a view, the database (PostgreSQL cannot store NUL) or a workbook
    (XML cannot hold control characters) sees it. Nothing is read or changed."""
    if request.endpoint in ("static", "bootstrap.static") or not _illegal_input():
        return None
    message = _("The request contains control characters (such as NUL), which are not "
                "accepted. Please remove them and try again.")
    if request.path.startswith("/api/"):
        return problem(400, message)
    return render_template("errors/400.html", message=message), 400


def allow_roster_uploads(app, endpoint: str) -> None:
    """Let this endpoint receive a roster (ROSTER_MAX_CONTENT_LENGTH, 32 MiB by default)
    where MAX_CONTENT_LENGTH (5 MiB) is right for everything else. The limit must be raised
    before anything reads the body (the CSRF check reads the form), so this hook goes first
    among the app's before-request functions."""
    from .domain.roster import MAX_UPLOAD_BYTES

    endpoints = app.extensions.setdefault("fleet.roster_upload_endpoints", set())
    if not endpoints:
        def raise_limit():
            if request.endpoint in endpoints:
                request.max_content_length = app.config.get("ROSTER_MAX_CONTENT_LENGTH",
                                                            MAX_UPLOAD_BYTES)

        app.before_request_funcs.setdefault(None, []).insert(0, raise_limit)
    endpoints.add(endpoint)


def too_large_message():
    """Why a body was refused with 413, with this route's limit."""
    limit = request.max_content_length or current_app.config.get("MAX_CONTENT_LENGTH") or 0
    return _l("The body is larger than the limit of %(n)s MiB.",
              n=f"{limit / (1024 * 1024):.4g}")


PAGE_LIMIT = 100_000


def page_number() -> int:
    """?page=N for a paged list: 1 for anything that is not a page number, at most
    PAGE_LIMIT (an offset far beyond the table is no error, and never an overflow)."""
    page = request.args.get("page", 1, type=int)
    return min(max(1, page), PAGE_LIMIT)


def form_status(*forms) -> int:
    """422 when a submitted form comes back with errors (it is shown again, marked), else 200."""
    if request.method == "POST" and any(form.errors for form in forms):
        return 422
    return 200


def lang() -> str:
    locale = get_locale()
    return "en" if locale is not None and locale.language == "en" else "zh"


def client_ip() -> str | None:
    """The client's address, if it is one: behind a trusted proxy it comes from a header,
    and the audit log's column holds an IP address, not whatever text was sent."""
    try:
        return str(ipaddress.ip_address(request.remote_addr or ""))
    except ValueError:
        return None


class CurrentUser(SessionUser, UserMixin):
    """Flask-Login's current_user for a browser session: the values of fleet.domain.accounts'
    SessionUser, the user's city on demand, and Flask-Login's methods."""

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    @property
    def city(self) -> City | None:
        return db.session.get(City, self.city_id) if self.city_id is not None else None


def signed_in_user() -> User:
    """The signed-in user as a database record, for a view that changes it (its password,
    its tokens, its sign-out)."""
    return db.session.get(User, current_user.id)


def current_actor() -> Actor:
    return Actor.of(current_user if current_user.is_authenticated else None, client_ip())


def password_policy() -> PasswordPolicy:
    return PasswordPolicy(current_app.config["PASSWORD_MIN_LENGTH"],
                          current_app.config["PASSWORD_MIN_CLASSES"])


def _now() -> float:
    return datetime.now(timezone.utc).timestamp()


def begin_session(user: User) -> None:
    """Sign the user in on a fresh session (no fixation), keeping only the chosen language.

    The session carries the user's session epoch (see fleet.domain.accounts.end_sessions) and
    when it was signed in, for the absolute lifetime."""
    lang_choice = session.get("lang")
    session.clear()
    if lang_choice:
        session["lang"] = lang_choice
    login_user(user)
    session.permanent = True
    session["epoch"] = user.session_epoch
    session["signed_in_at"] = session["seen"] = _now()


def keep_session(user: User) -> None:
    """After ending all of a user's sessions (own password change), keep this one."""
    session["epoch"] = user.session_epoch


def end_session() -> None:
    """Forget the user in this browser, keeping the chosen language."""
    lang_choice = session.get("lang")
    logout_user()
    session.clear()
    if lang_choice:
        session["lang"] = lang_choice


def end_moved_session(_app, **_extra) -> None:
    """Flask-Login's signal that this session's address or browser changed since sign-in (a
    copied cookie, or a network change). Its "strong" protection ends such a session, except
    a permanent one — every one of Fleet's — which it only marks as not fresh. End it here,
    before the user is loaded: the request is then anonymous and goes to the sign-in page.
    The attempt is audited for the user the cookie named. (Flask-Login also signals a
    session that names nobody, say one holding only the chosen language: nothing to end.)"""
    user_id = session.get("_user_id")
    if user_id is None:
        return
    lang_choice = session.get("lang")
    session.clear()
    if lang_choice:
        session["lang"] = lang_choice
    flash(_("This session was used from another browser or network address, so it was ended. "
            "Please sign in again."), "warning")
    db.session.rollback()
    record_event(db.session, Actor(None, "", client_ip()), "security.session_moved", "user",
                 str(user_id)[:64],
                 detail=f"{request.method} {request.path[:200]} "
                        f"User-Agent: {request.user_agent.string[:300]}")
    db.session.commit()


def is_token_request(req) -> bool:
    """An API call with `Authorization: Bearer <token>`: it has no session (no cookie, no
    CSRF, no session lifetimes); the token is its credential."""
    auth = req.authorization
    return auth is not None and auth.type == "bearer" and req.path.startswith("/api/v1/")


def keep_unread_notices(count: int) -> None:
    """The unread count read along with the user (fleet.domain.accounts.signed_in)."""
    g.fleet_unread_notices = count


def unread_notices() -> int:
    """The signed-in user's unread notices (the menu's badge), read once per request."""
    if "fleet_unread_notices" not in g:
        g.fleet_unread_notices = notices.unread_count(db.session, current_user.id)
    return g.fleet_unread_notices


@event.listens_for(Session, "after_commit")
def _forget_unread_notices(_session) -> None:
    """A commit may have written or read notices: count again when next asked."""
    if has_app_context():
        g.pop("fleet_unread_notices", None)


def session_is_current(user: SessionUser) -> bool:
    """The session was signed in since the user's sessions were last ended (user loader)."""
    return session.get("epoch") == user.session_epoch


# How precisely the idle time of a session is kept (seconds).
SEEN_RESOLUTION = 60


def session_expiry():
    """The message for a session that is over (idle too long, or older than the absolute
    lifetime), or None while it may go on; refreshes the idle clock."""
    now = _now()
    idle = current_app.config["PERMANENT_SESSION_LIFETIME"].total_seconds()
    absolute = current_app.config["SESSION_ABSOLUTE_LIFETIME"].total_seconds()
    seen, signed_in_at = session.get("seen"), session.get("signed_in_at")
    if signed_in_at is None or now - signed_in_at > absolute:
        return _l("Your session reached its maximum length. Please sign in again.")
    if seen is not None and now - seen > idle:
        return _l("Your session expired after a period of inactivity. Please sign in again.")
    # The idle clock moves at most once every SEEN_RESOLUTION seconds: most requests then
    # leave the session as it came, and no new cookie is signed and sent.
    if seen is None or now - seen >= SEEN_RESOLUTION:
        session.permanent = True
        session["seen"] = now
    return None


def audit_request(action: str, detail: str = "") -> None:
    """Keep an audit event of this request (who tried what, from where), on its own: whatever
    the request had started is rolled back first."""
    db.session.rollback()
    line = f"{request.method} {request.full_path.rstrip('?')}"
    record_event(db.session, current_actor(), action, "path", request.path[:64],
                 detail=(f"{line} {detail}" if detail else line)[:2000])
    db.session.commit()


def refuse(code: int = 403):
    """Refuse the request, keeping an audit event of the attempt."""
    audit_request("access.denied")
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


def basis_and_through() -> tuple[str, str | None]:
    """?basis=reported|verified and ?through=YYYY-MM (the last month included; None: the
    default month), parsed once per request for every page, file and API call; 400 when
    malformed."""
    if "fleet_figure_args" not in g:
        try:
            basis = figures.parse_basis(request.args.get("basis"))
            text = request.args.get("through")
            through = parse_period(text) if text else None
        except ValueError:
            abort(400, description=BAD_FIGURE_PARAMETERS)
        g.fleet_figure_args = (basis, through)
    return g.fleet_figure_args


def visible_city(code: str) -> City:
    """The city of this code if the user may see it (fleet.domain.returns.can_view);
    404 otherwise, and an audited refusal when it exists but belongs to someone else."""
    city = city_by_code(db.session, code.strip())
    if city is None:
        abort(404)
    if not can_view(current_actor(), city):
        refuse(404)
    return city


def city_scope() -> City | None:
    """The city whose figures the user gets (?city=CODE), or None for the nation: a city user
    always gets its own city, and 404 for another one."""
    code = (request.args.get("city") or "").strip() or None
    if code is None:
        return current_user.city if current_user.role == "city" else None
    return visible_city(code)


PROBLEM_JSON = "application/problem+json"


def problem(status: int, detail: object = None, errors=(), headers=None, **extra) -> Response:
    """An RFC 9457 problem details response: the API's one shape of an error.

    detail and each error's message may be lazy translations: they are rendered here, in the
    request's language. errors: (field, message) pairs, field None for the request as a
    whole, or mappings with `field`, `message` and more (a roster error's row and value).
    """
    body = {"type": "about:blank", "title": HTTP_STATUS_CODES.get(status, "Error"),
            "status": status}
    if detail is not None:
        body["detail"] = str(detail)
    body["errors"] = [_error(error) for error in errors]
    body.update(extra)
    response = Response(json.dumps(body, ensure_ascii=False), status=status,
                        mimetype=PROBLEM_JSON, headers=headers)
    return response


def _error(error) -> dict:
    """(field, message), or a mapping with more members (a roster's row and value)."""
    if isinstance(error, dict):
        return {**error, "message": str(error["message"])}
    field, message = error
    return {"field": field, "message": str(message)}


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV = "text/csv; charset=utf-8"


def attachment(body: bytes, mimetype: str, name: str,
               record: tuple[str, object] | None = None) -> Response:
    """A file to download, never cached by a shared proxy, and an audit event of who took
    it: `record` is what the file is about (("return", id), ("city", code)); the file's
    name by default."""
    kind, ident = record or ("file", name)
    record_event(db.session, current_actor(), "file.download", kind, ident, detail=name)
    db.session.commit()
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.cache_control.private = True
    response.cache_control.no_store = True
    return response


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


def percent_step(share) -> int:
    """A share (0.42) as a whole percentage from 0 to 100, for the CSS classes w-pct-N and
    at-pct-N of static/css/progress.css: bars are drawn without style attributes, which the
    Content-Security-Policy forbids."""
    if share is None:
        return 0
    return max(0, min(100, round(float(share) * 100)))


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
