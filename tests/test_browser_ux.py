"""What a clerk, a reviewer and an admin trip on, tried in a real browser (issue 11).

Playwright drives Debian's Chromium against the app served by a real server thread (the
fixtures of test_browser). Screenshots of the city form, the upload preview with errors, the
grid at 1366 px and the dashboard are kept in build/screenshots (FLEET_SCREENSHOT_DIR)."""

import os
from pathlib import Path

import pytest

from fleet.domain.excel.template import build_return_template

from .excel_helpers import fill
from .factories import make_return
from .returns_helpers import the_return, this_month, window_around_today
from .test_browser import CHROMIUM, browser, live_server, sign_in  # noqa: F401

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="no Chromium here (apt-get install chromium)"),
]

SHOTS = Path(os.environ.get("FLEET_SCREENSHOT_DIR")
             or Path(__file__).resolve().parent.parent / "build" / "screenshots")


def screenshot(page, name: str) -> Path:
    """Save a full-page screenshot where a person can open it after the run."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    # As a person would see the page, not the test's pointer: nothing hovered or focused
    # (a button left under the pointer looks pressed), its colour transition finished.
    page.mouse.move(0, 0)
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.wait_for_timeout(300)
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000
    return path


def bev_of(category: str) -> int:
    """Battery-electric vehicles of a sector in Shenzhen's return of this month, read fresh."""
    return {line.category: line.bev for line in the_return().lines}[category]


@pytest.fixture
def city_page(live_server, browser, request):  # noqa: F811
    """A city clerk of Shenzhen signed in, on this month's return form."""
    app, base = live_server
    users = request.getfixturevalue("users")
    window_around_today()
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    sign_in(page, base, users["city"].username)
    page.goto(f"{base}/returns/{this_month()}")
    return page, base


# --- 1. a click, then 120, gives 120 ------------------------------------------------------------

def test_a_click_then_typing_replaces_the_number(city_page):
    page, base = city_page
    field = page.locator("input[name=bus_bev]")
    assert field.input_value() == ""  # empty means 0 ...
    assert field.get_attribute("placeholder") == "0"  # ... and the grey 0 says so
    field.click()
    page.keyboard.type("120")
    assert field.input_value() == "120"
    page.fill("input[name=bus_all_new]", "150")
    page.click("button[name=save]")
    page.wait_for_load_state()
    assert bev_of("bus") == 120
    # A saved number: a click selects it, so typing replaces it.
    field = page.locator("input[name=bus_bev]")
    assert field.input_value() == "120"
    field.click()
    page.keyboard.type("95")
    assert field.input_value() == "95"


# --- 2. every error at once, on the form and in the upload preview ---------------------------

def test_the_form_reports_every_error_at_once(city_page):
    page, base = city_page
    page.fill("input[name=bus_bev]", "十二")
    page.fill("input[name=taxi_bev]", "30")
    page.fill("input[name=taxi_all_new]", "20")
    page.click("button[name=save]")
    page.wait_for_load_state()
    assert "is-invalid" in page.get_attribute("input[name=bus_bev]", "class")
    assert "is-invalid" in page.get_attribute("input[name=taxi_all_new]", "class")
    assert "超过该领域全部新增车辆（20）" in page.inner_text("#return-form")
    assert the_return() is None


def test_the_upload_preview_lists_every_error_and_marks_their_rows(city_page):
    page, base = city_page
    from fleet.domain.cities import city_by_code
    from fleet.extensions import db

    city = city_by_code(db.session, "440300")
    data = fill(build_return_template(city, this_month(), "zh"),
                {"C9": "十二", "B11": 30, "C11": 2, "F11": 20, "B7": 5, "F7": 10})
    page.goto(f"{base}/returns/{this_month()}/upload")
    page.set_input_files("input[type=file]", files=[{
        "name": "月报.xlsx", "buffer": data,
        "mimeType": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}])
    page.click("#check-upload")
    page.wait_for_load_state()
    errors = page.inner_text("#upload-errors")
    assert "总表!C9" in errors and "总表!F11" in errors  # both, in one round
    wrong = page.locator("#changes tr.has-error")
    assert wrong.count() == 2
    changed = page.locator("#changes tr.changed")
    assert changed.count() >= 1
    # An error row does not look like a row that merely changes.
    colour = "el => getComputedStyle(el.querySelector('td')).backgroundColor"
    assert wrong.first.evaluate(colour) != changed.first.evaluate(colour)
    assert "错误" in wrong.first.inner_text()
    screenshot(page, "upload-preview-errors")


