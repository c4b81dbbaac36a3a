"""Pages served from the page cache: rendered once per URL, language, the user's scope (role
and city), day and data version, then served to every user of that scope, with an ETag and
304 when unchanged.

What belongs to one user — the menu's name, unread count and sign-out form, and every CSRF
token — is never in a cached page: while a page is rendered for the cache, those places get
marks (PageMarks), filled in for each request with the user's own. The page itself lives in
fleet.cache's page cache (in process, or in Redis shared by every node).
"""

import hmac
import re
import time
from dataclasses import dataclass
from functools import wraps
from hashlib import sha1, sha256

from flask import Flask, Response, current_app, g, make_response, request, session
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup

from . import cache
from .web import lang, unread_notices


@dataclass(frozen=True)
class PageMarks:
    """Where a cached page holds the parts of one user: the menu's user part and the CSRF
    tokens. Derived from the secret key, so nobody can type them into a field that a page
    shows; the same on every node, as the pages are shared through Redis."""

    user: bytes
    csrf: bytes

    @classmethod
    def for_key(cls, secret_key: str | bytes) -> "PageMarks":
        key = secret_key.encode() if isinstance(secret_key, str) else secret_key
        tag = hmac.new(key, b"fleet.pages.marks", sha256).hexdigest()[:24]
        return cls(f"<!--fleet-user:{tag}-->".encode(), f"fleet-csrf:{tag}".encode())


@dataclass(frozen=True)
class CachedPage:
    """A rendered page cut at its marks: parts[0], the user part or token named by
    between[0], parts[1], ... (a page without marks is one part)."""

    parts: tuple[bytes, ...]
    between: tuple[str, ...]  # "user" or "csrf", one fewer than the parts
    mimetype: str

    @classmethod
    def cut(cls, body: bytes, mimetype: str, marks: "PageMarks") -> "CachedPage":
        pieces = re.split(b"(" + re.escape(marks.user) + b"|" + re.escape(marks.csrf) + b")",
                          body)
        return cls(tuple(pieces[0::2]),
                   tuple("user" if mark == marks.user else "csrf" for mark in pieces[1::2]),
                   mimetype)


def init_app(app: Flask) -> None:
    app.extensions["fleet.page_marks"] = PageMarks.for_key(app.config["SECRET_KEY"])
    # A user's part of the menu, once per user, language and data version: a memo of what
    # the request itself carries (nothing shared), so each process keeps its own.
    app.extensions["fleet.user_tools"] = cache.VersionedCache(512)
    app.context_processor(_marks_while_caching)


def _marks() -> PageMarks:
    return current_app.extensions["fleet.page_marks"]


def _marks_while_caching() -> dict:
    """Context processor: while a page is rendered for the cache, the menu's user part and
    csrf_token() leave their marks instead of this user's values."""
    if not g.get("fleet_page_render"):
        return {}
    marks = _marks()
    csrf = marks.csrf.decode()
    return {"user_tools_mark": Markup(marks.user.decode()), "csrf_token": lambda: csrf}


def _key() -> tuple:
    """Everything a cached page depends on besides the data, the day (cache.page_key adds
    both): the URL with its query, the language, the user's scope."""
    return cache.page_key(request.full_path, lang(), current_user.role, current_user.city_id)


def _csrf_period() -> int:
    """A CSRF token lives WTF_CSRF_TIME_LIMIT seconds (an hour by default), and a page
    revalidated with 304 keeps the token it has: its ETag changes every half of that."""
    limit = current_app.config.get("WTF_CSRF_TIME_LIMIT", 3600)
    return int(time.time() // (limit / 2)) if limit else 0


def _etag(key: tuple) -> str:
    """The ETag of a page as this user gets it: the page, and the user's own parts (name,
    unread count, the session's CSRF secret)."""
    token_name = current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    mine = (current_user.id, current_user.username, current_user.display_name,
            unread_notices(), session.get(token_name), _csrf_period())
    return sha1(repr((key, mine)).encode()).hexdigest()[:32]


def _user_tools() -> bytes:
    """This user's part of the menu (templates/_user_tools.html), with the CSRF mark."""
    language, unread = lang(), unread_notices()
    key = (language, current_user.id, current_user.username, current_user.display_name,
           current_user.role, current_user.city_id, unread, cache.data_version())

    def render() -> bytes:
        csrf = _marks().csrf.decode()
        template = current_app.jinja_env.get_template("_user_tools.html")
        return template.render(current_user=current_user, lang=language,
                               unread_notices=unread, csrf_token=lambda: csrf).encode()

    return current_app.extensions["fleet.user_tools"].get_or_make(key, render)


def _personal(page: CachedPage) -> bytes:
    """The cached page with this user's parts filled in (one copy of the page)."""
    if not page.between:
        return page.parts[0]
    token = generate_csrf().encode()
    filling = {"user": _user_tools().replace(_marks().csrf, token), "csrf": token}
    pieces = [page.parts[0]]
    for name, part in zip(page.between, page.parts[1:], strict=True):
        pieces += (filling[name], part)
    return b"".join(pieces)


def _render(view, args, kwargs) -> tuple[Response, CachedPage | None]:
    """Run the view with the marks in place of the user's parts: its response, and the page
    to keep (None for anything but a page: an error, a redirect, a stream)."""
    token_name = current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    had_token = token_name in g
    g.fleet_page_render = True
    try:
        response = make_response(view(*args, **kwargs))
    finally:
        g.fleet_page_render = False
    if response.status_code != 200 or response.is_streamed:
        return response, None
    if token_name in g and not had_token:
        # The real csrf_token() ran (say, in a macro imported without context): this user's
        # token is in the page, which must then not be shared.
        current_app.logger.warning("%s not cached: it holds a CSRF token", request.path)
        return response, None
    return response, CachedPage.cut(response.get_data(), response.mimetype, _marks())


def cached_page(view):
    """Serve the view's page from the page cache (see the module's docstring).

    Only for views whose answer depends on nothing but the URL, the language, the user's
    role and city, the day and the data. Put it under the decorators that check who may see
    the page: a page is only kept after the view answered 200 to the same URL and scope. A
    request with flashed messages to show, or other than GET, is answered as usual.
    """

    @wraps(view)
    def wrapped(*args, **kwargs):
        if request.method != "GET" or "_flashes" in session:
            return view(*args, **kwargs)
        key = _key()
        etag = _etag(key)
        if request.if_none_match.contains(etag):
            response = Response(status=304)
        else:
            page = cache.page_cache().get(key)
            if page is None:
                response, page = _render(view, args, kwargs)
                if page is None:
                    return response
                cache.page_cache().put(key, page)
            response = Response(_personal(page), mimetype=page.mimetype)
            etag = _etag(key)  # a session's first page makes its CSRF secret
        response.set_etag(etag)
        # Revalidate every time: a new return must show at once; the 304 keeps it cheap.
        response.cache_control.private = True
        response.cache_control.no_cache = True
        return response

    return wrapped
