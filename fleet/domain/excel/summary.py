"""The summary workbook: national (or one city's) progress from fleet.figures, as the dashboard
shows it, with native charts, frozen headers, filters and formulas for every total.

Built in openpyxl's write-only mode: rows are streamed to disk as they are written, so the flat
data sheet can hold hundreds of thousands of rows in bounded memory.
"""

import io
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import BinaryIO

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
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
from . import flat, sheet_xml
from .layout import FONT_NAME, FONT_SIZE, display_width, fit_width, heading_height, use_one_font
from .safety import is_formula_like, put_text
from .summary_text import SHEETS, text

COUNT = "#,##0"
SHARE = "0.0%"
RATIO = "0.00"
A4 = 9  # paperSize code of ECMA-376
HEADER_FILL = PatternFill("solid", fgColor="DDE4EE")
TOTAL_FILL = PatternFill("solid", fgColor="E8EDF3")
BOLD = Font(name=FONT_NAME, size=FONT_SIZE, bold=True)
TITLE = Font(name=FONT_NAME, size=14, bold=True)
WRAP = Alignment(wrap_text=True, vertical="center", horizontal="center")

@dataclass(frozen=True)
class _SummaryFigures:
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


def _summary_figures(progress: Progress | CityProgress, lang: str) -> _SummaryFigures:
    if isinstance(progress, CityProgress):
        city = progress.city
        return _SummaryFigures(
            city.name(lang), progress.basis, progress.window, city.target, (city,),
            progress.by_month, city.by_category, progress.projection,
            progress.expected_by_now, city.completeness, city.this_month, national=False)
    return _SummaryFigures(
        text("national", lang), progress.basis, progress.window, progress.target,
        progress.cities, progress.by_month, progress.by_category, progress.projection,
        progress.expected_by_now, progress.completeness, progress.this_month, national=True,
        city_targets_total=progress.city_targets_total,
        cities_without_target=progress.cities_without_target)


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
    summary = _summary_figures(progress, lang)
    wb = Workbook(write_only=True)
    use_one_font(wb)
    sheets = {key: wb.create_sheet(names[0] if lang == "zh" else names[1])
              for key, names in SHEETS.items()}
    # The overview alone is selected. Selecting the cities and months sheets too would make
    # them Excel's default print, but the workbook would open with the three grouped (Excel,
    # WPS and LibreOffice alike), where typing into one sheet writes into all three. Printing
    # every sheet stays short instead: the flat data's print area is its heading row.
    sheets["overview"].sheet_view.tabSelected = True
    cities_total_row = _cities_sheet(sheets["cities"], summary, lang)
    months_rows = _months_sheet(sheets["months"], summary, lang)
    _categories_sheet(sheets["categories"], summary, lang)
    spool = tempfile.SpooledTemporaryFile(max_size=sheet_xml.SPOOL_IN_MEMORY)
    n = _data_sheet(sheets["data"], summary, flat_rows, lang, spool)
    _overview_sheet(sheets["overview"], summary, lang, sheets, cities_total_row, months_rows,
                    generated_at or datetime.now(timezone.utc).replace(tzinfo=None))
    wb.calculation.fullCalcOnLoad = True
    frame = io.BytesIO()
    wb.save(frame)
    with spool:
        sheet_xml.splice_rows(frame.getvalue(), sheets["data"].path.lstrip("/"), spool, n,
                     len(flat.COLUMNS), out)


def _subtitle(summary: _SummaryFigures, lang: str) -> str:
    basis = text("basis_reported" if summary.basis == "reported" else "basis_verified", lang)
    through = format_period(summary.window.through, lang)
    return f"{summary.title} · {basis} · {text('through', lang)} {through}"


def _page(ws, summary: _SummaryFigures, lang: str, *, landscape: bool = True,
          pages_wide: int = 1, title_columns: str | None = None) -> None:
    """Print set-up: A4, `pages_wide` pages across (the columns in `title_columns` repeated on
    each), as many down as needed, the heading row on every page; the sheet's name and what
    it shows in the page header, page numbers in the footer, all in the one font."""
    ws.page_setup.paperSize = A4
    ws.page_setup.orientation = "landscape" if landscape else "portrait"
    ws.page_setup.fitToWidth = pages_wide
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    if title_columns:
        ws.print_title_cols = title_columns
    ws.page_margins.top = ws.page_margins.bottom = 0.8
    ws.page_margins.header = ws.page_margins.footer = 0.3
    ws.oddHeader.left.text = "&A"
    ws.oddHeader.center.text = _subtitle(summary, lang).replace("&", "&&")
    ws.oddFooter.right.text = text("page_of", lang)
    for part in (ws.oddHeader.left, ws.oddHeader.center, ws.oddFooter.right):
        part.font, part.size = FONT_NAME, 9