# --- 3. the rules' warnings before submitting ---------------------------------------------------

def test_warnings_show_while_typing_and_submitting_asks_to_confirm_them(city_page):
    page, base = city_page
    page.fill("input[name=bus_bev]", "290")
    page.fill("input[name=bus_all_new]", "300")
    page.fill("input[name=charging_points]", "5000")
    page.wait_for_selector("#check-warnings")
    assert "充电桩" in page.inner_text("#check-warnings")
    page.fill("input[name=charging_points]", "300")
    page.click("#check-return")
    page.wait_for_selector("#check-ok")
    page.fill("input[name=charging_points]", "5000")
    page.click("#check-return")
    page.wait_for_selector("#check-warnings")
    screenshot(page, "city-form")
    asked = []

    def answer(dialog):
        asked.append(dialog.message)
        dialog.dismiss()  # no: go back and correct it

    page.on("dialog", answer)
    page.click("#submit-return")
    page.wait_for_function("() => true")
    page.wait_for_timeout(500)
    assert asked and "充电桩" in asked[0] and "报送" in asked[0]
    assert the_return() is None  # nothing was sent


# --- 7. two clerks, one return ------------------------------------------------------------------

def test_the_second_clerk_keeps_their_input_beside_the_saved_numbers(city_page, browser):  # noqa: F811
    page, base = city_page
    from fleet.domain.cities import city_by_code
    from fleet.extensions import db

    make_return(city_by_code(db.session, "440300"), this_month(), counts={"bus": {"bev": 10}},
                all_new={"bus": 20})
    db.session.commit()
    page.reload()
    other = browser.new_page(viewport={"width": 1366, "height": 900})
    sign_in(other, base, "shenzhen")
    other.goto(f"{base}/returns/{this_month()}")
    other.fill("input[name=bus_bev]", "15")
    other.click("button[name=save]")
    other.wait_for_load_state()

    page.fill("input[name=taxi_bev]", "120")
    page.fill("input[name=taxi_all_new]", "130")
    page.click("button[name=save]")
    page.wait_for_load_state()
    assert "其他人修改了这份月报" in page.inner_text("main")
    mine = page.inner_text("#conflict-table")
    assert "120" in mine and "130" in mine and "15" in mine
    assert page.input_value("input[name=bus_bev]") == "15"  # the numbers saved meanwhile
    page.click("#reapply")
    assert page.input_value("input[name=taxi_bev]") == "120"
    page.click("button[name=save]")
    page.wait_for_load_state()
    assert bev_of("taxi") == 120 and bev_of("bus") == 10  # all of my input, as listed


# --- 4. the grid says what it means, and hides nothing at 1366 px -----------------------------

@pytest.fixture
def demo_ministry(live_server, browser, request):  # noqa: F811
    """The demo returns loaded, and a ministry reviewer signed in at 1366 × 768."""
    from fleet.domain import demo
    from fleet.domain.audit import Actor
    from fleet.extensions import db

    app, base = live_server
    users = request.getfixturevalue("users")
    demo.load_demo(db.session, Actor.system("test"))
    db.session.commit()
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    sign_in(page, base, users["ministry"].username)
    return page, base


COUNTS_AGREE = """() => {
  const rows = [...document.querySelectorAll('#grid tbody tr')];
  const out = [];
  for (const row of rows) {
    const red = row.querySelectorAll('td[data-state=late]').length;
    const marked = row.querySelectorAll('td[data-late]').length;
    out.push([row.dataset.city, red, +row.querySelector('[data-count=overdue]').textContent,
              marked, +row.querySelector('[data-count=late]').textContent]);
  }
  return out;
}"""


