"""Checks on files that come from outside, before any spreadsheet code reads them, and the
neutralising of user text written into files we hand out.

An .xlsx is a zip of XML parts. Before openpyxl opens one we check, with zipfile alone, that it
is a real, macro-free workbook of a reasonable size: the central directory's declared sizes
bound what zipfile will ever inflate (it stops at the declared size and checks the CRC), so a
zip bomb is refused by its own directory. openpyxl then parses the XML with defusedxml.
"""

import codecs
import io
import re
import zipfile
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from ..errors import DomainError

ZIP_MAGIC = b"PK\x03\x04"
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls, and password-encrypted .xlsx

# A return template holds a dozen parts: the real one (fleet.domain.excel.template, measured
# in Chinese) unpacks to 34 kB in all; its largest parts are the sheet (9.4 kB), the theme
# (10 kB) and the styles (6.8 kB), and it has a few hundred strings and cells. Saved again
# by LibreOffice it unpacks to 40 kB: shared strings 4.5 kB, styles 12 kB, sheet 10 kB
# (Excel and WPS write parts of the same order). Each part is bounded by what such a file
# needs, with a wide margin (a hundredfold), and the bounds are read from the zip's
# directory before anything is inflated or parsed, so any upload is refused or accepted in
# a fraction of a second.
MAX_ENTRIES = 300
MAX_SHARED_STRINGS = 1 * 1024 * 1024  # xl/sharedStrings.xml
MAX_SHEET = 2 * 1024 * 1024  # each xl/worksheets/sheetN.xml
MAX_STYLES = 1 * 1024 * 1024  # xl/styles.xml
MAX_OTHER_PART = 1 * 1024 * 1024  # workbook, theme, relationships, properties, anything else
MAX_TOTAL_UNCOMPRESSED = 8 * 1024 * 1024
# XML compresses well, but not a thousandfold; only big parts are held to the ratio.
MAX_RATIO = 200
RATIO_CHECKED_ABOVE = 256 * 1024



@dataclass(frozen=True)
class ZipBounds:
    """How much an accepted workbook may hold (the roster's are larger than a return's).

    max_entry: the most any one part may unpack to; None for the return template, whose
    parts are each bounded by what a template needs (part_limit).
    kind: what the workbook should be ("return" template or vehicle "roster"), for the
    refusal's wording."""

    max_entries: int = MAX_ENTRIES
    max_total: int = MAX_TOTAL_UNCOMPRESSED
    max_entry: int | None = None
    max_ratio: int = MAX_RATIO
    kind: str = "return"


RETURN_BOUNDS = ZipBounds()

WORKBOOK_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
# Parts that carry programs: VBA projects, Excel 4 macro sheets, ActiveX controls.
MACRO_MARKERS = ("vbaproject", "macrosheets/", "activex", "macroenabled", "vbadata")

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


class UnsafeFile(DomainError):
    """The file is not a workbook we are willing to open; nothing was read from it."""


def check_xlsx(data: bytes, filename: str = "", bounds: ZipBounds = RETURN_BOUNDS) -> None:
    """Refuse anything that is not a plain, macro-free, reasonably sized .xlsx.

    Raises UnsafeFile with a message for the person who uploaded it.
    """
    name = (filename or "").lower()
    if name.endswith((".xlsm", ".xltm", ".xlam", ".xlsb")):
        raise UnsafeFile(_l("Workbooks with macros (.xlsm) are not accepted. Please save the "
                            "template as an ordinary Excel workbook (.xlsx)."))
    if data.startswith(OLE2_MAGIC):
        raise UnsafeFile(_l("This is an old-format (.xls) or password-protected workbook. "
                            "Please save it as an Excel workbook (.xlsx) without a password."))
    if not data.startswith(ZIP_MAGIC):
        raise UnsafeFile(_l("This file is not an Excel workbook (.xlsx)."))
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as error:
        raise UnsafeFile(_l("This file is not an Excel workbook (.xlsx), or it is damaged.")
                         ) from error
    with archive:
        _check_sizes(entries, bounds)
        names = {info.filename.lower() for info in entries}
        if any(marker in entry for entry in names for marker in MACRO_MARKERS):
            raise UnsafeFile(_l("Workbooks with macros (.xlsm) are not accepted. Please save "
                                "the template as an ordinary Excel workbook (.xlsx)."))
        if "[content_types].xml" not in names or "xl/workbook.xml" not in names:
            raise UnsafeFile(_l("This file is not an Excel workbook (.xlsx)."))
        content_types = archive.read("[Content_Types].xml")
        if b"macroenabled" in content_types.lower() or b"vbaproject" in content_types.lower():
            raise UnsafeFile(_l("Workbooks with macros (.xlsm) are not accepted. Please save "
                                "the template as an ordinary Excel workbook (.xlsx)."))
        if WORKBOOK_CONTENT_TYPE.encode() not in content_types:
            raise UnsafeFile(_l("This file is not an Excel workbook (.xlsx)."))
        _check_no_dtd(archive, entries)


def part_limit(name: str) -> int:
    """The most a part of this name may unpack to (see MAX_SHARED_STRINGS and the others)."""
    name = name.lower()
    if name == "xl/sharedstrings.xml":
        return MAX_SHARED_STRINGS
    if name.startswith("xl/worksheets/") and name.endswith(".xml"):
        return MAX_SHEET
    if name == "xl/styles.xml":
        return MAX_STYLES
    return MAX_OTHER_PART


