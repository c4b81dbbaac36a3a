"""The layout of the return sheet, shared by the blank template, its upload and the filled
return: where each number sits, the headings in both languages, and the common styles.

The sheet reads like the web form: the eight sectors × three powertrains, all new vehicles of
each sector, totals, then the infrastructure added and the notes.
"""

import unicodedata

from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.utils.indexed_list import IndexedList
from openpyxl.workbook.defined_name import DefinedName

from ..reference import CATEGORIES, POWERTRAINS, label
from ..rules import MAX_MONTHLY_COUNT, MAX_NOTES_LENGTH, field_label, field_name
from .safety import put_text

# Bump when cells move; the upload refuses versions it does not know.
TEMPLATE_VERSION = "1"
MARKER = "fleet-return-template"
META_SHEET = "_fleet"
SHEET_TITLE = {"zh": "总表", "en": "Return"}
# Defined names point at the input cells, so the upload still finds them if someone unprotects
# the sheet and inserts a row (Excel, WPS and LibreOffice move the names with the cells).
NAME_PREFIX = "fleet_"

LAST_COLUMN = 7  # A..G
HEADER_ROW = 6
FIRST_LINE_ROW = HEADER_ROW + 1
TOTAL_ROW = FIRST_LINE_ROW + len(CATEGORIES)
KIND_COLUMN = {"bev": 2, "phev": 3, "fcev": 4, "all_new": 6}
NEV_COLUMN, SHARE_COLUMN = 5, 7
INFRA_ROW = {"charging_points": TOTAL_ROW + 3, "swap_stations": TOTAL_ROW + 4}
NOTES_ROW = TOTAL_ROW + 7
NOTES_LAST_ROW = NOTES_ROW + 4
CITY_CODE_CELL, CITY_NAME_CELL, PERIOD_CELL = "B2", "D2", "F2"

TEXT = {
    "title": ("公共领域车辆全面电动化先行区试点 新能源汽车推广应用月报",
              "Public-sector vehicle electrification pilot: monthly NEV return"),
    "city_code": ("城市代码", "City code"),
    "city": ("城市", "City"),
    "month": ("报送月份", "Month"),
    "hint": ("请只在白色单元格中填写整数（没有的填 0 或留空），合计与占比自动计算，"
             "灰色单元格不能修改。填好后保存为 .xlsx 文件，在系统的月报页面上传。",
             "Type whole numbers in the white cells only (0 or blank for none); totals and "
             "shares are calculated, grey cells are locked. Save as .xlsx and upload it on the "
             "return's page in Fleet."),
    "section1": ("一、新增新能源汽车（按领域和动力类型）及全部新增车辆",
                 "1. New-energy vehicles newly put into service, and all new vehicles, "
                 "by sector"),
    "sector": ("领域", "Sector"),
    "nev_subtotal": ("新能源汽车小计", "NEV subtotal"),
    "all_new": ("全部新增车辆（含非新能源）", "All new vehicles (NEV or not)"),
    "share": ("新能源占比", "NEV share"),
    "total": ("合计", "Total"),
    "section2": ("二、新增充换电设施", "2. Charging and battery-swap infrastructure added"),
    "section3": ("三、备注", "3. Notes"),
    "unit": ("单位：辆；充电桩：个；换电站：座", "Units: vehicles; charging points; stations"),
    "dv_title": ("须为整数", "Whole number"),
    "dv_error": (f"请填写 0 到 {MAX_MONTHLY_COUNT:,} 之间的整数。",
                 f"Enter a whole number from 0 to {MAX_MONTHLY_COUNT:,}."),
    "dv_notes": (f"备注不超过 {MAX_NOTES_LENGTH:,} 字。",
                 f"Notes are limited to {MAX_NOTES_LENGTH:,} characters."),
}

STATUS_TEXT = {
    "draft": ("草稿", "Draft"),
    "submitted": ("已提交", "Submitted"),
    "returned": ("已退回", "Returned"),
    "approved": ("已通过", "Approved"),
}


def text(key: str, lang: str) -> str:
    zh, en = TEXT[key]
    return zh if lang.startswith("zh") else en


def status_text(status: str | None, lang: str) -> str:
    zh, en = STATUS_TEXT.get(status or "draft", (status, status))
    return zh if lang.startswith("zh") else en


