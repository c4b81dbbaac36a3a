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
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from operator import itemgetter

from flask_babel import lazy_gettext as _l
from python_calamine import CalamineError, CalamineWorkbook
from sqlalchemy import delete, func, insert, literal_column, select
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
    CellProblem,
    RowsChecked,
    check_many,
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
    rows: list[tuple[int, dict]]  # (row number in the file, {column: raw value})
    # Problems found while reading, before any rule (a JSON item that is not an object, an
    # unknown field, a value that is not text): errors of their rows, reported with the rest.
    problems: list[CellProblem] = field(default_factory=list)


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
        rows, problems = _json_rows(data)
        return RosterFile(filename, sha256, rows, problems)
    table = _xlsx_rows(data, filename) if kind == "xlsx" else _csv_rows(data)
    return RosterFile(filename, sha256, _keyed(table))


def _kind_of(data: bytes, name: str) -> str:
    if data.startswith(b"PK\x03\x04") or name.endswith((".xlsx", ".xlsm", ".xls")):
        return "xlsx"
    if name.endswith((".csv", ".txt")) or not name:
        return "csv"
    if name.endswith(".json"):
        return "json"
    raise RosterRejected(_l("Please upload the roster as an Excel workbook (.xlsx) or a "
                            "CSV file (.csv)."))


def _xlsx_rows(data: bytes, filename: str) -> Iterable[list]:
    check_xlsx(data, filename, ROSTER_BOUNDS)
    try:
        book = CalamineWorkbook.from_filelike(io.BytesIO(data))
        # Cached values only: calamine never evaluates a formula.
        sheet = book.get_sheet_by_index(0)
        if sheet.height > MAX_ROWS + 50:
            raise RosterRejected(_too_many())
        return list(sheet.iter_rows())
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


def _json_rows(data: bytes) -> tuple[list[tuple[int, dict]], list[CellProblem]]:
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
        rows.append((number, raw))
    return rows, problems


def _shown(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)[:100]


def _too_many():
    return _l("A roster holds at most %(n)s vehicles per file; please split it.",
              n=f"{MAX_ROWS:,}")


def _keyed(table: Iterable[list]) -> list[tuple[int, dict]]:
    """Find the header row, map its columns, and key every following non-empty row."""
    rows: list[tuple[int, dict]] = []
    numbered = enumerate(table, 1)
    for _number, cells in numbered:
        if any(cells):
            positions = _header(cells)
            break
    else:
        raise RosterRejected(_l("The file is empty."))
    columns = tuple(positions)
    pick = itemgetter(*positions.values())
    width = max(positions.values()) + 1
    single = len(columns) == 1
    for number, cells in numbered:
        if not any(cells):  # a blank row (or one of blank cells) is no vehicle
            continue
        if len(cells) < width:
            cells = list(cells) + [None] * (width - len(cells))
        values = pick(cells)
        rows.append((number, dict(zip(columns, (values,) if single else values,
                                      strict=True))))
        if len(rows) > MAX_ROWS:
            raise RosterRejected(_too_many())
    return rows


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
    vehicles: list[dict] = field(default_factory=list)  # the rows without errors
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


