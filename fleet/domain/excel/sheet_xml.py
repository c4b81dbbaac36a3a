"""Rows of a large sheet written as plain sheet XML, and spliced into the workbook that
openpyxl wrote (its columns, frozen header, filter, print set-up and heading row).

openpyxl's own XML writer (without lxml) spends ~10 µs a cell, too slow for hundreds of
thousands of rows; here the rows go into a spool file, so memory stays bounded.
"""

import io
import re
import shutil
import zipfile
from collections.abc import Iterable
from typing import BinaryIO
from xml.sax.saxutils import escape

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.utils import get_column_letter

from ..figures import FlatRow
from . import flat
from .safety import is_formula_like

SPOOL_IN_MEMORY = 8 * 1024 * 1024


def write_rows_xml(spool, rows: Iterable[FlatRow], lang: str, count_style: int,
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


def splice_rows(workbook: bytes, sheet_path: str, spool, n: int, columns: int,
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