def _heading(ws, w: "_Writer", titles: list[str], widths: list[float], row: int = 1) -> None:
    """The heading row, tall enough for its wrapped texts (they never spill onto row 2)."""
    ws.row_dimensions[row].height = heading_height(titles, widths)
    ws.append(w.header(titles))


def _widths(ws, widths: list[float]) -> None:
    for index, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(index)].width = width


# --- by city ------------------------------------------------------------------------------------

# The by-city sheet's columns, in order: the one list that the headings, the formulas and the
# overview's references (CITY_COLUMNS) are all derived from.
CITY_SHEET_KEYS = ("code", "city", "province", "batch", "target",
                   *(f"category:{c.code}" for c in CATEGORIES),
                   "nev", "pct_target", "all_new", "nev_share", "this_month", "charging",
                   "swap", "expected", "received", "late", "missing", "returned",
                   "vin_backed", "vin_coverage")
CITY_COLUMNS = {key: get_column_letter(index)
                for index, key in enumerate(CITY_SHEET_KEYS, start=1)}
_CITY_HEADINGS = {"nev": "nev_total", "expected": "expected_returns"}
_CITY_WIDTHS = {"code": 10, "batch": 7, "target": 11, "nev": 12, "pct_target": 10,
                "all_new": 12, "nev_share": 10, "this_month": 10, "charging": 11, "swap": 10,
                "expected": 9, "received": 9, "late": 8, "missing": 8, "returned": 9,
                "vin_backed": 12, "vin_coverage": 10}


def _city_heading(key: str, lang: str) -> str:
    if key.startswith("category:"):
        return label(CATEGORY_BY_CODE[key.split(":", 1)[1]], lang)
    return text(_CITY_HEADINGS.get(key, key), lang)


def _city_row(w: "_Writer", city: CityFigures, row: int, lang: str) -> list:
    col = CITY_COLUMNS
    first_cat, last_cat = col[f"category:{CATEGORIES[0].code}"], col[
        f"category:{CATEGORIES[-1].code}"]
    n, e, a, vb = col["nev"], col["target"], col["all_new"], col["vin_backed"]
    c = city.completeness
    return [
        city.code, w.text(city.name(lang)), w.text(city.province_zh), city.batch,
        w.cell(city.target, COUNT),
        *(w.cell(cat.nev, COUNT) for cat in city.by_category),
        w.cell(f"=SUM({first_cat}{row}:{last_cat}{row})", COUNT, font=BOLD),
        w.cell(f'=IF(N({e}{row})>0,{n}{row}/{e}{row},"")', SHARE),
        w.cell(city.all_new, COUNT),
        w.cell(f'=IF(N({a}{row})>0,{n}{row}/{a}{row},"")', SHARE),
        w.cell(city.this_month, COUNT), w.cell(city.charging_points, COUNT),
        w.cell(city.swap_stations, COUNT),
        c.expected, c.received, c.late, c.missing, c.returned,
        w.cell(city.vin_backed, COUNT),
        w.cell(f'=IF(N({n}{row})>0,{vb}{row}/{n}{row},"")', SHARE)]


def _cities_total_row(w: "_Writer", first: int, last: int, lang: str) -> list:
    """Sums of every numeric column; the two shares as ratios of the sums."""
    col, total = CITY_COLUMNS, last + 1
    n, e, a, vb = col["nev"], col["target"], col["all_new"], col["vin_backed"]
    ratios = {"pct_target": f'=IF(N({e}{total})>0,{n}{total}/{e}{total},"")',
              "nev_share": f'=IF(N({a}{total})>0,{n}{total}/{a}{total},"")',
              "vin_coverage": f'=IF(N({n}{total})>0,{vb}{total}/{n}{total},"")'}
    cells = [w.cell(text("total", lang), font=BOLD, fill=TOTAL_FILL), None, None, None]
    for key in CITY_SHEET_KEYS[4:]:
        letter = col[key]
        formula = ratios.get(key, f"=SUM({letter}{first}:{letter}{last})")
        fmt = SHARE if key in ratios else COUNT
        cells.append(w.cell(formula, fmt, font=BOLD, fill=TOTAL_FILL))
    return cells


