"""Reading a filled return template back, and putting its numbers into the city's return.

`read_return_upload` checks the file (fleet.excel.safety), recognises our template, and returns
the raw values keyed by fleet.rules field names with the cell each came from. The numbers then
go through the same rules as the web form: `preview_upload` is the dry run (fleet.returns.check,
nothing saved); `apply_upload` saves through fleet.returns.save_return, so the rules, the audit
and optimistic locking are the form's own. Every problem names its sheet and cell.
"""

import hashlib
import io
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter
from openpyxl.utils.cell import coordinate_to_tuple
from sqlalchemy.orm import Session

from ...models import City, MonthlyReturn
from .. import notices, returns
from ..audit import Actor, record_event
from ..errors import DomainError
from ..periods import LazyMonth
from ..programme import get_programme
from ..rules import NUMBER_FIELDS, Problem, parse_count
from . import layout
from .safety import UnsafeFile, check_xlsx

FIELDS = (*NUMBER_FIELDS, "notes")
# Input cells stay near the top left even if a clerk inserts rows or columns; a name pointing
# further away is not our template (and would make the reader walk a huge empty range).
MAX_ROW, MAX_COLUMN = 500, 50


class NotOurTemplate(DomainError):
    """A readable workbook, but not the template of this city and month."""


@dataclass(frozen=True)
class CellProblem:
    """A problem of the upload, at a cell ('总表!D7'; empty for the return as a whole)."""

    cell: str
    field: str | None
    message: object  # a lazy translation
    warning: bool = False

    def __str__(self) -> str:
        return f"{self.cell}: {self.message}" if self.cell else str(self.message)


@dataclass(frozen=True)
class ParsedUpload:
    """What a template holds: raw values by field name, and where each was read."""

    raw: dict[str, object]
    cells: dict[str, str]  # field name (and 'period') -> '总表!D7'
    errors: tuple[CellProblem, ...]  # found while reading, e.g. a formula in an input cell
    sha256: str
    filename: str


@dataclass(frozen=True)
class Change:
    """One field of the dry run: the return's value now and the upload's."""

    field: str
    cell: str
    before: object
    after: object

    @property
    def changed(self) -> bool:
        return self.before != self.after


@dataclass(frozen=True)
class UploadPreview:
    """The dry run: what saving the upload would change, and why it could not, if so."""

    parsed: ParsedUpload
    errors: tuple[CellProblem, ...]
    warnings: tuple[CellProblem, ...]
    changes: tuple[Change, ...]  # every field, in the order of the form
    values: dict[str, object] | None  # the checked values by field name (None on errors)
    version: int  # the return's version when previewed (0: no return yet)
    status: str | None

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def changed(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.changed)

    @property
    def error_fields(self) -> frozenset[str]:
        """The fields with an error, so their rows stand out from rows that merely change."""
        return frozenset(p.field for p in self.errors if p.field)


class UploadRejected(DomainError):
    """The upload breaks the rules; `problems` says where. Nothing was saved."""

    def __init__(self, problems: list[CellProblem]):
        super().__init__(_l("The uploaded return has errors; nothing was saved."))
        self.problems = problems


# --- reading ------------------------------------------------------------------------------------

NOT_OUR_TEMPLATE = _l("This workbook is not a Fleet return template. Download the template "
                      "for this month from Fleet, fill it in and upload that file.")


def read_return_upload(data: bytes, city: City, period: str,
                       filename: str = "") -> ParsedUpload:
    """Check and read an uploaded template for this city and month ('YYYY-MM').

    Raises UnsafeFile (not a real, macro-free .xlsx; too big unpacked; unreadable) or
    NotOurTemplate (another workbook, another city, another month, another template version).
    A formula in an input cell is not refused here but returned in `errors`, with its cell.
    """
    check_xlsx(data, filename)
    try:
        # read_only streams the sheets; data_only=False so that formulas show as formulas.
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=False,
                           keep_vba=False, keep_links=False)
    except Exception as error:  # any parser failure (defusedxml refusals too): unreadable
        raise UnsafeFile(_l("This workbook could not be read. Please save it again as an "
                            "Excel workbook (.xlsx) and upload it again.")) from error
    try:
        return _read(wb, city, period, data, filename)
    except DomainError:
        raise
    except Exception as error:  # a damaged sheet part fails while it is streamed
        raise UnsafeFile(_l("This workbook could not be read. Please save it again as an "
                            "Excel workbook (.xlsx) and upload it again.")) from error
    finally:
        wb.close()


