"""The summary workbook: national (or one city's) progress from fleet.figures, as the dashboard
shows it, with native charts, frozen headers, filters and formulas for every total.

Built in openpyxl's write-only mode: rows are streamed to disk as they are written, so the flat
data sheet can hold hundreds of thousands of rows in bounded memory.
"""

import io
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import BinaryIO
from xml.sax.saxutils import escape

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.pagebreak import Break

from ..figures import (
    CategoryFigures,
    CityFigures,
    CityProgress,
    Completeness,
    FlatRow,
    MonthFigures,
    Progress,
    Projection,
    Window,
)
from ..periods import format_period
from ..programme import LOCAL_TZ
from ..reference import CATEGORIES, CATEGORY_BY_CODE, POWERTRAINS, label
from . import flat
from .layout import display_width, fit_width
from .safety import is_formula_like, put_text

COUNT = "#,##0"
SHARE = "0.0%"
RATIO = "0.00"
A4 = 9  # paperSize code of ECMA-376
HEADER_FILL = PatternFill("solid", fgColor="DDE4EE")
TOTAL_FILL = PatternFill("solid", fgColor="E8EDF3")
BOLD = Font(bold=True)
TITLE = Font(bold=True, size=14)
WRAP = Alignment(wrap_text=True, vertical="center", horizontal="center")

SHEETS = {
    "overview": ("概览", "Overview"),
    "cities": ("按城市", "By city"),
    "months": ("按月份", "By month"),
    "categories": ("按领域和动力类型", "By sector and powertrain"),
    "data": ("明细数据", "Data"),
}

TEXT = {
    "title": ("公共领域车辆全面电动化先行区试点 新能源汽车推广进展汇总",
              "Public-sector vehicle electrification pilot: NEV progress summary"),
    "national": ("全国", "National"),
    "basis_reported": ("口径：已报送（已提交和已通过的月报）",
                       "Basis: reported (submitted and approved returns)"),
    "basis_verified": ("口径：已核实（仅已通过的月报）", "Basis: verified (approved returns only)"),
    "through": ("统计截至", "Through"),
    "generated": ("生成时间", "Generated"),
    "item": ("指标", "Figure"),
    "value": ("数值", "Value"),
    "note": ("说明", "Note"),
    "target": ("目标（辆）", "Target (vehicles)"),
    "no_target": ("未设定", "not set"),
    "cumulative": ("累计新增新能源汽车（辆）", "Cumulative new NEVs"),
    "pct_target": ("完成目标比例", "% of target"),
    "this_month": ("当月新增", "Added in the month"),
    "window_months": ("报送期月数", "Months in the reporting window"),
    "elapsed_months": ("已过月数", "Months elapsed"),
    "elapsed_share": ("报送期已过比例", "Share of the window elapsed"),
    "expected": ("按时间进度应完成（辆）", "Expected by now on a straight line"),
    "projection": ("预计期末累计（辆）", "Projected total at the window's end"),
    "projection_note": ("按最近 %(n)s 个月平均每月 %(rate)s 辆，乘以剩余 %(left)s 个月，"
                        "加上已累计数",
                        "Cumulative so far + the average of the last %(n)s months "
                        "(%(rate)s a month) × %(left)s months left"),
    "on_track": ("预计能否完成目标", "On track for the target"),
    "yes": ("是", "yes"),
    "no": ("否", "no"),
    "all_new": ("全部新增车辆（含非新能源）", "All new vehicles (NEV or not)"),
    "nev_share": ("新能源占比", "NEV share"),
    "vin_backed": ("有VIN明细的新能源汽车（辆）", "NEVs backed by a VIN"),
    "vin_coverage": ("VIN覆盖率", "VIN coverage"),
    "charging": ("新增公共充电桩（个）", "Public charging points added"),
    "charging_ratio": ("充电桩与新能源汽车之比", "Charging points per NEV"),
    "charging_aim": ("试点目标 1 : 1", "The pilot aims at 1 : 1"),
    "swap": ("新增换电站（座）", "Battery-swap stations added"),
    "expected_returns": ("应报月报（已到期）", "Returns due"),
    "received": ("已报月报", "Returns received"),
    "on_time": ("按时报送", "On time"),
    "late": ("迟报", "Late"),
    "missing": ("缺报", "Missing"),
    "returned": ("其中退回待改", "of which sent back"),
    "completeness": ("报送完整率", "Completeness"),
    "timeliness": ("按时报送率", "Timeliness"),
    "city_targets": ("各城市目标合计（辆）", "Sum of the cities' targets"),
    "without_target": ("未设目标的城市数", "Cities without a target"),
    "code": ("城市代码", "City code"),
    "city": ("城市", "City"),
    "province": ("省份", "Province"),
    "batch": ("批次", "Batch"),
    "total": ("合计", "Total"),
    "month": ("月份", "Month"),
    "sector": ("领域", "Sector"),
    "nev_total": ("新能源汽车合计", "NEVs"),
    "cumulative_short": ("累计新增", "Cumulative"),
    "path": ("按时间进度应完成", "Straight-line path to target"),
    "aim": ("试点目标占比", "Pilot aim"),
    "meets_aim": ("是否达到", "Meets the aim"),
    "chart_progress": ("累计新增新能源汽车与时间进度",
                       "Cumulative new NEVs and the path to target"),
    "chart_monthly": ("每月新增新能源汽车（按领域）", "New NEVs per month, by sector"),
    "vehicles": ("辆", "vehicles"),
    "formula_note": ("合计与比例为公式，随数据重新计算", "Totals and ratios are formulas"),
}


