"""The dashboard, the completeness grid and the city pages: what each role sees.

The fixture's months (2025-01..03) are long past their due dates, so the pages are asked
for ?through=2025-03 and show the same figures as tests/test_figures.py.
"""

import re

import pytest

from fleet.domain.programme import get_programme
from fleet.extensions import db

from .progress_helpers import make_progress_fixture

Q = "?through=2025-03"


@pytest.fixture
def data(users):
    return make_progress_fixture()


def page(client, url, status=200):
    response = client.get(url)
    assert response.status_code == status, response.status_code
    return response.get_data(as_text=True)


def city_row(html, code):
    """The cells of one city's row in the dashboard table, as text."""
    row = re.search(rf'<tr data-city="{code}">(.*?)</tr>', html, re.S).group(1)
    return [re.sub(r"<[^>]+>|\s+", "", cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>",
                                                                       row, re.S)]


def test_dashboard_headline_and_city_table(client, auth, data):
    auth.login("ministry1")
    html = page(client, "/progress/" + Q)
    assert "全国进展" in html and "截至2025年3月" in html
    assert 'id="kpi-cumulative">113<' in html
    assert "占全国目标 700,000 辆的 0.0%" in html
    assert "进度滞后" in html  # projection 904 is far below 700,000
    assert 'id="kpi-projection">904' in html
    assert "报送口径：统计已报送和已通过的月报" in html
    # City, target, cumulative, % of target, this month, NEV share, VIN coverage (no
    # rosters here: 0 %), missing, late
    assert city_row(html, "440300") == ["深圳市", "1,000", "47", "4.7%", "0", "90.4%", "0.0%",
                                        "1", "1"]
    assert city_row(html, "110000") == ["北京市", "2,000", "62", "3.1%", "12", "86.1%", "0.0%",
                                        "1", "1"]
    assert city_row(html, "320200") == ["无锡市", "—", "4", "—", "0", "40.0%", "0.0%", "2",
                                        "0"]
    assert 'data-city="120000"' not in html  # inactive: not in the table
    assert re.search(r'data-category="postal">.*?40\.0%', html, re.S)
    assert re.search(r'data-powertrain="fcev"><td>燃料电池</td><td class="num">7<', html)
    assert "/progress/charts/national.png?basis=reported&amp;through=2025-03" in html
    assert "js/sortable.js" in html and 'class="table table-sm table-hover sortable"' in html


def test_dashboard_filters_basis_and_category(client, auth, data):
    auth.login("ministry1")
    html = page(client, "/progress/?basis=verified&through=2025-03")
    assert 'id="kpi-cumulative">48<' in html and "审核口径：只统计部里审核通过的月报" in html
    assert city_row(html, "440300")[2] == "32"
    taxi = page(client, "/progress/?category=taxi&through=2025-03")
    assert city_row(taxi, "440300")[2] == "20" and city_row(taxi, "110000")[2] == "50"
    assert city_row(taxi, "110000")[5] == "83.3%"  # 50 / 60
    assert "目标涵盖全部领域" in taxi
    feb = page(client, "/progress/?through=2025-02")
    assert 'id="kpi-cumulative">101<' in feb
    for bad in ("?basis=guess", "?through=2025-13", "?category=boats"):
        page(client, "/progress/" + bad, 400)


def test_dashboard_in_english(client, auth, data):
    auth.login("viewer1")
    client.get("/lang/en")
    html = page(client, "/progress/" + Q)
    assert "National progress" in html and "through Mar 2025" in html
    assert "0.0% of the national target of 700,000" in html
    assert "Shenzhen" in html and "全国进展" not in html


def test_grid_shows_each_state_with_counts(client, auth, data):
    auth.login("ministry1")
    html = page(client, "/progress/grid" + Q)
    cells = _grid_cells(html)
    assert cells["440300"] == [("approved", False), ("submitted", True), ("returned", False)]
    assert cells["110000"] == [("submitted", False), ("late", False), ("approved", True)]
    assert cells["320200"] == [("late", False), ("approved", False), ("late", False)]
    assert cells["510100"] == [("late", False)] * 3  # Chengdu sent nothing
    assert len(cells) == 24  # the 25 pilot cities less inactive Tianjin
    row = re.search(r'<tr data-city="440300">.*?</tr>', html, re.S).group(0)
    assert 'data-count="received">2/3<' in row and 'data-count="missing">1<' in row
    assert "已通过" in html and "逾期" in html and "未到期" in html  # the legend, in words
    assert "/review/returns/" in row  # a cell with a return links to it