def _read(wb, city: City, period: str, data: bytes, filename: str) -> ParsedUpload:
    meta = _read_meta(wb)
    places = {}
    for name in (*FIELDS, "city_code", "period"):
        place = _destination(wb, layout.defined_name(name))
        if place is None:
            raise NotOurTemplate(NOT_OUR_TEMPLATE)
        places[name] = place
    found = _read_cells(wb, places)

    for source in (meta.get("city_code"), _text(found["city_code"][0])):
        if source != city.code:
            raise NotOurTemplate(_l(
                "This template is for another city (code %(found)s). Only the template of "
                "city %(own)s can be uploaded here: please download your own city's template.",
                found=source or "?", own=city.code))
    for source in (meta.get("period"), _text(found["period"][0])):
        if source != period:
            raise NotOurTemplate(_l(
                "This template is for the month %(found)s, not %(month)s. Upload it on the "
                "page of that month, or download the template of this month.",
                found=LazyMonth(source), month=LazyMonth(period)))

    cells = {name: _reference(*places[name]) for name in (*FIELDS, "period")}
    raw: dict[str, object] = {}
    errors = []
    for name in FIELDS:
        value, data_type = found[name]
        if data_type == "f" or (name != "notes" and isinstance(value, str)
                                and value.startswith("=")):
            errors.append(CellProblem(cells[name], name, _l(
                "A formula is not accepted in an input cell: please type the number itself.")))
            raw[name] = "" if name == "notes" else str(getattr(value, "text", value))
            continue
        raw[name] = _notes(value) if name == "notes" else value
    return ParsedUpload(raw, cells, tuple(errors), hashlib.sha256(data).hexdigest(),
                        filename)


def _read_meta(wb) -> dict[str, str]:
    """The very hidden sheet: marker and template version, city code, month."""
    if layout.META_SHEET not in wb.sheetnames:
        raise NotOurTemplate(NOT_OUR_TEMPLATE)
    meta = {}
    for key, value in wb[layout.META_SHEET].iter_rows(min_row=1, max_row=8, min_col=1,
                                                      max_col=2, values_only=True):
        if key is not None:
            meta[str(key)] = _text(value)
    if layout.MARKER not in meta:
        raise NotOurTemplate(NOT_OUR_TEMPLATE)
    if meta[layout.MARKER] != layout.TEMPLATE_VERSION:
        raise NotOurTemplate(_l("This template was made by another version of Fleet. Please "
                                "download a fresh template and copy your numbers into it."))
    return meta


def _destination(wb, name: str) -> tuple[str, int, int] | None:
    """(sheet title, row, column) of a defined name that points at one cell, else None."""
    defined = wb.defined_names.get(name)
    if defined is None:
        return None
    try:
        destinations = list(defined.destinations)
    except Exception:  # a name whose text is not a plain reference
        return None
    if len(destinations) != 1:
        return None
    sheet, coordinate = destinations[0]
    if sheet not in wb.sheetnames or ":" in coordinate:
        return None
    try:
        row, column = coordinate_to_tuple(coordinate.replace("$", ""))
    except ValueError:
        return None
    if row > MAX_ROW or column > MAX_COLUMN:  # far outside any template: not ours
        return None
    return sheet, row, column