def test_the_grid_counts_overdue_and_late_apart_and_they_agree(demo_ministry):
    page, base = demo_ministry
    page.goto(f"{base}/progress/grid")
    legend = page.inner_text("#legend")
    assert "逾期未报" in legend and "迟报" in legend
    header = page.inner_text("#grid thead")
    assert "逾期未报" in header and "迟报" in header
    rows = page.evaluate(COUNTS_AGREE)
    assert len(rows) == 25  # every active pilot city of the demo
    assert sum(r[1] for r in rows) > 0 and sum(r[3] for r in rows) > 0  # both occur
    for city, red, overdue, marked, late in rows:
        assert (red, marked) == (overdue, late), city  # cells and the row's counts agree
    totals = page.evaluate("""() => ['late', 'overdue'].map(kind => +document.querySelector(
        `#grid tfoot tr[data-count=${kind}] td.fw-semibold`).textContent)""")
    assert totals == [sum(r[4] for r in rows), sum(r[2] for r in rows)]
    summary = page.inner_text("#grid-summary")
    assert f"迟报 {totals[0]} 份" in summary and f"逾期未报 {totals[1]} 份" in summary
    # The column totals add up to the same.
    columns = page.evaluate("""() => [...document.querySelectorAll(
        '#grid tfoot tr[data-count=overdue] td')].slice(0, -4).map(td => +td.textContent || 0)""")
    assert sum(columns) == totals[1]


VISIBLE = """selector => {
  const el = document.querySelector(selector);
  const r = el.getBoundingClientRect();
  const x = r.left + r.width / 2, y = r.top + r.height / 2;
  if (x < 0 || y < 0 || x > innerWidth || y > innerHeight) return false;
  const hit = document.elementFromPoint(x, y);
  return !!hit && (hit === el || el.contains(hit));
}"""


def test_the_grid_at_1366_keeps_headers_cities_and_totals_in_sight(demo_ministry):
    page, base = demo_ministry
    page.goto(f"{base}/progress/grid")
    page.locator("#grid").evaluate("el => el.closest('.grid-scroll, .table-responsive')"
                                   ".scrollIntoView({block: 'end', behavior: 'instant'})")
    total = "#grid tfoot tr[data-count=missing] td:last-child"
    assert page.evaluate(VISIBLE, total), "the totals are out of sight"
    assert page.evaluate(VISIBLE, "#grid thead th:last-child")
    # Scrolled to the last city and the last month: headers and city names stay.
    page.locator("#grid").evaluate("el => { const box = el.parentElement; "
                                   "box.scrollTop = box.scrollHeight; "
                                   "box.scrollLeft = box.scrollWidth; }")
    assert page.evaluate(VISIBLE, "#grid tbody tr:last-child td:nth-last-child(5)")
    assert page.evaluate(VISIBLE, "#grid thead th:nth-last-child(5)")  # the last month
    assert page.evaluate(VISIBLE, "#grid tbody tr:last-child th.city")
    assert page.evaluate(VISIBLE, total)
    page.locator("#grid").evaluate("el => { el.parentElement.scrollTop = 0; "
                                   "el.parentElement.scrollLeft = 0; }")
    page.evaluate("window.scrollTo({top: 0, behavior: 'instant'})")
    screenshot(page, "grid-1366")


def test_the_dashboard(demo_ministry):
    page, base = demo_ministry
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"{base}/progress/")
    assert "全国" in page.inner_text("main")
    # Scrolled to the bottom, the lazy charts load.
    page.evaluate("window.scrollTo({top: document.body.scrollHeight, behavior: 'instant'})")
    page.wait_for_load_state("networkidle")
    page.wait_for_function("() => [...document.images].every(i => i.complete && i.naturalWidth)")
    screenshot(page, "dashboard")


# --- 6. a menu on one line, an icon ------------------------------------------------------------

ONE_LINE = """() => [...document.querySelectorAll(
    'nav .nav-link, nav .navbar-brand, #whoami, nav button, nav .lang-switch')]
  .filter(el => el.offsetParent !== null)
  .filter(el => el.getClientRects().length > 1 || el.getBoundingClientRect().height > 44)
  .map(el => el.textContent.trim())"""


