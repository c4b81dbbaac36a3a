"""The blank return template (layout, protection, validation, formulas, print set-up) and the
filled return as a printable form, with who may download which."""

import io
import re
import zipfile
from datetime import datetime

import openpyxl
import pytest

from fleet.domain.cities import city_by_code
from fleet.domain.excel.template import build_return_template
from fleet.domain.periods import add_months
from fleet.domain.reference import CATEGORIES
from fleet.domain.rules import MAX_MONTHLY_COUNT
from fleet.extensions import db

from .excel_helpers import libreoffice_roundtrip
from .factories import make_return, make_user
from .returns_helpers import this_month

INPUTS = [f"{c}{r}" for r in range(7, 15) for c in "BCDF"] + ["B18", "B19", "A22"]


def open_book(data: bytes, **kwargs):
    return openpyxl.load_workbook(io.BytesIO(data), **kwargs)


def test_the_template_reads_like_the_form(app, cities):
    city = city_by_code(db.session, "440300")
    wb = open_book(build_return_template(city, "2025-09", "zh"))
    ws = wb["总表"]
    assert wb.sheetnames == ["总表", "_fleet"]
    assert "新能源汽车推广应用月报" in ws["A1"].value
    # City code and month are filled in, as text.
    assert (ws["B2"].value, ws["D2"].value, ws["F2"].value) == ("440300", "深圳市", "2025-09")
    assert ws["B2"].data_type == "s" and ws["F2"].data_type == "s"
    assert [ws.cell(6, c).value for c in range(1, 8)] == [
        "领域", "纯电动", "插电式混合动力(含增程式)", "燃料电池", "新能源汽车小计",
        "全部新增车辆（含非新能源）", "新能源占比"]
    assert [ws.cell(r, 1).value for r in range(7, 15)] == [c.name_zh for c in CATEGORIES]
    assert ws["A15"].value == "合计"
    assert ws["A18"].value == "新增公共充电桩" and ws["A19"].value == "新增换电站"
    assert ws["A21"].value == "三、备注"
    # Live totals.
    assert ws["E8"].value == "=SUM(B8:D8)"
    assert ws["B15"].value == "=SUM(B7:B14)" and ws["E15"].value == "=SUM(E7:E14)"
    assert ws["G15"].value.startswith("=IF(")
    # Every input cell is empty, ready to fill.
    assert all(ws[c].value is None for c in INPUTS)


def test_only_the_input_cells_are_unlocked_and_they_take_whole_numbers(app, cities):
    wb = open_book(build_return_template(city_by_code(db.session, "440300"), "2025-09"))
    ws = wb["总表"]
    assert ws.protection.sheet is True
    assert wb.security.lockStructure is True
    for coordinate in INPUTS:
        assert ws[coordinate].protection.locked is False, coordinate
    for coordinate in ("B2", "F2", "A8", "E8", "G8", "B15", "E15", "A18"):
        assert ws[coordinate].protection.locked is True, coordinate
    validations = {str(dv.sqref): dv for dv in ws.data_validations.dataValidation}
    whole = next(dv for dv in validations.values() if dv.type == "whole")
    assert (whole.operator, whole.formula1, whole.formula2) == (
        "between", "0", str(MAX_MONTHLY_COUNT))
    covered = set(str(whole.sqref).split())
    assert covered == set(INPUTS) - {"A22"}
    assert whole.showErrorMessage and "整数" in whole.error


def test_the_template_prints_on_a4_landscape(app, cities):
    ws = open_book(build_return_template(city_by_code(db.session, "440300"), "2025-09"))["总表"]
    assert ws.page_setup.orientation == "landscape"
    assert int(ws.page_setup.paperSize) == 9  # A4
    assert ws.sheet_properties.pageSetUpPr.fitToPage is True
    assert int(ws.page_setup.fitToWidth) == 1 and int(ws.page_setup.fitToHeight) == 0
    assert ws.print_title_rows == "$1:$6"
    # Wide enough for the longest Chinese sector name (two columns a character).
    assert ws.column_dimensions["A"].width >= 2 * len("特定场景重型货车")


def test_the_template_is_identified_by_a_hidden_marker_and_names(app, cities):
    wb = open_book(build_return_template(city_by_code(db.session, "440300"), "2025-09"))
    meta = wb["_fleet"]
    assert meta.sheet_state == "veryHidden"
    assert [[c.value for c in row] for row in meta.iter_rows(max_row=3)] == [
        ["fleet-return-template", "1"], ["city_code", "440300"], ["period", "2025-09"]]
    assert wb.defined_names["fleet_bus_bev"].attr_text == "'总表'!$B$8"
    assert wb.defined_names["fleet_notes"].attr_text == "'总表'!$A$22"


def test_the_english_template(app, cities):
    ws = open_book(build_return_template(city_by_code(db.session, "440300"), "2025-09",
                                         "en"))["Return"]
    assert ws["A6"].value == "Sector" and ws["B6"].value == "Battery electric"
    assert ws["A8"].value == "City buses" and ws["D2"].value == "Shenzhen"
    assert ws["G2"].value == "Sep 2025"


def test_template_totals_recalculate_in_libreoffice(app, cities, tmp_path):
    data = build_return_template(city_by_code(db.session, "440300"), "2025-09")
    wb = open_book(data)
    ws = wb["总表"]
    ws["B8"], ws["C8"], ws["F8"], ws["B9"], ws["F9"] = 8, 2, 20, 5, 5
    out = io.BytesIO()
    wb.save(out)
    ws = open_book(libreoffice_roundtrip(out.getvalue(), tmp_path), data_only=True)["总表"]
    assert (ws["E8"].value, ws["G8"].value) == (10, 0.5)
    assert (ws["B15"].value, ws["E15"].value, ws["F15"].value) == (13, 15, 25)
    assert ws["G15"].value == pytest.approx(0.6)