def _t(key: str, lang: str) -> str:
    zh, en = TEXT[key]
    return zh if lang == "zh" else en


@dataclass(frozen=True)
class _Scope:
    """National progress or one city's, in the shape the sheets need."""

    title: str
    basis: str
    window: Window
    target: int | None
    cities: tuple[CityFigures, ...]
    by_month: tuple[MonthFigures, ...]
    by_category: tuple[CategoryFigures, ...]
    projection: Projection
    expected_by_now: int | None
    completeness: Completeness
    this_month: int
    national: bool
    city_targets_total: int | None = None
    cities_without_target: int | None = None


def _scope(progress: Progress | CityProgress, lang: str) -> _Scope:
    if isinstance(progress, CityProgress):
        city = progress.city
        return _Scope(city.name(lang), progress.basis, progress.window, city.target, (city,),
                      progress.by_month, city.by_category, progress.projection,
                      progress.expected_by_now, city.completeness, city.this_month, False)
    return _Scope(_t("national", lang), progress.basis, progress.window, progress.target,
                  progress.cities, progress.by_month, progress.by_category,
                  progress.projection, progress.expected_by_now, progress.completeness,
                  progress.this_month, True, progress.city_targets_total,
                  progress.cities_without_target)


class _Writer:
    """Cells for a write-only sheet: styles, and user text that is never a formula."""

    def __init__(self, ws):
        self.ws = ws

    def cell(self, value, fmt: str | None = None, *, font=None, fill=None, align=None):
        """Our own values and formulas ('=SUM(...)'), styled; user text goes through text()."""
        if isinstance(value, str) and not value.startswith("=") and not (
                fmt or font or fill or align):
            return value
        cell = WriteOnlyCell(self.ws, value)
        if fmt:
            cell.number_format = fmt
        if font is not None:
            cell.font = font
        if fill is not None:
            cell.fill = fill
        if align is not None:
            cell.alignment = align
        return cell

    def text(self, value):
        """User text (a city's name): a string cell whatever it starts with."""
        if not (isinstance(value, str) and is_formula_like(value)):
            return value
        cell = WriteOnlyCell(self.ws, None)
        put_text(cell, value)
        return cell

    def header(self, titles: list[str]):
        return [self.cell(t, font=BOLD, fill=HEADER_FILL, align=WRAP) for t in titles]


def build_summary_workbook(progress: Progress | CityProgress, flat_rows: Iterable[FlatRow],
                           lang: str = "zh", *, generated_at: datetime | None = None) -> bytes:
    """The summary as .xlsx bytes; see write_summary_workbook."""
    out = io.BytesIO()
    write_summary_workbook(progress, flat_rows, out, lang, generated_at=generated_at)
    return out.getvalue()