def _check_sizes(entries: list[zipfile.ZipInfo], bounds: ZipBounds) -> None:
    """Entry count, declared uncompressed sizes (per part and in all) and compression ratios
    (zip bombs), from the zip's directory alone: nothing is inflated yet."""
    if len(entries) > bounds.max_entries:
        raise UnsafeFile(_l("This workbook has too many parts to be a vehicle roster.")
                         if bounds.kind == "roster" else
                         _l("This workbook has too many parts to be a return template."))
    total = 0
    for info in entries:
        if info.flag_bits & 0x1:
            raise UnsafeFile(_l("This is an old-format (.xls) or password-protected workbook. "
                                "Please save it as an Excel workbook (.xlsx) without a "
                                "password."))
        total += info.file_size
        ratio = info.file_size / max(info.compress_size, 1)
        limit = bounds.max_entry if bounds.max_entry is not None else part_limit(info.filename)
        if (info.file_size > limit or total > bounds.max_total
                or (info.file_size > RATIO_CHECKED_ABOVE and ratio > bounds.max_ratio)):
            raise UnsafeFile(_too_much(bounds, info.filename[:100]))


def _too_much(bounds: ZipBounds, part: str):
    if bounds.kind == "roster":
        return _l("This workbook would unpack to far more data than a vehicle roster holds "
                  "(part %(part)s); it was not opened.", part=part)
    return _l("This workbook would unpack to far more data than a return template holds "
              "(part %(part)s); it was not opened.", part=part)


def assert_safe_parser() -> None:
    """openpyxl must parse XML with defusedxml (no entity expansion, no external entities);
    it does so only when defusedxml is installed. Called at start-up: refuse to run without.
    """
    import openpyxl.xml

    if not getattr(openpyxl.xml, "DEFUSEDXML", False):
        raise RuntimeError("openpyxl does not parse with defusedxml: install defusedxml "
                           "(requirements.txt) before starting Fleet.")


def _check_no_dtd(archive: zipfile.ZipFile, entries: list[zipfile.ZipInfo]) -> None:
    """No part of an Office file needs a DTD; entity tricks (billion laughs) start with one.

    defusedxml would refuse them too when openpyxl parses; this gives the clearer message.
    """
    for info in entries:
        if not info.filename.lower().endswith((".xml", ".rels", ".vml")):
            continue
        with archive.open(info) as part:
            if _declares_dtd(part):
                raise UnsafeFile(_l("This workbook contains XML declarations that are not "
                                    "allowed in a spreadsheet; it was not opened."))


# What may stand before an XML document's root element besides a DTD: the XML declaration
# and other processing instructions, comments and whitespace (XML 1.0, production [22]).
_PROLOG_ITEM = re.compile(rb"\s+|<\?.*?\?>|<!--.*?-->", re.S)
PROLOG_CHUNK = 64 * 1024
# An Office part's prolog is a declaration of a hundred bytes; one far longer is refused.
MAX_PROLOG = 1024 * 1024


def _declares_dtd(part) -> bool:
    """Whether this XML document declares a DTD (<!DOCTYPE ...>, where entities are
    declared). A DTD can only stand in the prolog, before the root element, so only the
    prolog is read: a 60 MiB sheet costs one chunk, not 60 MiB inflated and searched."""
    buffer, prolog = b"", 0
    while True:
        chunk = part.read(PROLOG_CHUNK)
        if not (buffer or prolog):
            chunk = chunk.removeprefix(codecs.BOM_UTF8)
        buffer += chunk
        position = 0
        while (item := _PROLOG_ITEM.match(buffer, position)) and item.end() > position:
            position = item.end()
        buffer, prolog = buffer[position:], prolog + position
        if buffer.startswith(b"<!") and not buffer.startswith(b"<!--") and len(buffer) >= 4:
            return True  # a declaration in the prolog: only <!DOCTYPE can be one
        unfinished = len(buffer) < 4 or buffer.startswith((b"<?", b"<!--"))
        if prolog + (len(buffer) if unfinished else 0) > MAX_PROLOG:
            return True
        if not (unfinished and chunk):
            return False  # the root element (or, at the end, no document: not ours to judge)


def is_formula_like(text: str) -> bool:
    """True for text a spreadsheet would take as a formula (or a CSV reader might)."""
    return text.startswith(FORMULA_PREFIXES)


def neutral_csv_text(value):
    """CSV has no cell types: text that looks like a formula gets a leading apostrophe."""
    if isinstance(value, str) and is_formula_like(value):
        return "'" + value
    return value


def put_text(cell, text: str) -> None:
    """Write user text into a cell as text, never as a formula (formula injection).

    openpyxl turns a string starting with '=' into a formula; we force the string type, and
    mark text that a spreadsheet would read as a formula with Excel's quote prefix (the
    apostrophe a person types), so it stays text even when someone edits the cell later.
    Characters XML cannot hold are dropped.
    """
    text = ILLEGAL_CHARACTERS_RE.sub("", str(text))
    cell.value = text
    cell.data_type = "s"
    if is_formula_like(text):
        cell.quotePrefix = True