def _read_cells(wb, places: Mapping[str, tuple[str, int, int]]) -> dict[str, tuple]:
    """{name: (value, data_type)}: one streamed pass over the box holding each sheet's cells."""
    by_sheet: dict[str, list[tuple[str, int, int]]] = {}
    for name, (sheet, row, column) in places.items():
        by_sheet.setdefault(sheet, []).append((name, row, column))
    found = {}
    for sheet, wanted in by_sheet.items():
        rows = [r for _, r, _ in wanted]
        columns = [c for _, _, c in wanted]
        top, left = min(rows), min(columns)
        wanted_at = {(r, c) for _, r, c in wanted}
        grid = {}
        for r, cells in enumerate(wb[sheet].iter_rows(min_row=top, max_row=max(rows),
                                                      min_col=left, max_col=max(columns)),
                                  start=top):
            for c, cell in enumerate(cells, start=left):
                if (r, c) in wanted_at:
                    grid[(r, c)] = (cell.value, getattr(cell, "data_type", "n"))
        for name, row, column in wanted:
            found[name] = grid.get((row, column), (None, "n"))
    return found


def _reference(sheet: str, row: int, column: int) -> str:
    return f"{sheet}!{get_column_letter(column)}{row}"


def _text(value) -> str | None:
    """A code or month cell as text (a spreadsheet may have turned 440300 into a number)."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, (datetime, date)):
        return f"{value.year:04d}-{value.month:02d}"
    return str(value).strip()


def _notes(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


# --- into the return ----------------------------------------------------------------------------

def at_cells(problems: list[Problem], cells: Mapping[str, str]) -> list[CellProblem]:
    """The rules' problems, each at the cell its field was read from."""
    return [CellProblem(cells.get(p.field, "") if p.field else "", p.field, p.message,
                        p.warning) for p in problems]


def _as_read(name: str, value):
    """A value of a file with errors, as the table shows it: numbers where they are numbers."""
    if name == "notes":
        return str(value or "").strip()
    number = parse_count(value)
    if number is not None:
        return number
    if isinstance(value, bool):  # TRUE or FALSE typed into a number cell: shown as typed
        return "TRUE" if value else "FALSE"
    return value if isinstance(value, str) else str(value)


def preview_upload(session: Session, actor: Actor, city: City, period: str, data: bytes,
                   filename: str = "", *, today: date | None = None) -> UploadPreview:
    """The dry run: read the file, apply every rule, compare with the return. Saves nothing.

    Raises UnsafeFile, NotOurTemplate, NotAllowed, or DomainError (return not editable).
    """
    ret = returns.find_return(session, city, period)
    returns.require_editable(actor, city, ret)
    parsed = read_return_upload(data, city, period, filename)
    result = returns.check(session, get_programme(session), city, period, parsed.raw, today)
    unreadable = {p.field for p in parsed.errors}
    errors = [*parsed.errors, *(p for p in at_cells(result.errors, parsed.cells)
                                if p.field not in unreadable)]
    values = result.values.as_fields() if result.ok else None
    after = values or {name: _as_read(name, value) for name, value in parsed.raw.items()}
    before = returns.values_of(ret).as_fields()
    changes = tuple(Change(name, parsed.cells[name], before[name], after.get(name))
                    for name in FIELDS)
    return UploadPreview(parsed, tuple(errors), tuple(at_cells(result.warnings, parsed.cells)),
                         changes, values, ret.version if ret is not None else 0,
                         ret.status if ret is not None else None)


def apply_upload(session: Session, actor: Actor, city: City, period: str,
                 values: Mapping[str, object], cells: Mapping[str, str],
                 expected_version: int | None, *, source: str = "",
                 today: date | None = None, now: datetime | None = None
                 ) -> tuple[MonthlyReturn, list[CellProblem]]:
    """Save uploaded values into the city's return (draft or sent back), all or nothing.

    values: by field name, as checked by preview_upload; cells: where each was read, for the
    messages; expected_version: the return's version at the dry run, so a change made in
    between is not overwritten. Raises UploadRejected (problems at cells), StaleData,
    NotAllowed, DomainError. The caller commits, or rolls back on an error.
    """
    try:
        ret, warnings = returns.save_return(session, actor, city, period, dict(values),
                                            expected_version, today=today, now=now)
    except returns.ValidationFailed as failed:
        raise UploadRejected(at_cells(failed.result.errors, cells)) from failed
    record_event(session, actor, "return.upload", "return", ret.id,
                 detail=f"{city.code} {period} {source}".strip())
    notices.notify_return(session, "uploaded", ret, now=now)
    return ret, at_cells(warnings, cells)