def write_summary_workbook(progress: Progress | CityProgress, flat_rows: Iterable[FlatRow],
                           out: BinaryIO, lang: str = "zh", *,
                           generated_at: datetime | None = None) -> None:
    """Write the summary workbook into `out`.

    progress: fleet.figures.national_progress(...) for the ministry, or city_progress(...) for
    a city's own version; flat_rows: fleet.figures.flat_rows(...) on the same basis and month
    (only the rows of the city, for a city). Sheets: overview, by city, by month, by sector
    and powertrain, flat data. Numbers come from the figures as they are; totals and ratios
    are formulas that recalculate to the same values.
    """
    lang = "en" if lang.startswith("en") else "zh"
    scope = _scope(progress, lang)
    wb = Workbook(write_only=True)
    sheets = {key: wb.create_sheet(names[0] if lang == "zh" else names[1])
              for key, names in SHEETS.items()}
    cities_total_row = _cities_sheet(sheets["cities"], scope, lang)
    months_rows = _months_sheet(sheets["months"], scope, lang)
    _categories_sheet(sheets["categories"], scope, lang)
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)
    n = _data_sheet(sheets["data"], scope, flat_rows, lang, spool)
    _overview_sheet(sheets["overview"], scope, lang, sheets, cities_total_row, months_rows,
                    generated_at or datetime.now(timezone.utc).replace(tzinfo=None))
    wb.calculation.fullCalcOnLoad = True
    frame = io.BytesIO()
    wb.save(frame)
    with spool:
        _splice_rows(frame.getvalue(), sheets["data"].path.lstrip("/"), spool, n,
                     len(flat.COLUMNS), out)


def _subtitle(scope: _Scope, lang: str) -> str:
    basis = _t("basis_reported" if scope.basis == "reported" else "basis_verified", lang)
    through = format_period(scope.window.through, lang)
    return f"{scope.title} · {basis} · {_t('through', lang)} {through}"


def _page(ws, scope: _Scope, lang: str, *, landscape: bool = True) -> None:
    """Print set-up: A4, fit to width, the heading row on every page, what it is in the header."""
    ws.page_setup.paperSize = A4
    ws.page_setup.orientation = "landscape" if landscape else "portrait"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.oddHeader.center.text = _subtitle(scope, lang).replace("&", "&&")
    ws.oddFooter.right.text = "&P / &N"


def _widths(ws, widths: list[float]) -> None:
    for index, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(index)].width = width


# --- by city ------------------------------------------------------------------------------------

def _cities_sheet(ws, scope: _Scope, lang: str) -> int:
    """One row per city, a total row of formulas. Returns the total row's number."""
    w = _Writer(ws)
    titles = [_t("code", lang), _t("city", lang), _t("province", lang), _t("batch", lang),
              _t("target", lang), *(label(c, lang) for c in CATEGORIES), _t("nev_total", lang),
              _t("pct_target", lang), _t("all_new", lang), _t("nev_share", lang),
              _t("this_month", lang), _t("charging", lang), _t("swap", lang),
              _t("expected_returns", lang), _t("received", lang), _t("late", lang),
              _t("missing", lang), _t("returned", lang), _t("vin_backed", lang),
              _t("vin_coverage", lang)]
    names = [c.name(lang) for c in scope.cities]
    _widths(ws, [10, fit_width(names + [_t("total", lang)], 10, 30),
                 fit_width([c.province_zh for c in scope.cities], 8, 20), 7, 11,
                 *[11] * len(CATEGORIES), 12, 10, 12, 10, 10, 11, 10, 9, 9, 8, 8, 9, 12, 10])
    ws.freeze_panes = "C2"
    _page(ws, scope, lang)
    ws.print_title_rows = "1:1"
    ws.append(w.header(titles))
    first = 2
    nev_col = 6 + len(CATEGORIES)  # after the categories
    cat_first, cat_last = get_column_letter(6), get_column_letter(nev_col - 1)
    n, e, p = get_column_letter(nev_col), "E", get_column_letter(nev_col + 2)
    vb, vc = get_column_letter(len(titles) - 1), get_column_letter(len(titles))
    for row, city in enumerate(scope.cities, start=first):
        c = city.completeness
        ws.append([
            city.code, w.text(city.name(lang)), w.text(city.province_zh), city.batch,
            w.cell(city.target, COUNT),
            *(w.cell(cat.nev, COUNT) for cat in city.by_category),
            w.cell(f"=SUM({cat_first}{row}:{cat_last}{row})", COUNT, font=BOLD),
            w.cell(f'=IF(N({e}{row})>0,{n}{row}/{e}{row},"")', SHARE),
            w.cell(city.all_new, COUNT),
            w.cell(f'=IF(N({p}{row})>0,{n}{row}/{p}{row},"")', SHARE),
            w.cell(city.this_month, COUNT), w.cell(city.charging_points, COUNT),
            w.cell(city.swap_stations, COUNT),
            c.expected, c.received, c.late, c.missing, c.returned,
            w.cell(city.vin_backed, COUNT),
            w.cell(f'=IF(N({n}{row})>0,{vb}{row}/{n}{row},"")', SHARE)])
    last = first + len(scope.cities) - 1
    total = last + 1
    ws.auto_filter.ref = f"A1:{get_column_letter(len(titles))}{last}"
    cells = [w.cell(_t("total", lang), font=BOLD, fill=TOTAL_FILL), None, None, None]
    for index in range(5, len(titles) + 1):
        letter = get_column_letter(index)
        if letter == get_column_letter(nev_col + 1):
            formula = f'=IF(N({e}{total})>0,{n}{total}/{e}{total},"")'
            fmt = SHARE
        elif letter == get_column_letter(nev_col + 3):
            formula = f'=IF(N({p}{total})>0,{n}{total}/{p}{total},"")'
            fmt = SHARE
        elif letter == vc:
            formula = f'=IF(N({n}{total})>0,{vb}{total}/{n}{total},"")'
            fmt = SHARE
        else:
            formula, fmt = f"=SUM({letter}{first}:{letter}{last})", COUNT
        cells.append(w.cell(formula, fmt, font=BOLD, fill=TOTAL_FILL))
    ws.append(cells)
    return total