def check_rows(session: Session, city: City, period: str, rows: list[tuple[int, dict]],
               ret: MonthlyReturn | None, lang: str = "zh",
               found: Iterable[CellProblem] = ()) -> RosterCheck:
    """Every rule on every row, at once: the row rules (fleet.domain.vehicle_rules), the same
    VIN or plate twice in the file, and VINs already counted (one query for all of them;
    the month's own roster, about to be replaced, does not count).

    found: the problems met while reading (RosterFile.problems); a rule says nothing more
    about a cell that already has one."""
    found = list(found)
    shapeless = {p.row for p in found} - {number for number, _ in rows}
    check = RosterCheck(city, period, len(rows) + len(shapeless),
                        current=returns.values_of(ret))
    checked = check_many(rows, period)
    check.errors.extend(found)
    known = {(p.row, p.column) for p in found}
    for problem in checked.problems:
        if known and (problem.row, problem.column) in known:
            continue
        (check.warnings if problem.warning else check.errors).append(problem)
    _twice_in_file(check, checked)
    clean = checked.vehicles
    stored = _stored(session, [v["vin"] for _, v in clean], ret.id if ret else None)
    for number, vehicle in clean:
        holder = stored.get(vehicle["vin"])
        if holder is not None:
            check.errors.append(CellProblem(number, "vin", vehicle["vin"],
                                            _counted_message(city, holder, lang)))
            check.conflicts.append(Conflict(number, vehicle["vin"], *holder))
    bad = check.error_rows
    check.vehicles = [v for number, v in clean if number not in bad]
    check.counts = dict(Counter((v["category"], v["powertrain"]) for v in check.vehicles))
    check.errors.sort(key=lambda p: (p.row, COLUMNS.index(p.column) if p.column else -1))
    check.warnings.sort(key=lambda p: p.row)
    return check


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
        values = func.json_each(json.dumps(vins)).table_valued("value")
        stmt = stmt.where(Vehicle.vin.in_(select(literal_column("value")).select_from(values)))
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


def preview(session: Session, actor: Actor, city: City, period: str, file: RosterFile,
            lang: str = "zh", expected_version: int | None = None) -> RosterCheck:
    """The dry run: every finding and the counts the roster would give. Writes nothing."""
    ret = _editable_return(session, actor, city, period, expected_version)
    check = check_rows(session, city, period, file.rows, ret, lang, file.problems)
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
    check = check_rows(session, city, period, file.rows, ret, lang, file.problems)
    check.filename, check.sha256 = file.filename, file.sha256
    if not check.ok:
        raise RosterHasErrors(check)
    ret = ret or _new_return(session, actor, city, period)
    before = {"roster_count": ret.roster_count}
    session.execute(delete(Vehicle).where(Vehicle.return_id == ret.id))
    _bulk_insert(session, ret, check.vehicles)
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


def _bulk_insert(session: Session, ret: MonthlyReturn, rows: list[dict]) -> None:
    """One statement for the whole roster, straight to the driver: COPY on PostgreSQL,
    executemany of plain tuples elsewhere (the ORM's bulk path costs more than the insert).

    A VIN stored by someone else since the check (a race) breaks the unique constraint:
    the whole roster is refused, and the caller rolls back.
    """
    if not rows:
        return
    now = utcnow()
    common = (ret.id, ret.city_id, ret.period)
    raw = session.connection().connection.dbapi_connection
    try:
        if session.get_bind().dialect.name == "postgresql":
            with raw.cursor() as cursor, cursor.copy(
                    f"COPY vehicle ({', '.join(VEHICLE_KEYS)}) FROM STDIN") as copy:
                for r in rows:
                    copy.write_row((r["vin"], *common, r["category"], r["powertrain"],
                                    r["in_service_date"], r["plate"], r["operator"],
                                    r["model"], r["maker"], now))
        else:
            # SQLAlchemy keeps SQLite dates and times as ISO text; the same text here.
            stamp = now.isoformat(sep=" ", timespec="microseconds")
            params = ((r["vin"], *common, r["category"], r["powertrain"],
                       r["in_service_date"].isoformat(), r["plate"], r["operator"],
                       r["model"], r["maker"], stamp) for r in rows)
            cursor = raw.cursor()
            try:
                cursor.executemany(f"INSERT INTO vehicle ({', '.join(VEHICLE_KEYS)}) VALUES "
                                   f"({', '.join('?' * len(VEHICLE_KEYS))})", params)
            finally:
                cursor.close()
    except (IntegrityError, *_driver_integrity_errors()) as error:
        raise DomainError(_l("Another return counted one of these vehicles a moment ago; "
                             "nothing was saved. Please upload the file again to see which."
                             )) from error


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
    rows = [[number, *(_plain(raw.get(c)) for c in COLUMNS), "；".join(by_row[number])]
            for number, raw in file.rows if number in by_row]
    return headers, rows


def _plain(value):
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date) or value is None:
        return value
    return str(value)