def _cities_sheet(ws, summary: _SummaryFigures, lang: str) -> int:
    """One row per city, a total row of formulas. Returns the total row's number."""
    w = _Writer(ws)
    names = [c.name(lang) for c in summary.cities]
    widths = {**_CITY_WIDTHS,
              "city": fit_width(names + [text("total", lang)], 10, 30),
              "province": fit_width([c.province_zh for c in summary.cities], 8, 20)}
    column_widths = [widths.get(key, 11) for key in CITY_SHEET_KEYS]
    _widths(ws, column_widths)
    ws.freeze_panes = "C2"
    # 25 columns: two pages across, each with the code and the city's name.
    _page(ws, summary, lang, pages_wide=2, title_columns="A:B")
    ws.print_title_rows = "1:1"
    _heading(ws, w, [_city_heading(key, lang) for key in CITY_SHEET_KEYS], column_widths)
    first = 2
    for row, city in enumerate(summary.cities, start=first):
        ws.append(_city_row(w, city, row, lang))
    last = first + len(summary.cities) - 1
    ws.auto_filter.ref = f"A1:{CITY_COLUMNS[CITY_SHEET_KEYS[-1]]}{last}"
    ws.append(_cities_total_row(w, first, last, lang))
    return last + 1


# --- by month -----------------------------------------------------------------------------------

MONTH_COLUMNS = {"nev": "E", "cumulative": "G", "path": "H"}
MONTH_CATEGORY_FIRST = 9  # column I


def _months_sheet(ws, summary: _SummaryFigures, lang: str) -> tuple[int, int]:
    """Each month: NEVs by powertrain, total, cumulative, path, by sector; infrastructure.

    Returns the first and last data rows (the charts and the overview refer to them).
    """
    w = _Writer(ws)
    titles = [text("month", lang), *(label(p, lang) for p in POWERTRAINS), text("nev_total", lang),
              text("all_new", lang), text("cumulative_short", lang), text("path", lang),
              *(label(c, lang) for c in CATEGORIES), text("charging", lang), text("swap", lang)]
    column_widths = [10, *[12] * 3, 12, 13, 12, 13, *[11] * len(CATEGORIES), 12, 11]
    _widths(ws, column_widths)
    ws.freeze_panes = "B2"
    _page(ws, summary, lang, pages_wide=2, title_columns="A:A")
    ws.print_title_rows = "1:1"
    _heading(ws, w, titles, column_widths)
    first = 2
    months = summary.by_month
    for index, month in enumerate(months, start=1):
        row = first + index - 1
        cumulative = f"=E{row}" if index == 1 else f"=G{row - 1}+E{row}"
        # The straight path of the dashboard and the charts (fleet.domain.figures).
        path = summary.window.expected_by(summary.target, index) if summary.target else None
        ws.append([
            month.period, w.cell(month.bev, COUNT), w.cell(month.phev, COUNT),
            w.cell(month.fcev, COUNT), w.cell(f"=SUM(B{row}:D{row})", COUNT, font=BOLD),
            w.cell(month.all_new, COUNT), w.cell(cumulative, COUNT), w.cell(path, COUNT),
            *(w.cell(month.by_category[c.code], COUNT) for c in CATEGORIES),
            w.cell(month.charging_points, COUNT), w.cell(month.swap_stations, COUNT)])
    last = first + len(months) - 1
    ws.auto_filter.ref = f"A1:{get_column_letter(len(titles))}{max(last, first)}"
    cells = [w.cell(text("total", lang), font=BOLD, fill=TOTAL_FILL)]
    for index in range(2, len(titles) + 1):
        letter = get_column_letter(index)
        formula = (None if letter in ("G", "H") else f"=SUM({letter}{first}:{letter}{last})")
        cells.append(w.cell(formula, COUNT, font=BOLD, fill=TOTAL_FILL))
    ws.append(cells)
    return first, last


# --- by category and powertrain -----------------------------------------------------------------