CITY_COLUMNS = {  # column letters of the by-city sheet that the overview refers to
    "target": "E", "nev": get_column_letter(6 + len(CATEGORIES)),
    "all_new": get_column_letter(8 + len(CATEGORIES)),
    "this_month": get_column_letter(10 + len(CATEGORIES)),
    "charging": get_column_letter(11 + len(CATEGORIES)),
    "swap": get_column_letter(12 + len(CATEGORIES)),
    "expected": get_column_letter(13 + len(CATEGORIES)),
    "received": get_column_letter(14 + len(CATEGORIES)),
    "late": get_column_letter(15 + len(CATEGORIES)),
    "missing": get_column_letter(16 + len(CATEGORIES)),
    "returned": get_column_letter(17 + len(CATEGORIES)),
}


# --- by month -----------------------------------------------------------------------------------

MONTH_COLUMNS = {"nev": "E", "cumulative": "G", "path": "H"}
MONTH_CATEGORY_FIRST = 9  # column I


def _months_sheet(ws, scope: _Scope, lang: str) -> tuple[int, int]:
    """Each month: NEVs by powertrain, total, cumulative, path, by sector; infrastructure.

    Returns the first and last data rows (the charts and the overview refer to them).
    """
    w = _Writer(ws)
    titles = [_t("month", lang), *(label(p, lang) for p in POWERTRAINS), _t("nev_total", lang),
              _t("all_new", lang), _t("cumulative_short", lang), _t("path", lang),
              *(label(c, lang) for c in CATEGORIES), _t("charging", lang), _t("swap", lang)]
    _widths(ws, [10, *[12] * 3, 12, 13, 12, 13, *[11] * len(CATEGORIES), 12, 11])
    ws.freeze_panes = "B2"
    _page(ws, scope, lang)
    ws.print_title_rows = "1:1"
    ws.append(w.header(titles))
    first = 2
    months = scope.by_month
    window_months = scope.window.window_months
    for index, month in enumerate(months, start=1):
        row = first + index - 1
        cumulative = f"=E{row}" if index == 1 else f"=G{row - 1}+E{row}"
        path = (round(scope.target * index / window_months)
                if scope.target and window_months else None)
        ws.append([
            month.period, w.cell(month.bev, COUNT), w.cell(month.phev, COUNT),
            w.cell(month.fcev, COUNT), w.cell(f"=SUM(B{row}:D{row})", COUNT, font=BOLD),
            w.cell(month.all_new, COUNT), w.cell(cumulative, COUNT), w.cell(path, COUNT),
            *(w.cell(month.by_category[c.code], COUNT) for c in CATEGORIES),
            w.cell(month.charging_points, COUNT), w.cell(month.swap_stations, COUNT)])
    last = first + len(months) - 1
    ws.auto_filter.ref = f"A1:{get_column_letter(len(titles))}{max(last, first)}"
    cells = [w.cell(_t("total", lang), font=BOLD, fill=TOTAL_FILL)]
    for index in range(2, len(titles) + 1):
        letter = get_column_letter(index)
        formula = (None if letter in ("G", "H") else f"=SUM({letter}{first}:{letter}{last})")
        cells.append(w.cell(formula, COUNT, font=BOLD, fill=TOTAL_FILL))
    ws.append(cells)
    return first, last


