"""The summary workbook and the flat CSV: the numbers of fleet.domain.figures, formulas that a
spreadsheet recalculates to the same totals, charts, filters, formats; who gets which file;
the stable URLs for scripts; user text never becomes a formula."""

import codecs
import csv
import io
import zipfile

import openpyxl
import pytest

from fleet.domain import figures
from fleet.domain.cities import city_by_code
from fleet.domain.excel.flat import build_flat_csv
from fleet.domain.excel.summary import build_summary_workbook
from fleet.domain.periods import add_months
from fleet.domain.reference import CATEGORIES
from fleet.extensions import db
from fleet.models import City

from .excel_helpers import libreoffice_roundtrip
from .factories import make_return
from .returns_helpers import this_month, window_around_today

EVIL = "=HYPERLINK(\"http://example.invalid\",\"x\")"


@pytest.fixture
def through(app, users):
    """Returns of three cities over the last months, on every status; one city's name looks
    like a formula."""
    window_around_today()
    through = add_months(this_month(), -1)
    p = [add_months(through, -k) for k in (3, 2, 1, 0)]
    shenzhen = city_by_code(db.session, "440300")
    beijing = city_by_code(db.session, "110000")
    other = db.session.scalars(db.select(City).where(City.code.notin_(["440300", "110000"]))
                               .order_by(City.code)).first()
    shenzhen.nev_target, beijing.nev_target = 30_000, 50_000
    other.name_zh, other.name_en = EVIL, "+" + other.name_en
    db.session.commit()
    make_return(shenzhen, p[0], "approved", counts={"bus": {"bev": 400, "phev": 20},
                                                    "taxi": {"bev": 1_200}},
                all_new={"bus": 450, "taxi": 1_500}, charging_points=1_500, swap_stations=3)
    make_return(shenzhen, p[1], "approved", counts={"bus": {"bev": 380},
                                                    "logistics": {"bev": 90, "fcev": 5}},
                charging_points=400, submitted_late=True)
    make_return(shenzhen, p[3], "submitted", counts={"taxi": {"bev": 2_345},
                                                     "heavy_truck": {"fcev": 12}},
                all_new={"taxi": 2_800, "heavy_truck": 30}, charging_points=2_000)
    make_return(beijing, p[0], "approved", counts={"official": {"bev": 55, "phev": 5},
                                                   "sanitation": {"bev": 77}},
                charging_points=100)
    make_return(beijing, p[1], "returned", counts={"bus": {"bev": 999}})
    make_return(beijing, p[2], "draft", counts={"bus": {"bev": 888}})
    make_return(beijing, p[3], "submitted", counts={"postal": {"bev": 310, "phev": 11}},
                submitted_late=True, charging_points=320)
    make_return(other, p[2], "approved", counts={"airport": {"bev": 12}}, all_new={"airport": 20})
    return through


def sheets(data: bytes, **kwargs) -> dict:
    wb = openpyxl.load_workbook(io.BytesIO(data), **kwargs)
    return {ws.title: ws for ws in wb.worksheets}


def rows(ws, first: int = 2) -> list[list]:
    return [list(r) for r in ws.iter_rows(min_row=first, values_only=True)]


