"""Pages served from the page cache (fleet.pages): one rendering per URL, language, scope and
data version, and yet every user sees their own name, unread count and CSRF token, a city
never gets a page rendered for the ministry, and a new submission shows at once."""

import re

import pytest

from fleet.domain import notices
from fleet.extensions import LIMITED_BLUEPRINTS, LIMITED_ENDPOINTS, db, limiter

from .factories import PASSWORD, make_return, make_user
from .progress_helpers import make_progress_fixture

Q = "?through=2025-03"


@pytest.fixture
def data(users):
    fixture = make_progress_fixture()
    make_user("ministry2", "ministry", display_name="第二审核员")
    return fixture


def signed_in(app, username: str):
    client = app.test_client()
    response = client.post("/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 302
    return client


def whoami(html: str) -> str:
    return re.sub(r"\s+", " ", re.search(r'id="whoami">(.*?)</span>', html, re.S).group(1))


def csrf_tokens(html: str) -> set[str]:
    return set(re.findall(r'name="csrf_token"[^>]*value="([^"]+)"', html))


def test_one_rendering_serves_every_user_of_the_scope_with_their_own_parts(app, data):
    first, second = signed_in(app, "ministry1"), signed_in(app, "ministry2")
    a = first.get("/progress/" + Q)
    hits = app.extensions["fleet.page_cache"].hits
    b = second.get("/progress/" + Q)
    assert app.extensions["fleet.page_cache"].hits == hits + 1  # not rendered again
    html_a, html_b = a.get_data(as_text=True), b.get_data(as_text=True)
    assert "ministry1" in whoami(html_a) and "第二审核员" in whoami(html_b)
    assert "ministry1" not in html_b and "第二审核员" not in html_a
    # The sign-out form and the reminder form carry each session's own token, no mark.
    assert csrf_tokens(html_a) and csrf_tokens(html_b)
    assert not csrf_tokens(html_a) & csrf_tokens(html_b)
    assert "fleet-csrf:" not in html_b and "fleet-user:" not in html_b
    assert a.headers["ETag"] != b.headers["ETag"]
    assert b.headers["Cache-Control"] == "private, no-cache"


def test_a_city_never_gets_the_ministrys_page(app, data):
    ministry, city = signed_in(app, "ministry1"), signed_in(app, "shenzhen")
    url = "/progress/cities/440300" + Q
    for_ministry = ministry.get(url).get_data(as_text=True)
    for_city = city.get(url).get_data(as_text=True)
    assert "/review/" in for_ministry  # the ministry's months link to the review pages
    assert "/review/" not in for_city and "/returns/" in for_city
    assert "shenzhen" in whoami(for_city) and "ministry1" not in for_city
    assert city.get("/progress/" + Q).status_code == 403  # the national page, cached or not
    assert city.get("/progress/cities/110000" + Q).status_code == 404  # nor another city
    national = ministry.get("/api/v1/progress" + Q).json
    own = city.get("/api/v1/progress" + Q).json
    assert len(national["cities"]) > 1 and [c["code"] for c in own["cities"]] == ["440300"]


def test_a_new_submission_changes_the_page_at_once(app, data):
    reader = signed_in(app, "ministry1")
    url = "/progress/" + Q
    before = reader.get(url)
    assert reader.get(url, headers={"If-None-Match": before.headers["ETag"]}).status_code == 304
    make_return(data["wx"], "2025-03", "submitted", {"bus": {"bev": 7000}})
    after = reader.get(url, headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200 and after.headers["ETag"] != before.headers["ETag"]
    assert "7,1" in after.get_data(as_text=True)  # 113 + 7,000 = 7,113 NEVs
    assert "7,1" not in before.get_data(as_text=True)


def test_a_revalidation_is_cheap_and_personal(app, data):
    first, second = signed_in(app, "ministry1"), signed_in(app, "ministry2")
    url = "/progress/grid" + Q
    etag = first.get(url).headers["ETag"]
    again = first.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    # Another user's copy is not this user's: it holds another name and token.
    assert second.get(url, headers={"If-None-Match": etag}).status_code == 200


def test_the_menu_counts_a_new_notice_at_once(app, data, users):
    reader = signed_in(app, "ministry1")
    url = "/progress/" + Q
    etag = reader.get(url).headers["ETag"]
    notices.notify(db.session, [users["ministry"]], "submitted",
                   {"city": "440300", "city_zh": "深圳市", "city_en": "Shenzhen",
                    "period": "2025-03"})
    db.session.commit()
    assert notices.unread_count(db.session, users["ministry"].id) == 1
    page = reader.get(url, headers={"If-None-Match": etag})
    assert page.status_code == 200
    assert re.search(r'id="unread-count">1<', page.get_data(as_text=True))


def test_the_language_is_part_of_the_page(app, data):
    reader = signed_in(app, "ministry1")
    assert "全国进展" in reader.get("/progress/" + Q).get_data(as_text=True)
    reader.get("/lang/en")
    assert "National progress" in reader.get("/progress/" + Q).get_data(as_text=True)


def test_a_flashed_message_is_shown_not_cached(app, data):
    reader = signed_in(app, "ministry1")
    reader.get("/progress/grid" + Q)
    sent = reader.post("/progress/reminders", data={"period": "2025-03", "all": "1",
                                                    "next": "/progress/grid" + Q})
    assert sent.status_code == 302
    shown = reader.get("/progress/grid" + Q).get_data(as_text=True)
    assert "alert-success" in shown
    assert "alert-success" not in reader.get("/progress/grid" + Q).get_data(as_text=True)


def test_the_token_in_a_cached_page_signs_its_own_user_out(make_app, users):
    app = make_app(WTF_CSRF_ENABLED=True)
    with app.app_context():
        make_progress_fixture()
        clients = {}
        for name in ("ministry1", "viewer1"):
            client = app.test_client()
            login = client.get("/login").get_data(as_text=True)
            token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', login).group(1)
            client.post("/login", data={"username": name, "password": PASSWORD,
                                        "csrf_token": token})
            clients[name] = client
        clients["ministry1"].get("/progress/" + Q)  # rendered for the cache
        page = clients["viewer1"].get("/progress/" + Q).get_data(as_text=True)
        (token,) = csrf_tokens(page)
        out = clients["viewer1"].post("/logout", data={"csrf_token": token})
        assert out.status_code == 302
        assert clients["viewer1"].get("/progress/" + Q).status_code == 302  # signed out
        assert clients["ministry1"].get("/progress/" + Q).status_code == 200


def test_every_limited_view_is_where_the_limiter_looks(app):
    """fleet.extensions skips the limiter for requests that nothing limits: every view or
    blueprint given a limit must be named there."""
    from flask_limiter.util import get_qualified_name

    marked = {endpoint for endpoint, view in app.view_functions.items()
              if get_qualified_name(view) in limiter._marked_for_limiting}
    assert marked and marked <= LIMITED_ENDPOINTS
    assert set(limiter.limit_manager._blueprint_limits) <= LIMITED_BLUEPRINTS


def test_a_cached_page_reads_the_database_once(app, data):
    """Serving a page, chart or answer from the caches costs one read of the signed-in user
    (with the data version and the unread count) on one connection, and no statement
    through SQLAlchemy (fleet.domain.driver_read: on PostgreSQL, one round trip)."""
    from sqlalchemy import event

    reader = signed_in(app, "ministry1")
    urls = ["/progress/" + Q, "/progress/grid" + Q, "/progress/charts/national.png" + Q,
            "/api/v1/progress" + Q]
    for url in urls:
        assert reader.get(url).status_code == 200  # now in the caches
    checkouts, statements = [], []
    count_checkout = lambda *args: checkouts.append(1)  # noqa: E731
    count_statement = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(db.engine.pool, "checkout", count_checkout)
    event.listen(db.engine, "before_cursor_execute", count_statement)
    try:
        for url in urls:
            checkouts.clear()
            statements.clear()
            assert reader.get(url).status_code == 200
            assert (len(checkouts), statements) == (1, []), url
    finally:
        event.remove(db.engine.pool, "checkout", count_checkout)
        event.remove(db.engine, "before_cursor_execute", count_statement)