# --- by category and powertrain -----------------------------------------------------------------

def _categories_sheet(ws, scope: _Scope, lang: str) -> None:
    w = _Writer(ws)
    titles = [_t("sector", lang), *(label(p, lang) for p in POWERTRAINS), _t("nev_total", lang),
              _t("all_new", lang), _t("nev_share", lang), _t("aim", lang),
              _t("meets_aim", lang), _t("this_month", lang)]
    _widths(ws, [fit_width([label(c, lang) for c in CATEGORIES], 12, 36),
                 *[13] * 5, 11, 11, 10, 12])
    ws.freeze_panes = "B2"
    _page(ws, scope, lang, landscape=False)
    ws.append(w.header(titles))
    yes, no = _t("yes", lang), _t("no", lang)
    first = 2
    for row, cat in enumerate(scope.by_category, start=first):
        ws.append([
            label(CATEGORY_BY_CODE[cat.category], lang), w.cell(cat.bev, COUNT),
            w.cell(cat.phev, COUNT), w.cell(cat.fcev, COUNT),
            w.cell(f"=SUM(B{row}:D{row})", COUNT, font=BOLD), w.cell(cat.all_new, COUNT),
            w.cell(f'=IF(N(F{row})>0,E{row}/F{row},"")', SHARE),
            w.cell(cat.share_aim, SHARE),
            w.cell(f'=IF(OR(H{row}="",G{row}=""),"",IF(G{row}>=H{row},"{yes}","{no}"))'),
            w.cell(cat.this_month, COUNT)])
    last = first + len(scope.by_category) - 1
    total = last + 1
    ws.auto_filter.ref = f"A1:J{last}"
    ws.append([w.cell(_t("total", lang), font=BOLD, fill=TOTAL_FILL),
               *(w.cell(f"=SUM({x}{first}:{x}{last})", COUNT, font=BOLD, fill=TOTAL_FILL)
                 for x in "BCDEF"),
               w.cell(f'=IF(N(F{total})>0,E{total}/F{total},"")', SHARE, font=BOLD,
                      fill=TOTAL_FILL), None, None,
               w.cell(f"=SUM(J{first}:J{last})", COUNT, font=BOLD, fill=TOTAL_FILL)])


# --- flat data ----------------------------------------------------------------------------------

# openpyxl's own XML writer (without lxml) spends ~10 µs a cell, too slow for hundreds of
# thousands of rows; the data rows are therefore written here as plain sheetData XML into a
# spool file, and spliced into the sheet that openpyxl wrote (columns, frozen header, filter,
# print set-up, the heading row). Same cells, same styles, bounded memory.
SPOOL_IN_MEMORY = 8 * 1024 * 1024


def _data_sheet(ws, scope: _Scope, rows: Iterable[FlatRow], lang: str, spool) -> int:
    """One row per city, month, sector and powertrain, for pivot tables. The heading row goes
    through openpyxl; the data rows are written as XML into `spool`. Returns their number."""
    w = _Writer(ws)
    names = [c.name(lang) for c in scope.cities]
    headings = flat.headings(lang)
    widths = [max(display_width(h) + 2, 8) for h in headings]
    widths[1] = max(widths[1], fit_width(names, 8, 30))
    widths[4] = max(widths[4], fit_width([label(c, lang) for c in CATEGORIES], 8, 36))
    widths[6] = max(widths[6], fit_width([label(p, lang) for p in POWERTRAINS], 8, 40))
    _widths(ws, widths)
    ws.freeze_panes = "A2"
    _page(ws, scope, lang)
    ws.print_title_rows = "1:1"
    ws.append(w.header(headings))
    count_style = WriteOnlyCell(ws, 0)
    count_style.number_format = COUNT
    quoted = WriteOnlyCell(ws, "")
    quoted.quotePrefix = True
    n = _write_rows_xml(spool, rows, lang, count_style.style_id, quoted.style_id)
    ws.auto_filter.ref = f"A1:{get_column_letter(len(headings))}{n + 1}"
    return n