def test_no_template_for_a_future_month(client, auth, setup):
    auth.login("shenzhen")
    response = client.get(f"/returns/{add_months(this_month(), 1)}/template.xlsx")
    assert response.status_code == 302
    assert client.get("/returns/2025-13/template.xlsx").status_code == 404


# --- the filled return --------------------------------------------------------------------------

@pytest.fixture
def approved(setup):
    city = city_by_code(db.session, "440300")
    clerk = setup["city"]
    clerk.display_name = "@张三"  # user text that looks like a formula
    reviewer = setup["ministry"]
    return make_return(
        city, this_month(), "approved", counts={"bus": {"bev": 40, "phev": 2},
                                                "taxi": {"bev": 100}},
        all_new={"bus": 45, "taxi": 130}, charging_points=150, swap_stations=1,
        notes='=HYPERLINK("http://example.invalid","点击")', submitted_by_id=clerk.id,
        submitted_at=datetime(2025, 10, 8, 6, 30), approved_by_id=reviewer.id,
        approved_at=datetime(2025, 10, 9, 1, 0), submitted_late=True)


def test_the_filled_return_is_a_printable_form(client, auth, approved):
    auth.login("ministry1")
    detail = client.get(f"/review/returns/{approved.id}").get_data(as_text=True)
    url = f"/excel/returns/440300/{this_month()}.xlsx"
    assert f'href="{url}"' in detail
    response = client.get(url)
    assert response.status_code == 200
    assert (f'filename="fleet-return-440300-{this_month()}-approved.xlsx"'
            in response.headers["Content-Disposition"])
    ws = open_book(response.data)["总表"]
    assert ws["B2"].value == "深圳市 (440300)"
    assert ws["D2"].value.endswith("月") and ws["D2"].value.startswith(this_month()[:4])
    header = {ws.cell(r, c).value: ws.cell(r, c + 1).value for r in (2, 3, 4) for c in (1, 3, 5)}
    assert header["状态"] == "已通过 · 迟报"
    assert header["提交人"] == "@张三 (shenzhen)"
    assert header["提交时间"] == "2025-10-08 14:30"  # Beijing time
    assert header["审核通过人"] == "ministry1" and header["通过时间"] == "2025-10-09 09:00"
    # The numbers and their totals, as values on paper.
    assert [ws.cell(8, c).value for c in range(2, 8)] == [40, 2, 0, 42, 45, 42 / 45]
    assert [ws.cell(15, c).value for c in range(2, 7)] == [140, 2, 0, 142, 175]
    assert ws["B18"].value == 150 and ws["B19"].value == 1
    assert ws.page_setup.orientation == "landscape"


def test_user_text_in_the_filled_return_is_never_a_formula(client, auth, approved):
    auth.login("ministry1")
    data = client.get(f"/excel/returns/440300/{this_month()}.xlsx").data
    ws = open_book(data)["总表"]
    notes = ws["A22"]
    assert notes.value == '=HYPERLINK("http://example.invalid","点击")'
    assert notes.data_type == "s" and notes.quotePrefix
    submitter = next(ws.cell(r, 2) for r in (2, 3, 4) if ws.cell(r, 1).value == "提交人")
    assert submitter.data_type == "s" and submitter.quotePrefix
    sheet_xml = zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet_xml and "HYPERLINK" not in re.sub(r"<is>.*?</is>", "", sheet_xml)


def test_who_may_download_a_filled_return(client, auth, approved):
    url = f"/excel/returns/440300/{this_month()}.xlsx"
    for username in ("ministry1", "viewer1", "admin1", "shenzhen"):
        auth.login(username)
        assert client.get(url).status_code == 200, username
        auth.logout()
    auth.login("beijing")
    assert client.get(url).status_code == 404
    assert client.get(f"/excel/returns/110000/{this_month()}.xlsx").status_code == 404
    auth.logout()
    assert client.get(url).status_code == 302  # to the sign-in page


def test_the_form_offers_the_excel_files(client, auth, setup):
    auth.login("shenzhen")
    page = client.get(f"/returns/{this_month()}").get_data(as_text=True)
    assert f"/returns/{this_month()}/template.xlsx" in page
    assert f"/returns/{this_month()}/upload" in page
    assert 'id="download-filled"' not in page  # nothing to print yet
    make_return(city_by_code(db.session, "440300"), this_month(), "submitted")
    page = client.get(f"/returns/{this_month()}").get_data(as_text=True)
    assert f"/excel/returns/440300/{this_month()}.xlsx" in page
    assert 'id="upload-template"' not in page  # a submitted return is not edited


def test_a_sent_back_return_prints_the_ministrys_comment(client, auth, setup):
    make_return(city_by_code(db.session, "440300"), this_month(), "returned",
                counts={"bus": {"bev": 1}}, review_comment="-请补充出租车数据")
    make_user("clerk2", "city", city_by_code(db.session, "440300"))
    auth.login("clerk2")
    ws = open_book(client.get(f"/excel/returns/440300/{this_month()}.xlsx").data)["总表"]
    comment = next(ws.cell(r, 2) for r in range(20, 40) if ws.cell(r, 1).value == "审核意见")
    assert comment.value == "-请补充出租车数据" and comment.data_type == "s"
