"""The vehicle roster of a city-month (车辆明细): reading an uploaded file, checking every row at
once, replacing the month's roster all or nothing, adding or removing one vehicle, and the
return's NEV counts that follow from it.

Set-based, whatever the size of the file: one query finds which of the file's VINs are already
stored, one statement deletes the month's old roster, one bulk insert (COPY on PostgreSQL)
writes the new one. No ORM object is made per vehicle. The unique constraint on the VIN is
what finally guarantees that a VIN is counted once nationwide; the checks here only explain.

Plain functions over a session; the caller commits, or rolls back on a DomainError.
"""

import csv
import hashlib
import io
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import compress, islice, repeat
from operator import itemgetter, le

from flask_babel import lazy_gettext as _l
from python_calamine import CalamineError, CalamineWorkbook
from sqlalchemy import delete, func, insert, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import any_, bindparam

from ..models import City, MonthlyReturn, RosterConflict, RosterUpload, Vehicle, utcnow
from . import returns, vehicles
from .audit import Actor, record_event
from .errors import DomainError, NotAllowed
from .excel.safety import UnsafeFile, ZipBounds, check_xlsx
from .periods import format_period
from .programme import get_programme
from .reference import CATEGORIES, POWERTRAIN_CODES, label
from .rules import LineValues, ReturnValues
from .vehicle_rules import (
    COLUMNS,
    HEADERS_EN,
    HEADERS_ZH,
    NUMBER_TYPES,
    CellProblem,
    RowsChecked,
    Table,
    Vehicles,
    check_table,
    fold,
)

MAX_ROWS = 100_000
# Bytes of a roster upload (the return's 5 MiB is far too small for 100,000 vehicles: a CSV
# of that many is about 12 MiB, an .xlsx about 5).
MAX_UPLOAD_BYTES = 32 * 1024 * 1024
# A 100,000-row sheet unpacks to about 60 MiB of XML; shared strings about 10.
ROSTER_BOUNDS = ZipBounds(max_entries=300, max_total=400 * 1024 * 1024,
                          max_entry=300 * 1024 * 1024, max_ratio=200, kind="roster")
# The dry run lists this many problems on the page; the download holds them all.
LISTED_PROBLEMS = 1000
# A pending upload may be confirmed (or its errors downloaded) within this time.
UPLOAD_MAX_AGE_SECONDS = 3600

_HEADER_ALIASES: dict[str, str] = {}
for _col, _zh, _en in zip(COLUMNS, HEADERS_ZH, HEADERS_EN, strict=True):
    for _name in (_col, _zh, _en, _zh.split("(")[0]):
        _HEADER_ALIASES[fold(_name).replace("_", "")] = _col


class RosterRejected(DomainError):
    """The file as a whole cannot be read as a roster; nothing was read from it."""


class NotJson(RosterRejected):
    """A JSON roster (the API's) that is not JSON at all."""


class VinTaken(DomainError):
    """The database refused a VIN of the roster: counted elsewhere (by a rival a moment ago,
    or not yet looked for). Nothing of the roster is kept."""


class RosterHasErrors(DomainError):
    """Rows with errors: nothing was saved. `check` holds every problem."""

    def __init__(self, check: "RosterCheck"):
        super().__init__(_l("The roster has errors in %(n)s rows; nothing was saved.",
                            n=len(check.error_rows)))
        self.check = check


# --- reading a file ---------------------------------------------------------------------------

@dataclass
class RosterFile:
    filename: str
    sha256: str
    table: Table  # the vehicles as read, column by column, with their row numbers
    # Problems found while reading, before any rule (a JSON item that is not an object, an
    # unknown field, a value that is not text): errors of their rows, reported with the rest.
    problems: list[CellProblem] = field(default_factory=list)

    @property
    def rows(self) -> list[tuple[int, dict]]:
        """(row number, {column: raw value}) of every vehicle (for the failing rows)."""
        return self.table.rows()