def _write_rows_xml(spool, rows: Iterable[FlatRow], lang: str, count_style: int,
                    quoted_style: int) -> int:
    letters = [get_column_letter(i) for i in range(1, len(flat.COLUMNS) + 1)]
    texts: dict[str, str] = {}

    def text(value: str) -> str:
        cell = texts.get(value)
        if cell is None:
            clean = ILLEGAL_CHARACTERS_RE.sub("", value)
            style = f' s="{quoted_style}"' if is_formula_like(clean) else ""
            space = ' xml:space="preserve"' if clean != clean.strip() else ""
            cell = texts[value] = (f'{style} t="inlineStr"><is><t{space}>{escape(clean)}'
                                   f"</t></is></c>")
        return cell

    n = 0
    write = spool.write
    for n, row in enumerate(rows, start=1):
        r = n + 1
        parts = [f'<row r="{r}">']
        for letter, value in zip(letters, flat.row_values(row, lang), strict=True):
            if isinstance(value, str):
                parts.append(f'<c r="{letter}{r}"{text(value)}')
            else:
                parts.append(f'<c r="{letter}{r}" s="{count_style}"><v>{int(value)}</v></c>')
        parts.append("</row>")
        write("".join(parts).encode())
    return n


def _splice_rows(workbook: bytes, sheet_path: str, spool, n: int, columns: int,
                 out: BinaryIO) -> None:
    """Copy the workbook into `out`, with the spooled rows inside the data sheet."""
    with zipfile.ZipFile(io.BytesIO(workbook)) as source, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename != sheet_path:
                target.writestr(info, data)
                continue
            head, tail = data.decode().split("</sheetData>", 1)
            head = re.sub(r'<dimension ref="[^"]*"', f'<dimension ref="A1:'
                          f'{get_column_letter(columns)}{n + 1}"', head, count=1)
            rows_part = zipfile.ZipInfo(info.filename, info.date_time)
            rows_part.compress_type = zipfile.ZIP_DEFLATED
            with target.open(rows_part, "w", force_zip64=True) as part:
                part.write(head.encode())
                spool.seek(0)
                shutil.copyfileobj(spool, part, 1024 * 1024)
                part.write(("</sheetData>" + tail).encode())


# --- overview -----------------------------------------------------------------------------------