# Names as people have them: the menu must fit with them, not only with bare user names.
DISPLAY_NAMES = {"admin": "信息中心 王建国", "ministry": "运输服务司 李明",
                 "city": "深圳市交通运输局综合规划处 欧阳晓明", "viewer": "国家发展改革委 赵丽",
                 "auditor": "审计组 陈静"}


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("role", ["admin", "ministry", "city", "viewer", "auditor"])
def test_the_menu_fits_at_1280_and_collapses_below(live_server, browser, request, role, lang):  # noqa: F811
    from fleet.domain.notices import notify
    from fleet.extensions import db

    app, base = live_server
    users = request.getfixturevalue("setup")
    user = users[role]
    user.display_name = DISPLAY_NAMES[role]
    db.session.commit()
    # Unread notices: the inbox link shows their count.
    notify(db.session, [user], "approved", {"city": "深圳市", "month": "2026-10"})
    db.session.commit()
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    sign_in(page, base, user.username)
    if lang == "en":
        page.click("nav .lang-switch a")
        page.wait_for_load_state()
    assert DISPLAY_NAMES[role] in page.inner_text("#whoami")
    for width in (1280, 1366, 1920):
        page.set_viewport_size({"width": width, "height": 800})
        assert page.evaluate(ONE_LINE) == [], width  # no item wraps
        assert page.locator("nav.navbar").bounding_box()["height"] < 70, width
        assert not page.locator(".navbar-toggler").is_visible()
        assert page.evaluate(CUT_SHORT, "#whoami") is False, width  # the name in full
    page.set_viewport_size({"width": 1024, "height": 800})
    assert page.locator(".navbar-toggler").is_visible()
    page.click(".navbar-toggler")
    page.wait_for_selector("#mainnav.show")
    assert page.evaluate(ONE_LINE) == []


CUT_SHORT = "selector => { const el = document.querySelector(selector); " \
            "return el.scrollWidth > el.clientWidth; }"


def test_a_very_long_name_is_cut_short_not_wrapped(live_server, browser, request):  # noqa: F811
    from fleet.extensions import db

    app, base = live_server
    users = request.getfixturevalue("setup")
    name = "国家发展和改革委员会基础设施发展司综合处 " * 3 + "欧阳晓明"
    users["admin"].display_name = name
    db.session.commit()
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    sign_in(page, base, users["admin"].username)
    assert page.evaluate(ONE_LINE) == []
    assert page.locator("nav.navbar").bounding_box()["height"] < 70
    assert page.evaluate(CUT_SHORT, "#whoami") is True  # with "…", the whole in the title
    assert page.get_attribute("#whoami", "title") == f"{name} · 系统管理员"
    assert page.locator("nav button[type=submit]").is_visible()


def test_every_page_has_an_icon(live_server):  # noqa: F811
    app, base = live_server
    client = app.test_client()
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response.mimetype == "image/vnd.microsoft.icon" and response.data[:4] == b"\0\0\1\0"
    assert 'rel="icon"' in client.get("/login").get_data(as_text=True)


# --- 8. accessibility: axe-core, WCAG 2.1 A and AA, on every page of every role ---------------

AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
AXE_RUN = """async () => {
  const result = await axe.run(document, {runOnly: {type: 'tag',
      values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}});
  return result.violations.map(v => v.id + ' (' + v.impact + '): ' +
      v.nodes.map(n => n.target.join(' ')).slice(0, 5).join(' | '));
}"""


def pages_of(role: str, month: str, ret_id: int, user_id: int) -> list[str]:
    """Every page a role reaches, with a real example of each parameter."""
    common = ["/account/password", "/account/tokens", "/inbox/", "/jobs/"]
    by_role = {
        "city": ["/returns", f"/returns/{month}", f"/returns/{month}/upload",
                 f"/returns/{month}/roster",
                 "/progress/cities/440300", "/returns/2099-01"],
        "ministry": ["/review/", f"/review/returns/{ret_id}", "/progress/", "/progress/grid",
                     "/progress/cities/440300", "/progress/roster", "/progress/briefing"],
        "viewer": ["/progress/", "/progress/grid", "/progress/cities/110000"],
        "admin": ["/admin/users", "/admin/users/new", f"/admin/users/{user_id}",
                  "/admin/cities", "/admin/cities/new", "/admin/cities/440300",
                  "/admin/programme", "/admin/tokens", "/admin/integrity", "/progress/",
                  "/progress/grid"],
        "auditor": ["/audit/"],
    }
    return by_role[role] + common


