"""The roster's files: the blank template a city fills (openpyxl, styled), the exports of a
city's or the nation's vehicles as CSV and .xlsx (streamed, flat memory), and the list of the
failing rows of an upload."""

import codecs
import csv
import io
from collections.abc import Iterable, Iterator
from functools import lru_cache
from itertools import islice

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.worksheet.datavalidation import DataValidation

from ...models import City
from ..periods import format_period
from ..reference import CATEGORIES, CATEGORY_BY_CODE, POWERTRAIN_BY_CODE, POWERTRAINS, label
from ..vehicle_rules import HEADERS_EN, HEADERS_ZH
from .safety import FORMULA_PREFIXES, put_text
from .stream import build_xlsx, stream_xlsx

TEMPLATE_ROWS = 100_000  # how far down the drop-down lists and the date format reach
WIDTHS = [22, 12, 18, 26, 14, 26, 16, 20]


def build_roster_template(city: City, period: str, lang: str = "zh") -> bytes:
    """The blank roster of a city-month: the Chinese headers (what the upload reads), a
    frozen header row, drop-down lists of the categories and powertrains, a date format."""
    book = Workbook()
    sheet = book.active
    sheet.title = "车辆明细"
    lists = book.create_sheet("lists")
    lists.sheet_state = "hidden"
    for i, category in enumerate(CATEGORIES, 1):
        lists.cell(i, 1, category.name_zh)
    for i, powertrain in enumerate(POWERTRAINS, 1):
        lists.cell(i, 2, powertrain.name_zh)
    bold, fill = Font(bold=True), PatternFill("solid", fgColor="E7E6E6")
    for column, (header, width) in enumerate(zip(HEADERS_ZH, WIDTHS, strict=True), 1):
        cell = sheet.cell(1, column, header)
        cell.font, cell.fill = bold, fill
        cell.alignment = Alignment(horizontal="center")
        sheet.column_dimensions[cell.column_letter].width = width
    sheet.freeze_panes = "A2"
    last = TEMPLATE_ROWS + 1
    for column, source, count in (("C", "A", len(CATEGORIES)), ("D", "B", len(POWERTRAINS))):
        validation = DataValidation(type="list", formula1=f"lists!${source}$1:${source}${count}",
                                    allow_blank=True, showErrorMessage=True)
        validation.add(f"{column}2:{column}{last}")
        sheet.add_data_validation(validation)
    dates = DataValidation(type="date", operator="greaterThan", formula1="36526",
                           allow_blank=True, showErrorMessage=True)
    dates.add(f"E2:E{last}")
    sheet.add_data_validation(dates)
    for column in ("A", "B"):  # VINs and plates are text, never numbers
        sheet.column_dimensions[column].number_format = "@"
    sheet.column_dimensions["E"].number_format = "yyyy-mm-dd"
    note = book.create_sheet("说明")
    put_text(note.cell(1, 1), f"{city.name_zh} {format_period(period, 'zh')} 新增新能源汽车明细")
    put_text(note.cell(2, 1), "每行一辆车；投入使用日期须在本月内；VIN 17 位，第 9 位为校验位；"
                              "同一 VIN 全国只计一次。")
    put_text(note.cell(3, 1), " / ".join(HEADERS_EN))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# --- exports ----------------------------------------------------------------------------------

EXPORT_HEADERS_ZH = ["城市代码", "城市", "月份", *HEADERS_ZH]
EXPORT_HEADERS_EN = ["City code", "City", "Month", *HEADERS_EN]
EXPORT_WIDTHS = [10, 12, 9, *WIDTHS]


@lru_cache(maxsize=2)
def _names(lang: str) -> dict[tuple[str, str], tuple[str, str]]:
    """The category's and the powertrain's names of every pair of codes, in `lang`."""
    return {(category, powertrain): (label(CATEGORY_BY_CODE[category], lang),
                                     label(POWERTRAIN_BY_CODE[powertrain], lang))
            for category in CATEGORY_BY_CODE for powertrain in POWERTRAIN_BY_CODE}


def export_values(rows: Iterable[tuple], lang: str, neutral: bool = False) -> Iterator[list]:
    """The rows of fleet.domain.vehicles.export_rows as the export's columns. With `neutral`
    (CSV, which has no cell types), the texts people typed that a spreadsheet would read as
    a formula get a leading apostrophe; the other columns are ours or checked (VIN)."""
    zh, names = lang == "zh", _names(lang)
    for (code, city_zh, city_en, period, vin, plate, category, powertrain, day, operator,
         model, maker) in rows:
        category_name, powertrain_name = names[category, powertrain]
        if neutral and (operator.startswith(FORMULA_PREFIXES) or model.startswith(
                FORMULA_PREFIXES) or maker.startswith(FORMULA_PREFIXES)):
            operator, model, maker = (_neutral(operator), _neutral(model), _neutral(maker))
        yield [code, city_zh if zh else city_en, period, vin, plate, category_name,
               powertrain_name, day, operator, model, maker]


def _neutral(text: str) -> str:
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def export_headers(lang: str) -> list[str]:
    return EXPORT_HEADERS_ZH if lang == "zh" else EXPORT_HEADERS_EN


def export_csv(rows: Iterable[tuple], lang: str = "zh", chunk_rows: int = 5000
               ) -> Iterator[bytes]:
    """CSV in UTF-8 with a BOM (so Excel reads the Chinese), in chunks as rows arrive.
    Text a spreadsheet would take as a formula is neutralised."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(export_headers(lang))
    yield codecs.BOM_UTF8 + buffer.getvalue().encode()
    values = export_values(rows, lang, neutral=True)
    while batch := list(islice(values, chunk_rows)):
        buffer.seek(0)
        buffer.truncate()
        writer.writerows(batch)
        yield buffer.getvalue().encode()


def export_xlsx(rows: Iterable[tuple], lang: str = "zh") -> Iterator[bytes]:
    """The same as a workbook, streamed (fleet.domain.excel.stream)."""
    return stream_xlsx("车辆明细" if lang == "zh" else "Vehicles", export_headers(lang),
                       export_values(rows, lang), EXPORT_WIDTHS)


def errors_workbook(headers: list[str], rows: list[list]) -> bytes:
    """The failing rows of an upload, as uploaded, with a message column."""
    return build_xlsx("errors", headers, rows, [8, *WIDTHS, 60])