def display_width(value) -> int:
    """Columns a text takes on screen: a Chinese character is about two Latin ones wide."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in str(value))


def fit_width(values, minimum: int = 8, maximum: int = 48) -> float:
    return min(max([minimum, *(display_width(v) + 2 for v in values)]), maximum)


# --- cells of the numbers -------------------------------------------------------------------

def number_cells() -> dict[str, str]:
    """{field name: 'C7'} for every number of the return."""
    cells = {}
    for offset, category in enumerate(CATEGORIES):
        for kind, column in KIND_COLUMN.items():
            cells[field_name(category.code, kind)] = (
                f"{get_column_letter(column)}{FIRST_LINE_ROW + offset}")
    for name, row in INFRA_ROW.items():
        cells[name] = f"B{row}"
    return cells


def input_cells() -> dict[str, str]:
    """Every cell a clerk fills: the numbers and the notes."""
    return {**number_cells(), "notes": f"A{NOTES_ROW}"}


def defined_name(field: str) -> str:
    return NAME_PREFIX + field


def absolute(sheet_title: str, coordinate: str) -> str:
    """"'总表'!$C$7": a reference for a defined name or a formula."""
    column = coordinate.rstrip("0123456789")
    row = coordinate[len(column):]
    return f"'{sheet_title}'!${column}${row}"


def add_defined_name(wb, name: str, sheet_title: str, coordinate: str) -> None:
    wb.defined_names[name] = DefinedName(name, attr_text=absolute(sheet_title, coordinate))


# --- styles -----------------------------------------------------------------------------------

THIN = Side(style="thin", color="808080")
BOX = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
HEADER_FILL = PatternFill("solid", fgColor="DDE4EE")
LOCKED_FILL = PatternFill("solid", fgColor="F2F2F2")
TOTAL_FILL = PatternFill("solid", fgColor="E8EDF3")
# One sans-serif family for every cell, bold or not: a Font without a name falls back to the
# application's default (a serif one in LibreOffice). Microsoft YaHei is on every Chinese
# Windows; elsewhere the spreadsheet substitutes its own sans-serif.
FONT_NAME = "Microsoft YaHei"
FONT_SIZE = 11
NORMAL_FONT = Font(name=FONT_NAME, size=FONT_SIZE)
BOLD = Font(name=FONT_NAME, size=FONT_SIZE, bold=True)
TITLE_FONT = Font(name=FONT_NAME, bold=True, size=14)
SECTION_FONT = Font(name=FONT_NAME, bold=True, size=FONT_SIZE, color="1F3864")
# Points per line of wrapped 11-point text, and the padding of a row.
LINE_HEIGHT = 15
ROW_PADDING = 4
WRAP_CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)
WRAP_LEFT = Alignment(horizontal="left", vertical="center", wrap_text=True)
TOP_LEFT = Alignment(horizontal="left", vertical="top", wrap_text=True)
COUNT_FORMAT = "#,##0"
SHARE_FORMAT = "0.0%"


def _style(cell, *, fill=None, font=None, align=None, fmt=None, border=True):
    if fill is not None:
        cell.fill = fill
    if font is not None:
        cell.font = font
    if align is not None:
        cell.alignment = align
    if fmt is not None:
        cell.number_format = fmt
    if border:
        cell.border = BOX


def write_return_grid(ws, lang: str, values=None) -> None:
    """Sections 1–3 of the return from row 5 down, as in the web form.

    values: a rules.ReturnValues to print (the filled return, totals as numbers), or None for
    the blank template (inputs left empty, totals as live SUM formulas).
    """
    _section_heading(ws, HEADER_ROW - 1, text("section1", lang))
    headings = [text("sector", lang), *(label(p, lang) for p in POWERTRAINS),
                text("nev_subtotal", lang), text("all_new", lang), text("share", lang)]
    columns = [1, KIND_COLUMN["bev"], KIND_COLUMN["phev"], KIND_COLUMN["fcev"], NEV_COLUMN,
               KIND_COLUMN["all_new"], SHARE_COLUMN]
    for column, heading in zip(columns, headings, strict=True):
        _style(ws.cell(HEADER_ROW, column, heading), fill=HEADER_FILL, font=BOLD,
               align=WRAP_CENTER)
    widths = [ws.column_dimensions[get_column_letter(c)].width or 13 for c in columns]
    ws.row_dimensions[HEADER_ROW].height = max(48, heading_height(headings, widths))
    for offset, category in enumerate(CATEGORIES):
        _category_row(ws, FIRST_LINE_ROW + offset, category, lang,
                      None if values is None else values.lines[category.code])
    _total_row(ws, lang, values)
    _section_heading(ws, TOTAL_ROW + 2, text("section2", lang))
    for name, row in INFRA_ROW.items():
        ws.row_dimensions[row].height = 20
        _style(ws.cell(row, 1, field_label(name, lang)), fill=LOCKED_FILL, align=WRAP_LEFT)
        _style(ws.cell(row, 2, None if values is None else getattr(values, name)),
               fmt=COUNT_FORMAT)
    _section_heading(ws, NOTES_ROW - 1, text("section3", lang))
    _notes_box(ws, None if values is None else values.notes)


def _section_heading(ws, row: int, heading: str) -> None:
    ws.cell(row, 1, heading).font = SECTION_FONT
    ws.merge_cells(f"A{row}:{get_column_letter(LAST_COLUMN)}{row}")


def _share_formula(row: int) -> str:
    e, f = get_column_letter(NEV_COLUMN), get_column_letter(KIND_COLUMN["all_new"])
    return f'=IF(N({f}{row})>0,{e}{row}/{f}{row},"")'


def _category_row(ws, row: int, category, lang: str, line) -> None:
    """One sector: inputs (or the line's numbers), its NEV subtotal and NEV share.
    line: a rules.LineValues, or None for the blank template (formulas)."""
    ws.row_dimensions[row].height = 20
    _style(ws.cell(row, 1, label(category, lang)), fill=LOCKED_FILL, align=WRAP_LEFT)
    for kind, column in KIND_COLUMN.items():
        _style(ws.cell(row, column, getattr(line, kind) if line else None), fmt=COUNT_FORMAT)
    b, d = (get_column_letter(KIND_COLUMN[k]) for k in ("bev", "fcev"))
    nev = ws.cell(row, NEV_COLUMN, f"=SUM({b}{row}:{d}{row})" if line is None else line.nev)
    _style(nev, fill=LOCKED_FILL, font=BOLD, fmt=COUNT_FORMAT)
    share = _share_formula(row) if line is None else line.nev_share
    _style(ws.cell(row, SHARE_COLUMN, share), fill=LOCKED_FILL, fmt=SHARE_FORMAT,
           align=Alignment(horizontal="right"))


def _total_row(ws, lang: str, values) -> None:
    """Totals of every column: SUM formulas in the template, numbers in a filled return."""
    first, last, total = FIRST_LINE_ROW, TOTAL_ROW - 1, TOTAL_ROW
    ws.row_dimensions[total].height = 20
    _style(ws.cell(total, 1, text("total", lang)), fill=TOTAL_FILL, font=BOLD)
    for kind, column in (*KIND_COLUMN.items(), ("nev", NEV_COLUMN)):
        letter = get_column_letter(column)
        if values is None:
            content = f"=SUM({letter}{first}:{letter}{last})"
        elif kind == "nev":
            content = values.nev_total
        elif kind == "all_new":
            content = values.all_new_total
        else:
            content = values.powertrain_total(kind)
        _style(ws.cell(total, column, content), fill=TOTAL_FILL, font=BOLD, fmt=COUNT_FORMAT)
    share = _share_formula(total) if values is None else values.nev_share
    _style(ws.cell(total, SHARE_COLUMN, share), fill=TOTAL_FILL, font=BOLD, fmt=SHARE_FORMAT,
           align=Alignment(horizontal="right"))


def _notes_box(ws, notes: str | None) -> None:
    """Section 3: a boxed, merged area; the notes as text, never as a formula."""
    cell = ws.cell(NOTES_ROW, 1)
    if notes:
        put_text(cell, notes)
    for row in range(NOTES_ROW, NOTES_LAST_ROW + 1):
        for column in range(1, LAST_COLUMN + 1):
            ws.cell(row, column).border = BOX
    ws.merge_cells(f"A{NOTES_ROW}:{get_column_letter(LAST_COLUMN)}{NOTES_LAST_ROW}")
    cell.alignment = TOP_LEFT


def set_column_widths(ws, lang: str) -> None:
    """Wide enough for the Chinese names; headings wrap."""
    names = [label(c, lang) for c in CATEGORIES] + [field_label(n, lang) for n in INFRA_ROW]
    ws.column_dimensions["A"].width = fit_width(names, 14, 36)
    for column in range(2, LAST_COLUMN + 1):
        ws.column_dimensions[get_column_letter(column)].width = 15 if lang == "zh" else 17


def print_setup(ws, title_rows: str, last_row: int, *, one_page: bool = False) -> None:
    """A4 landscape, one page wide (one_page: and one page tall), the heading rows repeated on
    every page; margins (inches) that leave room for the page header and footer, so neither
    is clipped."""
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 1 if one_page else 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.horizontalCentered = True
    ws.print_title_rows = title_rows
    ws.print_area = f"A1:{get_column_letter(LAST_COLUMN)}{last_row}"
    ws.page_margins.left = ws.page_margins.right = 0.5
    ws.page_margins.top = ws.page_margins.bottom = 0.8
    ws.page_margins.header = ws.page_margins.footer = 0.3


def use_one_font(wb) -> None:
    """Make FONT_NAME the workbook's default font, for the cells that carry no style of their
    own (openpyxl's default is Calibri)."""
    wb._fonts = IndexedList([NORMAL_FONT])
    wb._named_styles["Normal"].font = NORMAL_FONT


def heading_height(headings, widths) -> float:
    """The height (points) of a heading row whose texts wrap within their column widths."""
    lines = 1
    for heading, width in zip(headings, widths, strict=True):
        # a column `width` holds about `width` narrow characters; bold text is a little wider
        per_line = max(width - 2, 4)
        lines = max(lines, -(-display_width(str(heading)) // int(per_line)))
    return lines * LINE_HEIGHT + ROW_PADDING