def axe_violations(page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    return page.evaluate(AXE_RUN)


def test_no_accessibility_violations_on_any_page(live_server, browser, request):  # noqa: F811
    from sqlalchemy import select

    from fleet.domain import demo
    from fleet.domain.audit import Actor
    from fleet.extensions import db
    from fleet.models import MonthlyReturn

    app, base = live_server
    users = request.getfixturevalue("users")
    demo.load_demo(db.session, Actor.system("test"))
    db.session.commit()
    window_around_today()
    ret_id = db.session.scalar(select(MonthlyReturn.id).order_by(MonthlyReturn.id.desc()))
    month = this_month()
    # axe is injected as a script of the test's own: the app's CSP (scripts from 'self' only)
    # is bypassed for it, not changed.
    page = browser.new_page(viewport={"width": 1366, "height": 900}, bypass_csp=True)
    found = {}
    page.goto(f"{base}/login")
    found["/login"] = axe_violations(page)
    for role in ("city", "ministry", "viewer", "admin", "auditor"):
        sign_in(page, base, users[role].username)
        urls = pages_of(role, month, ret_id, users["city"].id)
        menu = page.evaluate("() => [...document.querySelectorAll('nav a.nav-link')]"
                             ".map(a => new URL(a.href).pathname)")
        assert set(menu) - {"/progress/my-city"} <= set(urls), role  # every menu page
        for url in urls:
            page.goto(base + url)
            page.wait_for_load_state()
            found[f"{role} {url}"] = axe_violations(page)
        page.click("nav button[type=submit]")
        page.wait_for_load_state()
    bad = {where: v for where, v in found.items() if v}
    assert not bad, "\n".join(f"{w}: {v}" for w, v in bad.items())


# --- 9. small things ----------------------------------------------------------------------------

def test_a_future_month_shows_no_empty_excel_label(city_page):
    from fleet.domain.periods import add_months

    page, base = city_page
    page.goto(f"{base}/returns/{add_months(this_month(), 1)}")
    assert "不能填报未来月份的月报" in page.inner_text("main")
    assert page.locator("#excel-links").count() == 0
    assert "Excel:" not in page.inner_text("main")


def test_the_wrong_month_upload_names_the_month_as_the_app_does(city_page):
    from fleet.domain.cities import city_by_code
    from fleet.domain.periods import add_months, format_period
    from fleet.extensions import db

    page, base = city_page
    earlier = add_months(this_month(), -1)
    data = build_return_template(city_by_code(db.session, "440300"), earlier, "zh")
    page.goto(f"{base}/returns/{this_month()}/upload")
    page.set_input_files("input[type=file]", files=[{
        "name": "月报.xlsx", "buffer": data,
        "mimeType": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}])
    page.click("#check-upload")
    page.wait_for_load_state()
    text = page.inner_text("main")
    assert format_period(earlier, "zh") in text and format_period(this_month(), "zh") in text
    assert earlier not in text  # not "2026-10"


def test_the_city_pages_powertrain_table_has_a_heading(city_page):
    page, base = city_page
    page.goto(f"{base}/progress/my-city")
    assert page.inner_text("#powertrain-heading") == "分动力类型"
    assert page.get_attribute("#powertrain-table", "aria-labelledby") == "powertrain-heading"


def test_user_creation_keeps_the_password_and_names_every_rule(live_server, browser, request):  # noqa: F811
    app, base = live_server
    users = request.getfixturevalue("setup")
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    sign_in(page, base, users["admin"].username)
    page.goto(f"{base}/admin/users/new")
    assert "不得包含用户名" in page.inner_text("#password-rules")
    page.fill("input[name=username]", "shenzhen")  # taken: the creation fails
    page.fill("input[name=password]", "Kx7#mPq2Lw9z")
    page.click("main button[type=submit]")
    page.wait_for_load_state()
    assert page.locator(".invalid-feedback").count() >= 1
    assert page.input_value("input[name=password]") == "Kx7#mPq2Lw9z"


def test_the_first_sign_in_asks_for_a_new_password_once(live_server, browser, request):  # noqa: F811
    from fleet.extensions import db

    app, base = live_server
    users = request.getfixturevalue("setup")
    users["viewer"].must_change_password = True
    db.session.commit()
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    sign_in(page, base, users["viewer"].username)
    assert "/account/password" in page.url
    assert page.locator("main .alert").count() == 1
    assert page.inner_text("main").count("自己的密码") == 1
