"""The flat data (one row per city, month, category, powertrain): its columns, shared by the
summary workbook's last sheet and the CSV, and the CSV itself."""

import codecs
import csv
import io
from collections.abc import Iterable
from functools import lru_cache
from typing import BinaryIO

from ..figures import FlatRow
from ..reference import CATEGORY_BY_CODE, POWERTRAIN_BY_CODE, label
from .layout import status_text
from .safety import neutral_csv_text

COLUMNS = (
    # key, Chinese heading, English heading
    ("city_code", "城市代码", "City code"),
    ("city", "城市", "City"),
    ("period", "月份", "Month"),
    ("category_code", "领域代码", "Sector code"),
    ("category", "领域", "Sector"),
    ("powertrain_code", "动力类型代码", "Powertrain code"),
    ("powertrain", "动力类型", "Powertrain"),
    ("count", "新增新能源汽车（辆）", "New NEVs"),
    ("status", "月报状态", "Return status"),
    ("late", "迟报", "Submitted late"),
)
COUNT_INDEX = 7


def headings(lang: str) -> list[str]:
    return [zh if lang == "zh" else en for _, zh, en in COLUMNS]


@lru_cache(maxsize=512)
def _labels(lang: str, category: str, powertrain: str, status: str, late: bool) -> tuple:
    late_text = ("是" if late else "否") if lang == "zh" else ("yes" if late else "no")
    return (label(CATEGORY_BY_CODE[category], lang), label(POWERTRAIN_BY_CODE[powertrain], lang),
            status_text(status, lang), late_text)


def row_values(row: FlatRow, lang: str) -> list:
    """One FlatRow as the values of COLUMNS, in the language."""
    category, powertrain, status, late = _labels(lang, row.category, row.powertrain,
                                                 row.status, row.submitted_late)
    city = row.city_name_zh if lang == "zh" else row.city_name_en
    return [row.city_code, city, row.period, row.category, category, row.powertrain,
            powertrain, row.count, status, late]


def write_flat_csv(rows: Iterable[FlatRow], out: BinaryIO, lang: str = "zh") -> int:
    """Stream the flat data as CSV into a binary file: UTF-8 with a BOM, so that Excel reads the
    Chinese correctly. Text that a spreadsheet would take as a formula is neutralised.
    Returns the number of data rows written."""
    lang = "en" if lang.startswith("en") else "zh"
    out.write(codecs.BOM_UTF8)
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=False)
    writer = csv.writer(text)
    writer.writerow(headings(lang))
    n = 0
    for row in rows:
        writer.writerow([neutral_csv_text(v) for v in row_values(row, lang)])
        n += 1
    text.flush()
    text.detach()  # leave `out` open for the caller
    return n


def build_flat_csv(rows: Iterable[FlatRow], lang: str = "zh") -> bytes:
    out = io.BytesIO()
    write_flat_csv(rows, out, lang)
    return out.getvalue()
