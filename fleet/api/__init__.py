"""The JSON API under /api/v1: the same figures, files and returns as the pages, for
signed-in users and for machines with an API token (`Authorization: Bearer ...`).

A token request acts as the token's user (Flask-Login's request_loader), needs no CSRF
token, gets no session cookie, and is rate-limited per token. A browser session calling the
API keeps CSRF. Every error is RFC 9457 problem details.
"""

from flask import Blueprint, current_app, g, request
from flask.sessions import SecureCookieSessionInterface
from flask_login import current_user
from werkzeug.exceptions import HTTPException

from ..domain import tokens
from ..extensions import csrf, db, limiter, login_manager
from ..web import is_token_request, problem

bp = Blueprint("api", __name__)
csrf.exempt(bp)  # checked below, for browser sessions only


class TokenlessSessions(SecureCookieSessionInterface):
    """A token request has no session: none is read (so a stray cookie cannot stand in for
    the token, nor trip the session protection) and none is written (no Set-Cookie)."""

    def open_session(self, app, req):
        if is_token_request(req):
            return self.session_class()
        return super().open_session(app, req)

    def get_signing_serializer(self, app):
        """Flask's serializer, made once per secret key rather than on every request."""
        keys = (app.secret_key, *(app.config["SECRET_KEY_FALLBACKS"] or ()))
        made = app.extensions.get("fleet.session_serializer")
        if made is None or made[0] != keys:
            made = app.extensions["fleet.session_serializer"] = (
                keys, super().get_signing_serializer(app))
        return made[1]

    def save_session(self, app, session, response) -> None:
        if is_token_request(request):
            return None
        return super().save_session(app, session, response)


def load_user_from_token(req):
    """Flask-Login's request_loader: `Authorization: Bearer <secret>` on /api/v1 acts as the
    token's user (an inactive user's or a revoked or expired token: nobody)."""
    if not is_token_request(req):
        return None
    token = tokens.authenticate(db.session, req.authorization.token or "", req.remote_addr)
    if token is None:
        return None
    user = token.user
    if db.session.dirty:  # last used (at most once a minute)
        db.session.commit()
    g.api_token = token.id
    return user


def api_token_id() -> int | None:
    """The token this request authenticated with, if any (loads the user first)."""
    current_user._get_current_object()  # runs the loaders, which set g.api_token
    return g.get("api_token")


def _rate_limit() -> str:
    return current_app.config["API_RATE_LIMIT"]


# Per token: a client with several tokens has several budgets, a token one budget on
# every node (when FLEET_REDIS_URL is set). Browser sessions are not limited here.
limiter.limit(_rate_limit, key_func=lambda: f"api-token:{api_token_id()}",
              exempt_when=lambda: api_token_id() is None)(bp)


@limiter.request_filter
def _browser_session() -> bool:
    """A browser session's API call has no limit (exempt above): the limiter's bookkeeping is
    skipped before it starts (it cost more than serving a cached answer)."""
    return request.blueprint == "api" and not is_token_request(request)


@bp.record_once
def _install(state) -> None:
    login_manager.request_loader(load_user_from_token)
    state.app.session_interface = TokenlessSessions()
    state.app.register_error_handler(HTTPException, _http_error)


def _http_error(error: HTTPException):
    """Errors without a page of their own (405, 412, 415, 428, 429...): problem details on
    the API, Werkzeug's default elsewhere."""
    if request.path.startswith("/api/"):
        response = problem(error.code or 500, getattr(error, "description", None))
        for name, value in error.get_headers():  # Allow with 405, and the like
            if name.lower() != "content-type":
                response.headers[name] = value
        if error.code == 429 and error.response is not None:
            response.headers.extend(error.response.headers)
        return response
    return error.get_response()


@bp.before_request
def csrf_for_sessions():
    """A browser session writing through the API proves it with a CSRF token, as a form
    does; a token request cannot be forged by another site, so it needs none."""
    if api_token_id() is None and current_app.config.get("WTF_CSRF_ENABLED", True):
        csrf.protect()


from . import docs, exports, returns, vehicles, views  # noqa: E402,F401
