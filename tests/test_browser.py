"""A person's path through a real browser: Playwright driving Debian's Chromium."""

import shutil
import threading

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from fleet.extensions import db
from fleet.models import MonthlyReturn

from .factories import PASSWORD
from .returns_helpers import this_month, window_around_today

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="no Chromium here (apt-get install chromium)"),
]

# Chromium as root in a sandboxed machine with no network: no sandbox, no background traffic.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


@pytest.fixture
def live_server(make_app):
    """The app served on a free loopback port in a thread, CSRF on, as in production."""
    app = make_app(WTF_CSRF_ENABLED=True)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    with app.app_context():
        yield app, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def browser():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def sign_in(page, base, username):
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def watch_csp(page) -> list[str]:
    """Collect what the browser reports as refused by the Content-Security-Policy."""
    blocked = []
    page.on("console", lambda message: blocked.append(message.text)
            if "Content Security Policy" in message.text else None)
    return blocked


def sign_out(page):
    page.click("nav button[type=submit]")
    page.wait_for_load_state()


def test_city_submits_and_ministry_approves_in_a_browser(live_server, browser, tmp_path,
                                                         request):
    app, base = live_server
    users = request.getfixturevalue("users")
    window_around_today()
    month = this_month()
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.on("dialog", lambda dialog: dialog.accept())  # "submit to the ministry?" → yes
    blocked = watch_csp(page)

    sign_in(page, base, users["city"].username)
    page.goto(f"{base}/returns/{month}")
    assert "深圳市" in page.inner_text("h1")
    page.fill("input[name=bus_bev]", "40")
    page.fill("input[name=bus_phev]", "2")
    page.fill("input[name=bus_all_new]", "50")
    page.fill("input[name=taxi_bev]", "1200")
    page.fill("input[name=taxi_all_new]", "1300")
    page.fill("input[name=charging_points]", "1100")
    # The totals follow the typing, before anything is sent.
    assert page.inner_text("tr[data-category=bus] .row-nev") == "42"
    assert page.inner_text("#nev-total") == "1,242"
    assert page.inner_text(".col-total[data-kind=bev]") == "1,240"
    assert page.inner_text("tr[data-category=bus] .row-share") == "84.0%"
    page.fill("input[name=bus_all_new]", "41")  # NEVs above all new vehicles: row turns red
    assert "table-danger" in page.get_attribute("tr[data-category=bus]", "class")
    page.fill("input[name=bus_all_new]", "50")
    with page.expect_navigation():  # the rules are checked first, then the form is sent
        page.click("#submit-return")
    assert "已报送部里" in page.inner_text("main")
    page.screenshot(path=str(tmp_path / "city-submitted.png"), full_page=True)
    sign_out(page)

    sign_in(page, base, users["ministry"].username)
    page.goto(f"{base}/review/")
    page.click("#queue a.btn")
    page.wait_for_load_state()
    assert "1,242" in page.inner_text("#numbers")
    page.click("#approve")
    page.wait_for_load_state()
    assert "已审核通过" in page.inner_text("main")
    page.screenshot(path=str(tmp_path / "ministry-approved.png"), full_page=True)

    assert blocked == []  # the Content-Security-Policy blocked nothing on the way

    db.session.expire_all()
    ret = db.session.scalar(select(MonthlyReturn).where(MonthlyReturn.period == month))
    assert ret.status == "approved" and ret.approved_by.username == "ministry1"
    assert (tmp_path / "city-submitted.png").stat().st_size > 10_000
    assert (tmp_path / "ministry-approved.png").stat().st_size > 10_000


def test_sortable_tables_and_progress_bars_work_under_the_csp(live_server, browser, request):
    """The dashboard's table sorts on a click and its bar has its width from the stylesheet,
    with scripts and styles from the app only."""
    app, base = live_server
    request.getfixturevalue("users")
    window_around_today()
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    blocked = watch_csp(page)
    response = page.goto(f"{base}/login")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    sign_in(page, base, "ministry1")
    page.goto(f"{base}/progress/")
    cities = "#city-table tbody tr td:first-child"
    before = page.locator(cities).all_inner_texts()
    page.click("#city-table th[data-sort=text]")
    after = page.locator(cities).all_inner_texts()
    assert page.get_attribute("#city-table th[data-sort=text]", "aria-sort") == "ascending"
    page.click("#city-table th[data-sort=text]")
    assert page.locator(cities).all_inner_texts() == list(reversed(after))
    assert sorted(before) == sorted(after) and len(after) == 25
    height = page.eval_on_selector(".progress-thin", "e => e.getBoundingClientRect().height")
    assert 8 <= height <= 11  # .6rem from progress.css, not an inline style
    assert blocked == []