def read_roster(data: bytes, filename: str = "", kind: str | None = None) -> RosterFile:
    """The rows of an uploaded roster (.xlsx, or .csv in UTF-8 with or without BOM or in
    GB18030, or the API's JSON array of vehicles), keyed by COLUMNS. In a table the first
    non-empty row is the header; Chinese headers or the English aliases are accepted, in any
    order. `kind` ("xlsx", "csv", "json") is the format when the caller knows it (the API's
    Content-Type); otherwise the file's content and name tell. Raises RosterRejected (NotJson
    for a JSON body that does not parse) or UnsafeFile."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise RosterRejected(_l("The file is larger than %(n)s MiB.",
                                n=MAX_UPLOAD_BYTES // (1024 * 1024)))
    kind = kind or _kind_of(data, (filename or "").lower())
    sha256 = hashlib.sha256(data).hexdigest()
    if kind == "json":
        table, problems = _json_table(data)
        return RosterFile(filename, sha256, table, problems)
    if kind == "xlsx":
        return RosterFile(filename, sha256, _xlsx_table(data, filename))
    return RosterFile(filename, sha256, _columns(_csv_rows(data)))


def _kind_of(data: bytes, name: str) -> str:
    if data.startswith(b"PK\x03\x04") or name.endswith((".xlsx", ".xlsm", ".xls")):
        return "xlsx"
    if name.endswith((".csv", ".txt")) or not name:
        return "csv"
    if name.endswith(".json"):
        return "json"
    raise RosterRejected(_l("Please upload the roster as an Excel workbook (.xlsx) or a "
                            "CSV file (.csv)."))


def _xlsx_table(data: bytes, filename: str) -> Table:
    check_xlsx(data, filename, ROSTER_BOUNDS)
    try:
        book = CalamineWorkbook.from_filelike(io.BytesIO(data))
        # Cached values only: calamine never evaluates a formula.
        sheet = book.get_sheet_by_index(0)
        if sheet.height > MAX_ROWS + 50:
            raise RosterRejected(_too_many())
        # Rows are made as they are read and dropped once their cells are in the columns.
        return _columns(sheet.iter_rows())
    except CalamineError as error:
        raise UnsafeFile(_l("This file is not an Excel workbook (.xlsx), or it is damaged.")
                         ) from error


def _csv_rows(data: bytes) -> Iterable[list]:
    if data.startswith(b"\xef\xbb\xbf"):
        text = data[3:].decode("utf-8", errors="strict")
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            try:  # Excel on Chinese Windows saves "CSV" as GBK, which GB18030 contains
                text = data.decode("gb18030")
            except UnicodeDecodeError as error:
                raise RosterRejected(_l("The CSV file is neither UTF-8 nor GB18030 text."
                                        )) from error
    if "\x00" in text:
        raise RosterRejected(_l("This is not a CSV text file."))
    return csv.reader(io.StringIO(text, newline=""))


JSON_FIELDS = frozenset(COLUMNS)


def _json_table(data: bytes) -> tuple[Table, list[CellProblem]]:
    """The vehicles of a JSON array of objects (the API's body), numbered from 1 in the
    array's order. What is not the shape of a vehicle is a problem of its row, not of the
    whole body, so every problem is still reported at once; a cell with such a problem is
    left out of the row, and the rules say nothing more about it."""
    try:
        items = json.loads(data)
    except json.JSONDecodeError as error:
        raise NotJson(_l("The body is not valid JSON (line %(line)s, column %(column)s).",
                         line=error.lineno, column=error.colno)) from error
    except (ValueError, RecursionError) as error:  # not UTF-8 text; nested too deeply
        raise NotJson(_l("The body is not valid JSON.")) from error
    if not isinstance(items, list):
        raise RosterRejected(_l("Send the vehicles as a JSON array of objects with the fields "
                                "%(fields)s.", fields=", ".join(COLUMNS)))
    if len(items) > MAX_ROWS:
        raise RosterRejected(_too_many())
    rows: list[tuple[int, dict]] = []
    problems: list[CellProblem] = []
    for number, item in enumerate(items, 1):
        if not isinstance(item, dict):
            problems.append(CellProblem(number, None, _shown(item), _l(
                "Each vehicle is a JSON object with the fields %(fields)s.",
                fields=", ".join(COLUMNS))))
            continue
        if item.keys() <= JSON_FIELDS and all(v is None or type(v) is str
                                              for v in item.values()):
            rows.append((number, item))  # the usual vehicle, as it is
            continue
        rows.append((number, _json_vehicle(number, item, problems)))
    return Table.from_rows(rows), problems


def _json_vehicle(number: int, item: dict, problems: list[CellProblem]) -> dict:
    raw = {}
    for key, value in item.items():
        if key not in JSON_FIELDS:
            problems.append(CellProblem(number, None, key[:100], _l(
                "Unknown field %(name)s: the fields are %(fields)s.", name=key[:100],
                fields=", ".join(COLUMNS))))
        elif value is None or isinstance(value, str):
            raw[key] = value
        else:
            problems.append(CellProblem(number, key, _shown(value), _l(
                "Must be text (a JSON string) or null.")))
    return raw


def _shown(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)[:100]


def _too_many():
    return _l("A roster holds at most %(n)s vehicles per file; please split it.",
              n=f"{MAX_ROWS:,}")


READ_BATCH = 10_000  # rows turned into columns at a time


def _columns(rows: Iterable[list]) -> Table:
    """Find the header row, map its columns, and gather each of them from every following
    non-empty row, a batch of rows at a time (a row's list is dropped once its cells are in
    the columns; nothing is made per row)."""
    rows = iter(rows)
    header = next(((n, cells) for n, cells in enumerate(rows, 1) if any(cells)), None)
    if header is None:
        raise RosterRejected(_l("The file is empty."))
    header_number, cells = header
    positions = _header(cells)
    width = max(positions.values()) + 1
    numbers: list[int] = []
    columns: dict[str, list] = {name: [] for name in positions}
    pickers = {name: itemgetter(i) for name, i in positions.items()}
    pool: dict = {}  # one object for each distinct value of the REPEATED columns
    first = header_number + 1
    while batch := list(islice(rows, READ_BATCH)):
        present = list(map(any, batch))  # a blank row (or one of blank cells) is no vehicle
        if all(present):
            numbers.extend(range(first, first + len(batch)))
        else:
            numbers.extend(compress(range(first, first + len(batch)), present))
            batch = list(compress(batch, present))
        first += len(present)
        if len(numbers) > MAX_ROWS:
            raise RosterRejected(_too_many())
        if min(map(len, batch), default=width) < width:  # a short line of a CSV file
            batch = [cells if len(cells) >= width else [*cells, *[None] * (width - len(cells))]
                     for cells in batch]
        for name, pick in pickers.items():
            values = list(map(pick, batch))
            if name in REPEATED and _poolable(values):
                values = map(pool.setdefault, values, values)
            columns[name].extend(values)
    return Table(numbers, columns)


# Columns whose values repeat from row to row (a few sectors, operators, dates): a reader makes
# a new object for every cell, and keeping one of each saves about 40 MB on 100,000 rows.
REPEATED = frozenset(("category", "powertrain", "in_service_date", "operator", "model",
                      "maker"))


def _poolable(values: list) -> bool:
    """Whether equal values of this column are the same cell: 1, 1.0 and True are equal, but
    not the same cell."""
    return len(set(map(type, values)) & NUMBER_TYPES) <= 1


def _header(cells: list) -> dict[str, int]:
    positions = {}
    for i, cell in enumerate(cells):
        column = _HEADER_ALIASES.get(fold(cell).replace("_", ""))
        if column is not None and column not in positions:
            positions[column] = i
    missing = [HEADERS_ZH[COLUMNS.index(c)] for c in COLUMNS[:6] if c not in positions]
    if missing:
        raise RosterRejected(_l("The first row must hold the column headers of the template; "
                                "missing: %(cols)s.", cols="、".join(missing)))
    return positions


# --- checking ---------------------------------------------------------------------------------

@dataclass
class Conflict:
    row: int
    vin: str
    holder_city_id: int
    holder_period: str


@dataclass
class RosterCheck:
    """Every finding of a roster for one city-month, and what it would give."""

    city: City
    period: str
    total_rows: int
    vehicles: Vehicles = field(default_factory=Vehicles.empty)  # the rows without errors
    errors: list[CellProblem] = field(default_factory=list)
    warnings: list[CellProblem] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    counts: dict[tuple[str, str], int] = field(default_factory=dict)
    current: ReturnValues = field(default_factory=ReturnValues.empty)
    filename: str = ""
    sha256: str = ""

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def error_rows(self) -> set[int]:
        return {p.row for p in self.errors}

    @property
    def accepted(self) -> int:
        return self.total_rows - len(self.error_rows)

    def count(self, category: str, powertrain: str) -> int:
        return self.counts.get((category, powertrain), 0)

    def category_total(self, category: str) -> int:
        return sum(self.count(category, p) for p in POWERTRAIN_CODES)


def check_rows(session: Session, city: City, period: str, rows: Table | list[tuple[int, dict]],
               ret: MonthlyReturn | None, lang: str = "zh",
               found: Iterable[CellProblem] = (), *, stored: bool = True) -> RosterCheck:
    """Every rule on every row, at once: the row rules (fleet.domain.vehicle_rules), the same
    VIN or plate twice in the file, and VINs already counted (one query for all of them;
    the month's own roster, about to be replaced, does not count).

    rows: a Table (RosterFile.table), or (row number, {column: raw value}) pairs.
    found: the problems met while reading (RosterFile.problems); a rule says nothing more
    about a cell that already has one. stored=False leaves out the VINs already counted
    (replace_roster lets the unique index find them, and asks only when it does)."""
    table = rows if isinstance(rows, Table) else Table.from_rows(rows)
    found = list(found)
    shapeless = {p.row for p in found}.difference(table.numbers)
    check = RosterCheck(city, period, len(table) + len(shapeless),
                        current=returns.values_of(ret))
    checked = check_table(table, period)
    check.errors.extend(found)
    known = {(p.row, p.column) for p in found}
    for problem in checked.problems:
        if known and (problem.row, problem.column) in known:
            continue
        (check.warnings if problem.warning else check.errors).append(problem)
    _twice_in_file(check, checked)
    check.vehicles = checked.vehicles
    if stored:
        _against_stored(session, check, ret.id if ret else None, lang)
    _settle(check)
    return check


def _against_stored(session: Session, check: RosterCheck, own_return_id: int | None,
                    lang: str) -> None:
    """An error (and a refused claim) for each of the check's vehicles whose VIN is already
    counted outside the month's own roster."""
    vehicles = check.vehicles
    stored = _stored(session, vehicles.columns["vin"], own_return_id)
    if not stored:
        return
    for number, vin in zip(vehicles.numbers, vehicles.columns["vin"], strict=True):
        holder = stored.get(vin)
        if holder is not None:
            check.errors.append(CellProblem(number, "vin", vin,
                                            _counted_message(check.city, holder, lang)))
            check.conflicts.append(Conflict(number, vin, *holder))


def _settle(check: RosterCheck) -> None:
    """Keep the vehicles of the rows without errors, count them, order the findings."""
    bad = check.error_rows
    if bad:
        vehicles = check.vehicles
        check.vehicles = vehicles.take(
            [i for i, number in enumerate(vehicles.numbers) if number not in bad])
    check.counts = check.vehicles.counts()
    check.errors.sort(key=lambda p: (p.row, COLUMNS.index(p.column) if p.column else -1))
    check.warnings.sort(key=lambda p: p.row)


def _twice_in_file(check: RosterCheck, checked: RowsChecked) -> None:
    """The same VIN on two rows is an error on both; the same plate, a warning on both."""
    for column, seen, warning in (("vin", checked.vin_rows, False),
                                  ("plate", checked.plate_rows, True)):
        for value, numbers in seen.items():
            if len(numbers) < 2 or not value:
                continue
            shown = ", ".join(str(n) for n in numbers[:10]) + ("…" if len(numbers) > 10
                                                               else "")
            message = (_l("The same plate is on rows %(rows)s.", rows=shown) if warning
                       else _l("The same VIN is on rows %(rows)s.", rows=shown))
            target = check.warnings if warning else check.errors
            target.extend(CellProblem(n, column, value, message, warning) for n in numbers)


def _stored(session: Session, vins: list[str], own_return_id: int | None
            ) -> dict[str, tuple[int, str]]:
    """{vin: (city id, month)} of the given VINs already stored outside this return.

    One statement whatever the number of VINs: the list travels as one parameter (an array
    on PostgreSQL, a JSON text on SQLite), not as 100,000 placeholders.
    """
    if not vins:
        return {}
    stmt = select(Vehicle.vin, Vehicle.city_id, Vehicle.period)
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        stmt = stmt.where(Vehicle.vin == any_(bindparam("vins", vins, type_=ARRAY(
            Vehicle.vin.type))))
    elif dialect == "sqlite":
        # The file's VINs drive the join, each looked up in the VIN's unique index (SQLite
        # plans an IN over json_each the other way round, about three times slower).
        values = func.json_each(json.dumps(vins)).table_valued("value")
        stmt = stmt.select_from(values).join(Vehicle, Vehicle.vin == values.c.value)
    else:
        stmt = stmt.where(Vehicle.vin.in_(vins))
    if own_return_id is not None:
        stmt = stmt.where(Vehicle.return_id != own_return_id)
    return {vin: (city_id, period) for vin, city_id, period in session.execute(stmt)}


def _counted_message(city: City, holder: tuple[int, str], lang: str):
    """The clerk learns where a VIN is counted only when it is its own city."""
    holder_city, holder_period = holder
    if holder_city == city.id:
        return _l("Already registered in this city's return for %(month)s.",
                  month=format_period(holder_period, lang))
    return _l("Already counted by another city: a vehicle is counted once nationwide.")


# --- writing ----------------------------------------------------------------------------------

LOCKED = _l("This return has been submitted: its roster is locked with it. "
            "The ministry can send it back if it needs a correction.")


def _editable_return(session: Session, actor: Actor, city: City, period: str,
                     expected_version: int | None = None) -> MonthlyReturn | None:
    """The month's return if its roster may change (None: no return yet); expected_version,
    when given, is the return's version the client read (0 for none), as for the return
    itself. Raises NotAllowed, StaleData or DomainError."""
    if not returns.can_edit(actor, city):
        raise NotAllowed(_l("Your account is not allowed to do this."))
    problems = returns.period_problems(get_programme(session), period)
    if problems:
        raise DomainError(problems[0].message, "period")
    ret = returns.find_return(session, city, period)
    if ret is not None and ret.status not in returns.EDITABLE:
        raise DomainError(LOCKED)
    returns._check_version(ret, expected_version)
    return ret


def preview_allowed(session: Session, actor: Actor, city: City, period: str) -> None:
    """Raise the DomainError a dry run of this city-month would (before reading a file)."""
    _editable_return(session, actor, city, period)


def preview(session: Session, actor: Actor, city: City, period: str, file: RosterFile,
            lang: str = "zh", expected_version: int | None = None) -> RosterCheck:
    """The dry run: every finding and the counts the roster would give. Writes nothing."""
    ret = _editable_return(session, actor, city, period, expected_version)
    check = check_rows(session, city, period, file.table, ret, lang, file.problems)
    check.filename, check.sha256 = file.filename, file.sha256
    return check


def replace_roster(session: Session, actor: Actor, city: City, period: str, file: RosterFile,
                   lang: str = "zh", source: str = "upload",
                   expected_version: int | None = None) -> tuple[RosterCheck, list]:
    """Replace the month's roster with the file's vehicles, all or nothing, and set the
    return's NEV counts from them (the return is created as a draft if there is none).

    expected_version: the return's version the client read, or None not to check (the
    web upload's confirmation, the CLI). Raises RosterHasErrors (nothing written) when any
    row has an error, StaleData when the return changed. Returns the check and the notes
    about the return's numbers (all-new counts raised to cover the roster).
    """
    ret = _editable_return(session, actor, city, period, expected_version)
    # The rules first; whether a VIN is already counted is found by the insert itself (the
    # unique index does that lookup anyway), and only then explained row by row. A roster
    # with other errors is explained at once, so that every problem is listed together.
    check = check_rows(session, city, period, file.table, ret, lang, file.problems,
                       stored=False)
    check.filename, check.sha256 = file.filename, file.sha256
    if not check.ok:
        _against_stored(session, check, ret.id if ret else None, lang)
        _settle(check)
        raise RosterHasErrors(check)
    ret = ret or _new_return(session, actor, city, period)
    before = {"roster_count": ret.roster_count}
    session.execute(delete(Vehicle).where(Vehicle.return_id == ret.id))
    try:
        _bulk_insert(session, ret, check.vehicles)
    except VinTaken:
        # Rows of this roster written before the refusal are the month's own: not counted.
        _against_stored(session, check, ret.id, lang)
        if not check.conflicts:
            raise
        _settle(check)
        raise RosterHasErrors(check) from None
    notes = _apply_counts(session, actor, ret, check.counts, len(check.vehicles), lang)
    record_event(session, actor, "roster.replace", "return", ret.id, before,
                 {"roster_count": len(check.vehicles), "source": source,
                  "file": f"{file.filename[:100]} sha256:{file.sha256[:16]}"},
                 detail=f"{city.code} {period}")
    return check, notes


def _new_return(session: Session, actor: Actor, city: City, period: str) -> MonthlyReturn:
    ret = MonthlyReturn(city=city, period=period, status="draft", updated_by_id=actor.user_id)
    returns._write_values(ret, ReturnValues.empty())
    session.add(ret)
    returns._flush(session)
    record_event(session, actor, "return.create", "return", ret.id,
                 detail=f"{city.code} {period}")
    return ret


VEHICLE_KEYS = ("vin", "return_id", "city_id", "period", "category", "powertrain",
                "in_service_date", "plate", "operator", "model", "maker", "created_at")


def _bulk_insert(session: Session, ret: MonthlyReturn, vehicles: Vehicles) -> None:
    """One statement for the whole roster, straight to the driver: COPY on PostgreSQL,
    executemany elsewhere (the ORM's bulk path costs more than the insert). No Python runs
    per vehicle on the way: the rows are zipped (and COPY's text joined) from the columns.

    A VIN stored elsewhere (a rival's since the check, or one not looked for) breaks the
    unique constraint: VinTaken, and the transaction is still usable (on PostgreSQL the
    COPY runs in a savepoint); the caller rolls back.
    """
    if not len(vehicles):
        return
    raw = session.connection().connection.dbapi_connection
    try:
        if session.get_bind().dialect.name == "postgresql":
            _copy(raw, ret, vehicles)
        else:
            # SQLAlchemy keeps SQLite dates and times as ISO text; the same text here.
            cursor = raw.cursor()
            try:
                cursor.executemany(f"INSERT INTO vehicle ({', '.join(VEHICLE_KEYS)}) VALUES "
                                   f"({', '.join('?' * len(VEHICLE_KEYS))})",
                                   zip(*_vehicle_columns(ret, vehicles), strict=False))
            finally:
                cursor.close()
    except (IntegrityError, *_driver_integrity_errors()) as error:
        raise VinTaken(_l("Another return counted one of these vehicles a moment ago; "
                          "nothing was saved. Please upload the file again to see which."
                          )) from error


def _vehicle_columns(ret: MonthlyReturn, vehicles: Vehicles) -> list[Iterable]:
    """The columns of VEHICLE_KEYS as text (dates and times ISO, as SQLAlchemy stores them on
    SQLite), by VIN: in the order of the VIN's unique index each insert lands beside the
    previous one (a file in no order costs the database about 60 % more)."""
    vins = vehicles.columns["vin"]
    if not all(map(le, vins, islice(vins, 1, None))):
        vehicles = vehicles.take(sorted(range(len(vins)), key=vins.__getitem__))
    c = vehicles.columns
    iso = {day: day.isoformat() for day in set(c["in_service_date"])}
    stamp = utcnow().isoformat(sep=" ", timespec="microseconds")
    return [c["vin"], repeat(ret.id), repeat(ret.city_id), repeat(ret.period), c["category"],
            c["powertrain"], map(iso.__getitem__, c["in_service_date"]), c["plate"],
            c["operator"], c["model"], c["maker"], repeat(stamp)]


# COPY's text format: a backslash, tab, line feed or carriage return in a value is escaped.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
COPY_BATCH = 10_000


def _copy(raw, ret: MonthlyReturn, vehicles: Vehicles) -> None:
    """COPY FROM STDIN in text format, the lines joined in C a batch at a time, inside a
    savepoint (a refused COPY would otherwise leave the transaction unusable)."""
    columns = _vehicle_columns(ret, vehicles)
    columns[1:3] = [repeat(str(ret.id)), repeat(str(ret.city_id))]
    for i in (7, 8, 9, 10):  # plate, operator, model, maker: text as typed
        joined = "".join(columns[i])
        if any(ch in joined for ch in "\\\t\n\r"):
            columns[i] = [value.translate(_COPY_ESCAPES) for value in columns[i]]
    lines = map("\t".join, zip(*columns, strict=False))
    with raw.cursor() as cursor:
        cursor.execute("SAVEPOINT roster_insert")
        try:
            with cursor.copy(f"COPY vehicle ({', '.join(VEHICLE_KEYS)}) FROM STDIN") as copy:
                while batch := list(islice(lines, COPY_BATCH)):
                    copy.write(("\n".join(batch) + "\n").encode())
        except Exception:
            cursor.execute("ROLLBACK TO SAVEPOINT roster_insert")
            raise
        cursor.execute("RELEASE SAVEPOINT roster_insert")


def _driver_integrity_errors() -> tuple:
    """The drivers' own integrity errors (the raw cursor bypasses SQLAlchemy's wrapping)."""
    import sqlite3

    errors: tuple = (sqlite3.IntegrityError,)
    try:
        from psycopg.errors import IntegrityError as PgIntegrityError
    except ImportError:  # pragma: no cover - psycopg is a dependency
        return errors
    return (*errors, PgIntegrityError)


def _apply_counts(session: Session, actor: Actor, ret: MonthlyReturn,
                  counts: dict[tuple[str, str], int], roster_count: int,
                  lang: str = "zh") -> list:
    """The return's NEV counts become the roster's; all new vehicles of a category is raised
    where it would otherwise be below the NEVs (and the clerk is told)."""
    current = returns.values_of(ret)
    lines, notes = {}, []
    for category in CATEGORIES:
        nev = {p: counts.get((category.code, p), 0) for p in POWERTRAIN_CODES}
        all_new = current.lines[category.code].all_new
        if sum(nev.values()) > all_new:
            notes.append(_l("All new vehicles of %(category)s raised from %(old)s to %(new)s, "
                            "the NEVs of the roster.", category=label(category, lang),
                            old=all_new, new=sum(nev.values())))
            all_new = sum(nev.values())
        lines[category.code] = LineValues(**nev, all_new=all_new)
    values = ReturnValues(lines, current.charging_points, current.swap_stations,
                          current.notes)
    returns._write_values(ret, values)
    ret.roster_count = roster_count
    ret.updated_at = utcnow()  # the figures' data version moves with the counts
    ret.updated_by_id = actor.user_id
    returns._flush(session)
    return notes


def record_conflicts(session: Session, actor: Actor, check: RosterCheck,
                     source: str = "upload") -> int:
    """Keep the refused claims for the ministry's conflicts page (once per VIN, claiming
    city-month and holder, however often the same file is checked). Returns how many new."""
    if not check.conflicts:
        return 0
    known = set(session.execute(
        select(RosterConflict.vin, RosterConflict.holder_city_id, RosterConflict.holder_period)
        .where(RosterConflict.city_id == check.city.id,
               RosterConflict.period == check.period)).all())
    now = utcnow()
    new = [{"at": now, "vin": c.vin, "city_id": check.city.id, "period": check.period,
            "user_id": actor.user_id, "username": actor.username,
            "holder_city_id": c.holder_city_id, "holder_period": c.holder_period,
            "source": source}
           for c in check.conflicts
           if (c.vin, c.holder_city_id, c.holder_period) not in known]
    if new:
        session.execute(insert(RosterConflict), new)
        record_event(session, actor, "roster.conflict", "city", check.city.id,
                     after={"count": len(new)}, detail=f"{check.city.code} {check.period}")
    return len(new)


# --- one vehicle --------------------------------------------------------------------------------

def add_vehicle(session: Session, actor: Actor, city: City, period: str, raw: dict,
                lang: str = "zh") -> tuple[RosterCheck, list]:
    """Add one vehicle to the month's roster, with every rule of an uploaded row.

    Raises RosterHasErrors (with the problems) when it is refused.
    """
    ret = _editable_return(session, actor, city, period)
    check = check_rows(session, city, period, [(1, raw)], None, lang)
    if not check.ok:
        raise RosterHasErrors(check)
    ret = ret or _new_return(session, actor, city, period)
    _bulk_insert(session, ret, check.vehicles)
    notes = _recount(session, actor, ret, lang)
    record_event(session, actor, "roster.add", "return", ret.id, None,
                 {"vin": check.vehicles[0]["vin"]}, detail=f"{city.code} {period}")
    return check, notes


def remove_vehicle(session: Session, actor: Actor, city: City, period: str, vin: str) -> None:
    """Remove one vehicle from the month's roster (the return's counts follow)."""
    ret = _editable_return(session, actor, city, period)
    vin = fold(vin)
    deleted = 0
    if ret is not None:
        deleted = session.execute(delete(Vehicle).where(Vehicle.return_id == ret.id,
                                                        Vehicle.vin == vin)).rowcount
    if not deleted:
        raise DomainError(_l("This vehicle is not in the month's roster."))
    _recount(session, actor, ret)
    record_event(session, actor, "roster.remove", "return", ret.id, {"vin": vin}, None,
                 detail=f"{city.code} {period}")


def _recount(session: Session, actor: Actor, ret: MonthlyReturn, lang: str = "zh") -> list:
    counts = vehicles.roster_counts(session, ret.id)
    return _apply_counts(session, actor, ret, counts, sum(counts.values()), lang)


# --- pending uploads ----------------------------------------------------------------------------

def keep_upload(session: Session, actor: Actor, city: City, period: str, data: bytes,
                filename: str) -> RosterUpload:
    """Keep a checked file until it is confirmed; older pending files are dropped."""
    session.execute(delete(RosterUpload).where(
        (RosterUpload.created_at < _expiry()) | ((RosterUpload.city_id == city.id)
                                                 & (RosterUpload.period == period)
                                                 & (RosterUpload.user_id == actor.user_id))))
    upload = RosterUpload(user_id=actor.user_id, city_id=city.id, period=period,
                          filename=(filename or "")[:255], data=data,
                          sha256=hashlib.sha256(data).hexdigest())
    session.add(upload)
    session.flush()
    return upload


def pending_upload(session: Session, actor: Actor, city: City, period: str,
                   upload_id: int) -> RosterUpload | None:
    """The user's own pending file for this city-month, if it has not expired."""
    return session.scalar(select(RosterUpload).where(
        RosterUpload.id == upload_id, RosterUpload.user_id == actor.user_id,
        RosterUpload.city_id == city.id, RosterUpload.period == period,
        RosterUpload.created_at >= _expiry()))


def _expiry() -> datetime:
    from datetime import timedelta

    return utcnow() - timedelta(seconds=UPLOAD_MAX_AGE_SECONDS)


# --- what the dry run shows ---------------------------------------------------------------------

def _problem(p: CellProblem, lang: str) -> dict:
    from .i18n import in_language

    return {"row": p.row, "column": p.column, "value": "" if p.value is None else str(p.value),
            "message": in_language(p.message, lang)}


def check_result(check: RosterCheck, lang: str, listed: int = LISTED_PROBLEMS) -> dict:
    """The findings of a dry run as plain values (JSON), for its page — drawn at once after
    a small upload, or later from a background job's record after a large one: the counts,
    the first `listed` errors and warnings (in `lang`), the NEVs by sector × powertrain."""
    return {
        "filename": check.filename, "total_rows": check.total_rows,
        "accepted": check.accepted, "error_rows": len(check.error_rows),
        "errors": len(check.errors), "warnings": len(check.warnings), "ok": check.ok,
        "listed": [_problem(p, lang) for p in check.errors[:listed]],
        "warning_list": [_problem(p, lang) for p in check.warnings[:listed]],
        "counts": [[c, p, n] for (c, p), n in sorted(check.counts.items())],
    }


def result_counts(result: dict) -> dict[tuple[str, str], int]:
    """{(category, powertrain): n} of check_result's counts."""
    return {(c, p): n for c, p, n in result.get("counts", [])}


# --- the error list as a workbook ---------------------------------------------------------------

def error_rows(check: RosterCheck, file: RosterFile, lang: str) -> tuple[list[str], list]:
    """The failing rows of the file, as uploaded, with a message column: headers and rows."""
    from .vehicle_rules import column_label

    by_row: dict[int, list[str]] = defaultdict(list)
    for p in check.errors:
        by_row[p.row].append(f"{column_label(p.column, lang)}: {p.message}")
    headers = [("行号" if lang == "zh" else "Row"),
               *(HEADERS_ZH if lang == "zh" else HEADERS_EN),
               ("问题" if lang == "zh" else "Problem")]
    table = file.table
    rows = []
    for i, number in enumerate(table.numbers):
        if number in by_row:
            raw = table.row(i)
            rows.append([number, *(_plain(raw.get(c)) for c in COLUMNS),
                         "；".join(by_row[number])])
    return headers, rows


def _plain(value):
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date) or value is None:
        return value
    return str(value)