def test_the_grid_names_overdue_and_late_apart_in_english_too(client, auth, data):
    """Issue 11, item 4: one message id "Late" served both meanings; each has its words."""
    auth.login("viewer1")
    client.get("/lang/en")
    html = page(client, "/progress/grid" + Q)
    head = re.search(r"<thead>(.*?)</thead>", html, re.S).group(1)
    assert "<th>Submitted late</th><th>Overdue, not submitted</th>" in head
    foot = re.search(r"<tfoot>(.*?)</tfoot>", html, re.S).group(1)
    assert 'data-count="late"><th class="city" scope="row">Submitted late<' in foot
    assert 'data-count="overdue"><th class="city" scope="row">Overdue, not submitted<' in foot
    legend = " ".join(re.sub(r"<[^>]+>", " ", re.search(r'id="legend">(.*?)</ul>', html,
                                                         re.S).group(1)).split())
    assert "overdue Overdue, not submitted" in legend and "! Submitted late" in legend


def _grid_cells(html):
    cells = {}
    for row in re.finditer(r'<tr data-city="(\d+)">(.*?)</tr>', html, re.S):
        cells[row.group(1)] = [(m.group(2), bool(m.group(3))) for m in re.finditer(
            r'data-period="([\d-]+)" data-state="(\w+)"( data-late="1")?', row.group(2))]
    return cells


def test_city_page_for_the_ministry(client, auth, data):
    auth.login("ministry1")
    html = page(client, "/progress/cities/440300" + Q)
    assert "深圳市" in html and 'id="kpi-cumulative">47<' in html
    assert "占本市目标 1,000 辆的 4.7%" in html
    assert re.search(r'data-period="2025-03" data-state="returned"', html)
    assert "原因：公交新增数量有误，请核实" in html
    assert re.search(r'data-period="2025-02" data-state="submitted"', html)
    assert "迟报" in html  # February came in late
    assert "/progress/cities/440300/chart.png?basis=reported&amp;through=2025-03" in html
    page(client, "/progress/cities/999999", 404)


def test_city_user_sees_only_its_own_city(client, auth, data):
    auth.login("shenzhen")
    assert client.get("/progress/my-city").headers["Location"] == "/progress/cities/440300"
    html = page(client, "/progress/cities/440300" + Q)
    assert 'id="kpi-cumulative">47<' in html
    assert "/returns/2025-01" in html  # its own return form, not the review page
    assert "北京市" not in html
    page(client, "/progress/cities/110000" + Q, 404)
    page(client, "/progress/", 403)
    page(client, "/progress/grid", 403)
    # The menu offers the city page, not the national ones.
    menu = page(client, "/progress/cities/440300")
    assert 'href="/progress/my-city"' in menu and 'href="/progress/"' not in menu


def test_ministry_has_no_my_city_and_anonymous_must_sign_in(client, auth, data):
    response = client.get("/progress/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    auth.login("admin1")
    page(client, "/progress/my-city", 403)
    page(client, "/progress/grid" + Q)


def test_demo_banner(client, auth, data):
    auth.login("ministry1")
    assert "演示数据" not in page(client, "/progress/" + Q)
    get_programme(db.session).demo_data = True
    db.session.commit()
    assert "当前载入的是演示数据" in page(client, "/progress/" + Q)


def test_pages_and_charts_work_before_any_return(client, auth, users):
    auth.login("ministry1")
    html = page(client, "/progress/")
    assert 'id="kpi-cumulative">0<' in html and "24 个城市尚未设定目标" not in html
    assert "25 个城市尚未设定目标" in html
    page(client, "/progress/grid")
    page(client, "/progress/cities/440300")
    for url in ("/progress/charts/national.png", "/progress/charts/monthly.svg",
                "/progress/charts/cities.png", "/progress/cities/440300/chart.svg"):
        assert client.get(url).status_code == 200, url


def test_a_dollar_in_a_city_name_is_just_text(client, auth, users):
    from .factories import make_city, make_return

    city = make_city("440300", nev_target=100)
    city.name_zh = r"深圳$\x$市"  # to matplotlib's mathtext, a formula it cannot parse
    db.session.commit()
    make_return(city, "2025-01", "approved", {"bus": {"bev": 5}})
    auth.login("ministry1")
    for url in ("/progress/charts/cities.png?through=2025-01",
                "/progress/cities/440300/chart.png?through=2025-01"):
        assert client.get(url).status_code == 200, url