@pytest.mark.parametrize("basis", ["reported", "verified"])
def test_the_summary_holds_the_figures_of_the_dashboard(client, auth, through, basis):
    auth.login("ministry1")
    response = client.get(f"/excel/summary.xlsx?basis={basis}&through={through}")
    assert response.status_code == 200
    assert (f'filename="fleet-summary-{through}-{basis}.xlsx"'
            in response.headers["Content-Disposition"])
    progress = figures.national_progress(db.session, basis, through)
    book = sheets(response.data)
    assert list(book) == ["概览", "按城市", "按月份", "按领域和动力类型", "明细数据"]

    by_city = rows(book["按城市"])
    assert len(by_city) == 26 and by_city[-1][0] == "合计"
    for row, city in zip(by_city, progress.cities, strict=False):
        completeness = city.completeness
        assert row[0] == city.code and row[4] == city.target
        assert row[5:13] == [c.nev for c in city.by_category]
        assert (row[15], row[17], row[18], row[19]) == (
            city.all_new, city.this_month, city.charging_points, city.swap_stations)
        assert row[20:25] == [completeness.expected, completeness.received, completeness.late,
                              completeness.missing, completeness.returned]

    by_month = rows(book["按月份"])
    assert [r[0] for r in by_month[:-1]] == [m.period for m in progress.by_month]
    for row, month in zip(by_month, progress.by_month, strict=False):
        assert row[1:4] == [month.bev, month.phev, month.fcev] and row[5] == month.all_new
        assert row[8:16] == [month.by_category[c.code] for c in CATEGORIES]
        assert row[16:18] == [month.charging_points, month.swap_stations]

    by_category = rows(book["按领域和动力类型"])
    for row, cat in zip(by_category, progress.by_category, strict=False):
        assert row[1:4] == [cat.bev, cat.phev, cat.fcev] and row[5] == cat.all_new

    overview = {r[0]: r[1] for r in rows(book["概览"], 1) if r and r[0]}
    assert overview["目标（辆）"] == progress.target == 700_000
    assert overview["按时间进度应完成（辆）"] == progress.expected_by_now
    assert overview["预计期末累计（辆）"] == progress.projection.value
    assert overview["报送期月数"] == progress.window.window_months

    flat = rows(book["明细数据"])
    expected = list(figures.flat_rows(db.session, basis, through))
    assert len(flat) == len(expected) > 0
    assert [(r[0], r[2], r[3], r[5], r[7]) for r in flat] == [
        (f.city_code, f.period, f.category, f.powertrain, f.count) for f in expected]
    assert sum(r[7] for r in flat) == progress.nev


def test_the_summary_recalculates_to_the_same_totals_in_libreoffice(client, auth, through,
                                                                     tmp_path):
    auth.login("ministry1")
    data = client.get(f"/excel/summary.xlsx?basis=reported&through={through}").data
    progress = figures.national_progress(db.session, "reported", through)
    book = sheets(libreoffice_roundtrip(data, tmp_path), data_only=True)
    overview = {r[0]: r[1] for r in rows(book["概览"], 1) if r and r[0]}
    assert overview["累计新增新能源汽车（辆）"] == progress.nev
    assert overview["完成目标比例"] == pytest.approx(progress.pct_of_target)
    assert overview["当月新增"] == progress.this_month
    assert overview["报送期已过比例"] == pytest.approx(progress.window.elapsed_share)
    assert overview["新能源占比"] == pytest.approx(progress.nev_share)
    assert overview["新增公共充电桩（个）"] == progress.charging_points
    assert overview["充电桩与新能源汽车之比"] == pytest.approx(progress.charging_per_nev)
    assert overview["应报月报（已到期）"] == progress.completeness.expected
    assert overview["已报月报"] == progress.completeness.received
    assert overview["报送完整率"] == pytest.approx(progress.completeness.completeness)
    assert overview["按时报送率"] == pytest.approx(progress.completeness.timeliness)
    assert overview["各城市目标合计（辆）"] == progress.city_targets_total

    by_city = rows(book["按城市"])
    for row, city in zip(by_city, progress.cities, strict=False):
        assert row[13] == city.nev  # =SUM of the categories
        if city.target:
            assert row[14] == pytest.approx(city.pct_of_target)
        if city.all_new:
            assert row[16] == pytest.approx(city.nev_share)
    total = by_city[-1]
    assert (total[13], total[15], total[18]) == (progress.nev, progress.all_new,
                                                 progress.charging_points)
    by_month = rows(book["按月份"])
    assert by_month[-1][4] == progress.nev
    assert [r[6] for r in by_month[:-1]] == [m.cumulative for m in progress.by_month]
    by_category = rows(book["按领域和动力类型"])
    assert by_category[-1][1:6] == [progress.bev, progress.phev, progress.fcev, progress.nev,
                                    progress.all_new]
    assert [r[4] for r in by_category[:-1]] == [c.nev for c in progress.by_category]


