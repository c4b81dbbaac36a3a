"""The blank return template a city fills offline (in Excel, WPS or LibreOffice) and uploads."""

import io

from openpyxl import Workbook
from openpyxl.styles import Alignment, Protection
from openpyxl.utils import get_column_letter
from openpyxl.workbook.protection import WorkbookProtection
from openpyxl.worksheet.datavalidation import DataValidation

from ...models import City
from ..periods import format_period
from ..rules import MAX_MONTHLY_COUNT, MAX_NOTES_LENGTH
from . import layout
from .layout import text
from .safety import put_text

UNLOCKED = Protection(locked=False)


def build_return_template(city: City, period: str, lang: str = "zh") -> bytes:
    """An .xlsx with one sheet laid out like the web form, for this city and month ('YYYY-MM').

    City code and month are filled in and locked; only the input cells are unlocked and they
    accept whole numbers only; totals are live SUM formulas. A very hidden sheet and defined
    names identify the template and its cells for the upload.
    """
    lang = "en" if lang.startswith("en") else "zh"
    wb = Workbook()
    layout.use_one_font(wb)
    ws = wb.active
    ws.title = layout.SHEET_TITLE[lang]
    _header(ws, city, period, lang)
    layout.write_return_grid(ws, lang)
    layout.set_column_widths(ws, lang)

    cells = layout.input_cells()
    for coordinate in cells.values():
        ws[coordinate].protection = UNLOCKED
    for name, coordinate in cells.items():
        layout.add_defined_name(wb, layout.defined_name(name), ws.title, coordinate)
    layout.add_defined_name(wb, layout.defined_name("city_code"), ws.title,
                            layout.CITY_CODE_CELL)
    layout.add_defined_name(wb, layout.defined_name("period"), ws.title, layout.PERIOD_CELL)
    _validation(ws, cells, lang)

    # Protection guides the clerk (no password: it is not a security boundary; the upload
    # checks every cell again).
    ws.protection.sheet = True
    ws.protection.formatColumns = False
    ws.protection.formatRows = False
    wb.security = WorkbookProtection(lockStructure=True)
    ws.sheet_view.showGridLines = False
    ws.freeze_panes = f"B{layout.FIRST_LINE_ROW}"
    layout.print_setup(ws, f"1:{layout.HEADER_ROW}", layout.NOTES_LAST_ROW)
    first_input = cells["official_bev"]
    ws.sheet_view.selection[0].activeCell = first_input
    ws.sheet_view.selection[0].sqref = first_input

    _meta_sheet(wb, city, period, lang)
    wb.calculation.fullCalcOnLoad = True
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _header(ws, city: City, period: str, lang: str) -> None:
    ws["A1"] = text("title", lang)
    ws["A1"].font = layout.TITLE_FONT
    ws["A1"].alignment = Alignment(horizontal="center", vertical="center")
    ws.merge_cells(f"A1:{get_column_letter(layout.LAST_COLUMN)}1")
    ws.row_dimensions[1].height = 28
    for coordinate, key in (("A2", "city_code"), ("C2", "city"), ("E2", "month")):
        ws[coordinate] = text(key, lang)
        ws[coordinate].font = layout.BOLD
        ws[coordinate].alignment = Alignment(horizontal="right")
    # Code and month as text, so no spreadsheet turns them into a number or a date.
    for coordinate, value in ((layout.CITY_CODE_CELL, city.code),
                              (layout.CITY_NAME_CELL, city.name(lang)),
                              (layout.PERIOD_CELL, period)):
        put_text(ws[coordinate], value)
        ws[coordinate].number_format = "@"
        ws[coordinate].fill = layout.LOCKED_FILL
        ws[coordinate].border = layout.BOX
    ws["G2"] = format_period(period, lang)
    ws["A3"] = text("hint", lang)
    ws["A3"].alignment = layout.WRAP_LEFT
    ws.merge_cells(f"A3:{get_column_letter(layout.LAST_COLUMN)}3")
    ws.row_dimensions[3].height = 32
    ws["G4"] = text("unit", lang)
    ws["G4"].alignment = Alignment(horizontal="right")


def _validation(ws, cells: dict[str, str], lang: str) -> None:
    """Whole numbers in range on the number cells; bounded notes. Excel and WPS enforce it while
    typing; the upload applies the rules of fleet.rules whatever the file says."""
    whole = DataValidation(type="whole", operator="between", formula1="0",
                           formula2=str(MAX_MONTHLY_COUNT), allow_blank=True,
                           showErrorMessage=True, errorTitle=text("dv_title", lang),
                           error=text("dv_error", lang), showInputMessage=False)
    for name, coordinate in cells.items():
        if name != "notes":
            whole.add(coordinate)
    notes = DataValidation(type="textLength", operator="lessThanOrEqual",
                           formula1=str(MAX_NOTES_LENGTH), allow_blank=True,
                           showErrorMessage=True, error=text("dv_notes", lang))
    notes.add(cells["notes"])
    ws.add_data_validation(whole)
    ws.add_data_validation(notes)


def _meta_sheet(wb: Workbook, city: City, period: str, lang: str) -> None:
    """What the upload checks first: that this is our template, its version, city and month."""
    meta = wb.create_sheet(layout.META_SHEET)
    for row, (key, value) in enumerate((
            (layout.MARKER, layout.TEMPLATE_VERSION), ("city_code", city.code),
            ("period", period), ("lang", lang)), start=1):
        meta.cell(row, 1, key)
        put_text(meta.cell(row, 2), value)
    meta.sheet_state = "veryHidden"
    meta.protection.sheet = True