def _categories_sheet(ws, summary: _SummaryFigures, lang: str) -> None:
    w = _Writer(ws)
    titles = [text("sector", lang), *(label(p, lang) for p in POWERTRAINS), text("nev_total", lang),
              text("all_new", lang), text("nev_share", lang), text("aim", lang),
              text("meets_aim", lang), text("this_month", lang)]
    column_widths = [fit_width([label(c, lang) for c in CATEGORIES], 12, 36),
                     *[13] * 5, 11, 11, 10, 12]
    _widths(ws, column_widths)
    ws.freeze_panes = "B2"
    _page(ws, summary, lang)
    ws.print_title_rows = "1:1"
    _heading(ws, w, titles, column_widths)
    yes, no = text("yes", lang), text("no", lang)
    first = 2
    for row, cat in enumerate(summary.by_category, start=first):
        ws.append([
            label(CATEGORY_BY_CODE[cat.category], lang), w.cell(cat.bev, COUNT),
            w.cell(cat.phev, COUNT), w.cell(cat.fcev, COUNT),
            w.cell(f"=SUM(B{row}:D{row})", COUNT, font=BOLD), w.cell(cat.all_new, COUNT),
            w.cell(f'=IF(N(F{row})>0,E{row}/F{row},"")', SHARE),
            w.cell(cat.share_aim, SHARE),
            w.cell(f'=IF(OR(H{row}="",G{row}=""),"",IF(G{row}>=H{row},"{yes}","{no}"))'),
            w.cell(cat.this_month, COUNT)])
    last = first + len(summary.by_category) - 1
    total = last + 1
    ws.auto_filter.ref = f"A1:J{last}"
    ws.append([w.cell(text("total", lang), font=BOLD, fill=TOTAL_FILL),
               *(w.cell(f"=SUM({x}{first}:{x}{last})", COUNT, font=BOLD, fill=TOTAL_FILL)
                 for x in "BCDEF"),
               w.cell(f'=IF(N(F{total})>0,E{total}/F{total},"")', SHARE, font=BOLD,
                      fill=TOTAL_FILL), None, None,
               w.cell(f"=SUM(J{first}:J{last})", COUNT, font=BOLD, fill=TOTAL_FILL)])


# --- flat data ----------------------------------------------------------------------------------

def _data_sheet(ws, summary: _SummaryFigures, rows: Iterable[FlatRow], lang: str, spool) -> int:
    """One row per city, month, sector and powertrain, for pivot tables. The heading row goes
    through openpyxl; the data rows are written as XML into `spool`. Returns their number."""
    w = _Writer(ws)
    names = [c.name(lang) for c in summary.cities]
    headings = flat.headings(lang)
    widths = [max(display_width(h) + 2, 8) for h in headings]
    widths[1] = max(widths[1], fit_width(names, 8, 30))
    widths[4] = max(widths[4], fit_width([label(c, lang) for c in CATEGORIES], 8, 36))
    widths[6] = max(widths[6], fit_width([label(p, lang) for p in POWERTRAINS], 8, 40))
    _widths(ws, widths)
    ws.freeze_panes = "A2"
    _page(ws, summary, lang)
    ws.print_title_rows = "1:1"
    _heading(ws, w, headings, widths)
    count_style = WriteOnlyCell(ws, 0)
    count_style.number_format = COUNT
    quoted = WriteOnlyCell(ws, "")
    quoted.quotePrefix = True
    n = sheet_xml.write_rows_xml(spool, rows, lang, count_style.style_id, quoted.style_id)
    last = get_column_letter(len(headings))
    ws.auto_filter.ref = f"A1:{last}{n + 1}"
    # Printing every sheet (LibreOffice's print and PDF export, Excel's "entire workbook")
    # would give hundreds of pages of data rows: the print area is the heading row, and the
    # page's footer says how many rows there are and how to print them. Both honour the print
    # area (the sheet's _xlnm.Print_Area name); LibreOffice ignores the selected sheets, and
    # prints a sheet without a print area whole, so nothing else short of hiding it works.
    ws.print_area = f"A1:{last}1"
    ws.oddFooter.left.text = (text("data_print_note", lang).replace("%(n)s", f"{n:,}")
                              .replace("&", "&&"))
    ws.oddFooter.left.font, ws.oddFooter.left.size = FONT_NAME, 9
    return n


# --- overview -----------------------------------------------------------------------------------