def _overview_sheet(ws, scope: _Scope, lang: str, sheets: dict, total_row: int,
                    month_rows: tuple[int, int], generated_at: datetime) -> None:
    """The headline: cumulative vs target, % of target, window elapsed, projection,
    completeness; and the two charts."""
    w = _Writer(ws)
    _page(ws, scope, lang)
    cities = f"'{sheets['cities'].title}'!"

    def city_total(key: str) -> str:
        return f"{cities}{CITY_COLUMNS[key]}{total_row}"

    rows: dict[str, int] = {}
    projection = scope.projection
    window = scope.window
    yes, no = _t("yes", lang), _t("no", lang)
    items = [
        ("target", w.cell(scope.target, COUNT) if scope.target else _t("no_target", lang),
         None),
        ("cumulative", w.cell(f"={city_total('nev')}", COUNT, font=BOLD), None),
        ("pct_target", None, None),  # formula filled in below, once rows are known
        ("this_month", w.cell(f"={city_total('this_month')}", COUNT),
         format_period(window.through, lang)),
        ("window_months", window.window_months,
         f"{window.first_period} – {window.last_period}"),
        ("elapsed_months", window.elapsed_months, None),
        ("elapsed_share", None, None),
        ("expected", w.cell(scope.expected_by_now, COUNT), None),
        ("projection", w.cell(projection.value, COUNT),
         _t("projection_note", lang).replace("%(n)s", str(projection.months_used))
         .replace("%(rate)s", f"{projection.run_rate:,.0f}")
         .replace("%(left)s", str(projection.months_left))),
        ("on_track", (yes if projection.on_track else no)
         if projection.on_track is not None else "—", None),
        ("all_new", w.cell(f"={city_total('all_new')}", COUNT), None),
        ("nev_share", None, None),
        ("charging", w.cell(f"={city_total('charging')}", COUNT), None),
        ("charging_ratio", None, _t("charging_aim", lang)),
        ("swap", w.cell(f"={city_total('swap')}", COUNT), None),
        ("expected_returns", w.cell(f"={city_total('expected')}", COUNT), None),
        ("received", w.cell(f"={city_total('received')}", COUNT), None),
        ("late", w.cell(f"={city_total('late')}", COUNT), None),
        ("missing", w.cell(f"={city_total('missing')}", COUNT), None),
        ("returned", w.cell(f"={city_total('returned')}", COUNT), None),
        ("completeness", None, None),
        ("timeliness", None, None),
    ]
    if scope.national:
        items += [("city_targets", w.cell(scope.city_targets_total, COUNT), None),
                  ("without_target", scope.cities_without_target, None)]
    first = 6  # after the title, subtitle, generated, a blank row and the heading row
    for offset, (key, *_) in enumerate(items):
        rows[key] = first + offset

    def ref(key: str) -> str:
        return f"B{rows[key]}"

    formulas = {
        "pct_target": w.cell(f'=IF(N({ref("target")})>0,{ref("cumulative")}/{ref("target")},"")',
                             SHARE, font=BOLD),
        "elapsed_share": w.cell(f"={ref('elapsed_months')}/{ref('window_months')}", SHARE),
        "nev_share": w.cell(f'=IF(N({ref("all_new")})>0,{ref("cumulative")}/{ref("all_new")},"")',
                            SHARE),
        "charging_ratio": w.cell(
            f'=IF(N({ref("cumulative")})>0,{ref("charging")}/{ref("cumulative")},"")', RATIO),
        "completeness": w.cell(
            f'=IF(N({ref("expected_returns")})>0,{ref("received")}/{ref("expected_returns")},"")',
            SHARE),
        "timeliness": w.cell(
            f'=IF(N({ref("expected_returns")})>0,({ref("received")}-{ref("late")})'
            f'/{ref("expected_returns")},"")', SHARE),
    }
    _widths(ws, [fit_width([_t(key, lang) for key, *_ in items], 16, 40), 16, 60])
    ws.append([w.cell(_t("title", lang), font=TITLE)])
    ws.append([w.text(_subtitle(scope, lang))])
    local = generated_at.replace(tzinfo=timezone.utc).astimezone(LOCAL_TZ)
    ws.append([_t("generated", lang), local.strftime("%Y-%m-%d %H:%M"),
               _t("formula_note", lang)])
    ws.append([])
    ws.append(w.header([_t("item", lang), _t("value", lang), _t("note", lang)]))
    for key, value, note in items:
        ws.append([_t(key, lang), formulas.get(key, value), note])
    charts_row = first + len(items) + 2
    ws.row_breaks.append(Break(id=charts_row - 1))  # the charts print on a page of their own
    _charts(ws, scope, lang, sheets["months"], month_rows, charts_row + 1)


def _charts(ws, scope: _Scope, lang: str, months_ws, month_rows: tuple[int, int],
            anchor_row: int) -> None:
    """Native charts over the by-month sheet: cumulative vs path, and monthly by sector."""
    first, last = month_rows
    if last < first:
        return
    periods = Reference(months_ws, min_col=1, min_row=first, max_row=last)

    progress = LineChart()
    progress.title = _t("chart_progress", lang)
    progress.y_axis.title = _t("vehicles", lang)
    progress.y_axis.number_format = COUNT
    progress.height, progress.width = 7, 22
    for column in (7, 8):  # cumulative, straight-line path
        progress.add_data(Reference(months_ws, min_col=column, min_row=first - 1,
                                    max_row=last), titles_from_data=True)
    progress.set_categories(periods)
    _show_axes(progress)
    ws.add_chart(progress, f"A{anchor_row}")

    monthly = BarChart()
    monthly.type = "col"
    monthly.grouping = "stacked"
    monthly.overlap = 100
    monthly.title = _t("chart_monthly", lang)
    monthly.y_axis.title = _t("vehicles", lang)
    monthly.y_axis.number_format = COUNT
    monthly.height, monthly.width = 7, 22
    monthly.add_data(Reference(months_ws, min_col=MONTH_CATEGORY_FIRST, min_row=first - 1,
                               max_col=MONTH_CATEGORY_FIRST + len(CATEGORIES) - 1,
                               max_row=last), titles_from_data=True)
    monthly.set_categories(periods)
    _show_axes(monthly)
    ws.add_chart(monthly, f"A{anchor_row + 15}")


def _show_axes(chart) -> None:
    # openpyxl 3.1 leaves axes "deleted" unless told otherwise; Excel then hides them.
    chart.x_axis.delete = False
    chart.y_axis.delete = False
    chart.legend.position = "b"
