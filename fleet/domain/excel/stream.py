"""A one-sheet .xlsx written as a stream of bytes, for exports of hundreds of thousands of rows.

openpyxl (even write-only) and xlsxwriter finish the file before the first byte can leave; here
the zip is written forward-only (data descriptors after each part), the sheet row by row, and
the bytes are handed out as they are produced: the download starts at once and memory does
not grow with the rows. Text goes in as inline strings, so nothing is ever read as a formula;
dates are real dates (a number with a date format). Opens in Excel, WPS and LibreOffice.
"""

import zipfile
from collections.abc import Iterable, Iterator
from datetime import date
from xml.sax.saxutils import escape

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.utils import get_column_letter

EXCEL_EPOCH_ORDINAL = date(1899, 12, 30).toordinal()
ROWS_PER_CHUNK = 2000

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
    'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.'
    'openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.styles+xml"/></Types>')
_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>')
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="{name}" sheetId="1" r:id="rId1"/></sheets></workbook>')
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/worksheet" Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/styles" Target="styles.xml"/></Relationships>')
# Style 0: default; 1: date (yyyy-mm-dd); 2: bold header with a grey fill.
_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy-mm-dd"/></numFmts>'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="3"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill>'
    '<fill><patternFill patternType="solid"><fgColor rgb="FFE7E6E6"/></patternFill></fill>'
    '</fills><borders count="1"><border/></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/>'
    '</cellStyleXfs><cellXfs count="3">'
    '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="0" fontId="1" fillId="2" borderId="0" xfId="0" applyFont="1" '
    'applyFill="1"/></cellXfs><cellStyles count="1"><cellStyle name="Normal" xfId="0" '
    'builtinId="0"/></cellStyles></styleSheet>')


class _Sink:
    """A forward-only file for zipfile: what is written waits in a list until taken."""

    def __init__(self):
        self.chunks: list[bytes] = []

    def write(self, data) -> int:
        self.chunks.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        out = b"".join(self.chunks)
        self.chunks.clear()
        return out


def _text(value: str) -> str:
    value = escape(value)
    if ILLEGAL_CHARACTERS_RE.search(value):
        value = ILLEGAL_CHARACTERS_RE.sub("", value)
    return f'<c t="inlineStr"><is><t xml:space="preserve">{value}</t></is></c>'


def _cell(value) -> str:
    if value is None or value == "":
        return "<c/>"
    if isinstance(value, bool):
        return _text("TRUE" if value else "FALSE")
    if isinstance(value, int | float):
        return f"<c><v>{value}</v></c>"
    if isinstance(value, date):
        return f'<c s="1"><v>{value.toordinal() - EXCEL_EPOCH_ORDINAL}</v></c>'
    return _text(str(value))


def _sheet_head(headers: list[str], widths: list[int]) -> str:
    cols = "".join(f'<col min="{i}" max="{i}" width="{w}" customWidth="1"/>'
                   for i, w in enumerate(widths, 1))
    header = "".join(f'<c s="2" t="inlineStr"><is><t>{escape(h)}</t></is></c>'
                     for h in headers)
    return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            '<sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" '
            'activePane="bottomLeft" state="frozen"/></sheetView></sheetViews>'
            f'<cols>{cols}</cols><sheetData><row r="1">{header}</row>')


def stream_xlsx(sheet_name: str, headers: list[str], rows: Iterable[Iterable],
                widths: list[int] | None = None) -> Iterator[bytes]:
    """Yield the bytes of a workbook of one sheet: a frozen, filtered header, then `rows`."""
    sink = _Sink()
    widths = widths or [14] * len(headers)
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr("[Content_Types].xml", _CONTENT_TYPES)
        zf.writestr("_rels/.rels", _RELS)
        zf.writestr("xl/workbook.xml", _WORKBOOK.format(name=escape(sheet_name[:31])))
        zf.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        zf.writestr("xl/styles.xml", _STYLES)
        with zf.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            sheet.write(_sheet_head(headers, widths).encode())
            yield sink.take()
            n, batch = 1, []
            for row in rows:
                n += 1
                batch.append(f'<row r="{n}">{"".join(_cell(v) for v in row)}</row>')
                if len(batch) >= ROWS_PER_CHUNK:
                    sheet.write("".join(batch).encode())
                    batch.clear()
                    yield sink.take()
            last = get_column_letter(len(headers))
            sheet.write(("".join(batch) + f'</sheetData><autoFilter ref="A1:{last}{n}"/>'
                         '</worksheet>').encode())
    yield sink.take()


def build_xlsx(sheet_name: str, headers: list[str], rows: Iterable[Iterable],
               widths: list[int] | None = None) -> bytes:
    """The same workbook in one piece (small files: the error list of an upload)."""
    return b"".join(stream_xlsx(sheet_name, headers, rows, widths))