def _overview_items(w: "_Writer", summary: _SummaryFigures, lang: str, city_total) -> list:
    """(text key, value, note) of each line of the overview; None values are formulas."""
    projection, window = summary.projection, summary.window
    yes, no = text("yes", lang), text("no", lang)
    projection_note = (text("projection_note", lang)
                       .replace("%(n)s", str(projection.months_used))
                       .replace("%(rate)s", f"{projection.run_rate:,.0f}")
                       .replace("%(left)s", str(projection.months_left)))
    items = [
        ("target", w.cell(summary.target, COUNT) if summary.target
         else text("no_target", lang), None),
        ("cumulative", w.cell(f"={city_total('nev')}", COUNT, font=BOLD), None),
        ("pct_target", None, None),
        ("this_month", w.cell(f"={city_total('this_month')}", COUNT),
         format_period(window.through, lang)),
        ("window_months", window.window_months,
         f"{window.first_period} – {window.last_period}"),
        ("elapsed_months", window.elapsed_months, None),
        ("elapsed_share", None, None),
        ("expected", w.cell(summary.expected_by_now, COUNT), None),
        ("projection", w.cell(projection.value, COUNT), projection_note),
        ("on_track", (yes if projection.on_track else no)
         if projection.on_track is not None else "—", None),
        ("all_new", w.cell(f"={city_total('all_new')}", COUNT), None),
        ("nev_share", None, None),
        ("charging", w.cell(f"={city_total('charging')}", COUNT), None),
        ("charging_ratio", None, text("charging_aim", lang)),
        ("swap", w.cell(f"={city_total('swap')}", COUNT), None),
        *((key, w.cell(f"={city_total(column)}", COUNT), None) for key, column in (
            ("expected_returns", "expected"), ("received", "received"), ("late", "late"),
            ("missing", "missing"), ("returned", "returned"))),
        ("completeness", None, None),
        ("timeliness", None, None),
    ]
    if summary.national:
        items += [("city_targets", w.cell(summary.city_targets_total, COUNT), None),
                  ("without_target", summary.cities_without_target, None)]
    return items


def _overview_formulas(w: "_Writer", ref) -> dict:
    """The overview's ratios, as formulas over its own cells (ref(key) -> 'B7')."""

    def share(numerator: str, denominator: str, fmt: str = SHARE, **style):
        return w.cell(f'=IF(N({ref(denominator)})>0,{numerator}/{ref(denominator)},"")', fmt,
                      **style)

    return {
        "pct_target": share(ref("cumulative"), "target", font=BOLD),
        "elapsed_share": w.cell(f"={ref('elapsed_months')}/{ref('window_months')}", SHARE),
        "nev_share": share(ref("cumulative"), "all_new"),
        "charging_ratio": share(ref("charging"), "cumulative", RATIO),
        "completeness": share(ref("received"), "expected_returns"),
        "timeliness": share(f"({ref('received')}-{ref('late')})", "expected_returns"),
    }


def _overview_sheet(ws, summary: _SummaryFigures, lang: str, sheets: dict, total_row: int,
                    month_rows: tuple[int, int], generated_at: datetime) -> None:
    """The headline: cumulative vs target, % of target, window elapsed, projection,
    completeness; and the two charts."""
    w = _Writer(ws)
    _page(ws, summary, lang)
    cities = f"'{sheets['cities'].title}'!"
    items = _overview_items(
        w, summary, lang, lambda key: f"{cities}{CITY_COLUMNS[key]}{total_row}")
    first = 6  # after the title, subtitle, generated, a blank row and the heading row
    rows = {key: first + offset for offset, (key, *_) in enumerate(items)}
    formulas = _overview_formulas(w, lambda key: f"B{rows[key]}")
    column_widths = [fit_width([text(key, lang) for key, *_ in items], 16, 40), 16, 60]
    _widths(ws, column_widths)
    ws.append([w.cell(text("title", lang), font=TITLE)])
    ws.append([w.text(_subtitle(summary, lang))])
    local = generated_at.replace(tzinfo=timezone.utc).astimezone(LOCAL_TZ)
    ws.append([text("generated", lang), local.strftime("%Y-%m-%d %H:%M"),
               text("formula_note", lang)])
    ws.append([])
    _heading(ws, w, [text("item", lang), text("value", lang), text("note", lang)],
             column_widths, row=5)
    for key, value, note in items:
        ws.append([text(key, lang), formulas.get(key, value), note])
    charts_row = first + len(items) + 2
    ws.row_breaks.append(Break(id=charts_row - 1))  # the charts print on a page of their own
    _charts(ws, summary, lang, sheets["months"], month_rows, charts_row + 1)


def _charts(ws, summary: _SummaryFigures, lang: str, months_ws, month_rows: tuple[int, int],
            anchor_row: int) -> None:
    """Native charts over the by-month sheet: cumulative vs path, and monthly by sector."""
    first, last = month_rows
    if last < first:
        return
    periods = Reference(months_ws, min_col=1, min_row=first, max_row=last)

    progress = LineChart()
    progress.title = text("chart_progress", lang)
    progress.y_axis.title = text("vehicles", lang)
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
    monthly.title = text("chart_monthly", lang)
    monthly.y_axis.title = text("vehicles", lang)
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