def test_the_summary_is_ready_for_reading_filtering_and_printing(client, auth, through):
    auth.login("ministry1")
    data = client.get(f"/excel/summary.xlsx?through={through}").data
    book = sheets(data)
    by_city, by_month, flat = book["按城市"], book["按月份"], book["明细数据"]
    assert (by_city.freeze_panes, by_month.freeze_panes, flat.freeze_panes) == ("C2", "B2", "A2")
    assert by_city.auto_filter.ref == "A1:AA26"  # the last two: VIN-backed NEVs, coverage
    assert flat.auto_filter.ref == f"A1:J{flat.max_row}"
    assert by_city["F2"].number_format == "#,##0" and by_city["O2"].number_format == "0.0%"
    assert flat["H2"].number_format == "#,##0"
    assert by_city["N27"].value == "=SUM(N2:N26)"  # totals are formulas
    assert by_city.column_dimensions["B"].width >= 8
    assert by_city.page_setup.orientation == "landscape"
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert {"xl/charts/chart1.xml", "xl/charts/chart2.xml"} <= set(names)
    chart = zipfile.ZipFile(io.BytesIO(data)).read("xl/charts/chart2.xml").decode()
    assert "按月份" in chart and 'val="stacked"' in chart


def test_user_text_never_becomes_a_formula(client, auth, through):
    auth.login("ministry1")
    data = client.get(f"/excel/summary.xlsx?through={through}").data
    book = sheets(data)
    name = next(r[1] for r in book["按城市"].iter_rows(min_row=2) if r[1].value == EVIL)
    assert name.data_type == "s" and name.quotePrefix
    flat = next(r[1] for r in book["明细数据"].iter_rows(min_row=2) if r[1].value == EVIL)
    assert flat.data_type == "s" and flat.quotePrefix
    for part in ("xl/worksheets/sheet2.xml", "xl/worksheets/sheet5.xml"):
        xml = zipfile.ZipFile(io.BytesIO(data)).read(part).decode()
        assert "<f>HYPERLINK" not in xml
    text = client.get(f"/excel/flat.csv?through={through}").data.decode("utf-8-sig")
    cells = [row[1] for row in csv.reader(io.StringIO(text))]
    assert "'" + EVIL in cells and EVIL not in cells


def test_the_csv_is_the_flat_data_for_excel(client, auth, through):
    auth.login("ministry1")
    response = client.get(f"/excel/flat.csv?basis=verified&through={through}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert (f'filename="fleet-data-{through}-verified.csv"'
            in response.headers["Content-Disposition"])
    assert response.data.startswith(codecs.BOM_UTF8)
    table = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert table[0][:4] == ["城市代码", "城市", "月份", "领域代码"]
    expected = list(figures.flat_rows(db.session, "verified", through))
    assert [(r[0], r[2], r[3], r[5], int(r[7])) for r in table[1:]] == [
        (f.city_code, f.period, f.category, f.powertrain, f.count) for f in expected]
    assert "深圳市" in {r[1] for r in table[1:]} and "城市公交" in {r[4] for r in table[1:]}


def test_a_city_user_gets_its_own_city_only(client, auth, through):
    auth.login("shenzhen")
    response = client.get(f"/excel/summary.xlsx?through={through}")
    assert (f'filename="fleet-summary-440300-{through}-reported.xlsx"'
            in response.headers["Content-Disposition"])
    book = sheets(response.data)
    by_city = rows(book["按城市"])
    assert [r[0] for r in by_city] == ["440300", "合计"]
    assert {r[0] for r in rows(book["明细数据"])} == {"440300"}
    progress = figures.city_progress(db.session, city_by_code(db.session, "440300"),
                                     "reported", through)
    overview = {r[0]: r[1] for r in rows(book["概览"], 1) if r and r[0]}
    assert overview["目标（辆）"] == 30_000
    assert overview["预计期末累计（辆）"] == progress.projection.value
    table = client.get(f"/excel/flat.csv?through={through}").data.decode("utf-8-sig")
    assert {row[0] for row in csv.reader(io.StringIO(table))} == {"城市代码", "440300"}
    # Another city, by any door: not found.
    for url in ("/excel/summary.xlsx?city=110000", "/excel/flat.csv?city=110000",
                "/api/v1/summary.xlsx?city=110000", "/api/v1/flat.csv?city=110000"):
        assert client.get(url).status_code == 404, url


