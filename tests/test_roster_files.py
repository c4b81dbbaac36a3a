"""The roster's files: the template reads back, the exports stream (the first bytes before
the rows are all read), the .xlsx opens with frozen, filtered headers and real dates, text
never becomes a formula."""

import io
from datetime import date

from openpyxl import load_workbook
from python_calamine import CalamineWorkbook

from fleet.domain.excel import roster_files
from fleet.domain.excel.stream import stream_xlsx
from fleet.domain.vehicle_rules import HEADERS_ZH

ROW = ("440300", "深圳市", "Shenzhen", "2026-03", "1M8GDM9AXKP042788", "粤BD12345", "bus",
       "bev", date(2026, 3, 5), "=HYPERLINK(\"x\")", "M", "比亚迪")


def rows(n: int, seen: list):
    for i in range(n):
        seen.append(i)
        yield ROW


def test_csv_export_streams_before_reading_every_row():
    seen: list = []
    chunks = roster_files.export_csv(rows(10_000, seen), "zh")
    first = next(chunks)
    assert first.startswith(b"\xef\xbb\xbf") and "城市代码" in first.decode("utf-8-sig")
    assert len(seen) == 0  # the header left before any row was read
    second = next(chunks)
    assert 0 < len(seen) < 10_000 and b"'=HYPERLINK" in second  # neutralised formula
    assert sum(len(c) for c in chunks) > 0 and len(seen) == 10_000


def test_xlsx_export_streams_and_opens_cleanly():
    seen: list = []
    chunks = roster_files.export_xlsx(rows(5000, seen), "en")
    head = next(chunks)
    assert head.startswith(b"PK") and len(seen) == 0
    data = head + b"".join(chunks)
    sheet = load_workbook(io.BytesIO(data)).active
    assert sheet.max_row == 5001 and sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:K5001"
    assert sheet.cell(2, 8).value.date() == date(2026, 3, 5)
    assert sheet.cell(2, 9).value == '=HYPERLINK("x")' and sheet.cell(2, 9).data_type == "s"
    assert sheet.cell(1, 6).value == "Category" and sheet.cell(2, 6).value == "City buses"


def test_stream_xlsx_escapes_and_drops_illegal_characters():
    data = b"".join(stream_xlsx("s", ["a"], [["<b>&\x01"]]))
    assert load_workbook(io.BytesIO(data)).active["A2"].value == "<b>&"


def test_the_template_has_lists_dates_and_a_frozen_header(app, cities):
    from fleet.domain.cities import city_by_code
    from fleet.extensions import db

    data = roster_files.build_roster_template(city_by_code(db.session, "440300"), "2026-03")
    book = load_workbook(io.BytesIO(data))
    sheet = book["车辆明细"]
    assert [c.value for c in sheet[1]] == list(HEADERS_ZH) and sheet.freeze_panes == "A2"
    lists = [dv for dv in sheet.data_validations.dataValidation if dv.type == "list"]
    assert {str(dv.sqref).split(":")[0] for dv in lists} == {"C2", "D2"}
    assert book["lists"].sheet_state == "hidden"
    first = CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0)
    assert first.name == "车辆明细"