def test_the_ministry_can_ask_for_one_citys_summary(client, auth, through):
    auth.login("viewer1")
    response = client.get(f"/excel/summary.xlsx?city=110000&basis=verified&through={through}")
    assert "fleet-summary-110000-" in response.headers["Content-Disposition"]
    assert [r[0] for r in rows(sheets(response.data)["按城市"])] == ["110000", "合计"]
    assert client.get("/excel/summary.xlsx?city=999999").status_code == 404


def test_stable_urls_for_scripts(client, auth, through):
    assert client.get("/api/v1/summary.xlsx").status_code == 401
    assert client.get("/api/v1/flat.csv").status_code == 401
    auth.login("admin1")
    response = client.get(f"/api/v1/summary.xlsx?basis=verified&through={through}")
    assert response.status_code == 200
    assert (f'filename="fleet-summary-{through}-verified.xlsx"'
            in response.headers["Content-Disposition"])
    page = client.get(f"/excel/summary.xlsx?basis=verified&through={through}")
    assert rows(sheets(response.data)["按城市"]) == rows(sheets(page.data)["按城市"])
    api_csv = client.get(f"/api/v1/flat.csv?basis=verified&through={through}")
    assert api_csv.data == client.get(f"/excel/flat.csv?basis=verified&through={through}").data
    bad = client.get("/api/v1/flat.csv?basis=everything")
    assert bad.status_code == 400 and "basis" in bad.get_json()["detail"]
    assert client.get("/api/v1/summary.xlsx?through=2025-13").status_code == 400
    assert client.get("/excel/summary.xlsx?basis=x").status_code == 400


def test_the_english_summary(app, through):
    progress = figures.national_progress(db.session, "reported", through)
    data = build_summary_workbook(progress, figures.flat_rows(db.session, "reported", through),
                                  "en")
    book = sheets(data)
    assert list(book) == ["Overview", "By city", "By month", "By sector and powertrain", "Data"]
    assert book["Data"]["E1"].value == "Sector" and book["By city"]["B2"].value == "Beijing"
    # A print of the data sheet is its heading row, and says how to print the rows.
    data_sheet = book["Data"]
    assert data_sheet.print_area == "'Data'!$A$1:$J$1"
    assert (f"{data_sheet.max_row - 1:,} rows of data" in data_sheet.oddFooter.left.text
            and "clear the print area" in data_sheet.oddFooter.left.text)
    assert build_flat_csv([], "en").decode("utf-8-sig").startswith("City code,City,Month")


def test_an_empty_programme_still_builds(app, users):
    window_around_today()
    progress = figures.national_progress(db.session, "verified")
    book = sheets(build_summary_workbook(progress, [], "zh"))
    assert rows(book["明细数据"]) == []
    assert len(rows(book["按城市"])) == 26


def test_the_download_links_partial(app):
    from flask import render_template_string

    with app.test_request_context():
        national = render_template_string('{% include "progress/_summary_links.html" %}',
                                          basis="verified", through="2026-03")
        one = render_template_string('{% include "progress/_summary_links.html" %}',
                                     basis="reported", through="2026-03",
                                     city=City(code="440300"))
    assert 'href="/excel/summary.xlsx?basis=verified&amp;through=2026-03"' in national
    assert 'href="/excel/flat.csv?basis=reported&amp;through=2026-03&amp;city=440300"' in one
