"""Tamper evidence (等保 8.1.4.7): every revision of a return carries a SHA-256 hash of its
canonical form chained to the previous revision's hash, and `verify` proves that no stored
number changed behind the chain's back.

The canonical form of revision n of a return (version 1, never to change: stored hashes
depend on it) is the UTF-8 bytes of

    json.dumps({"v": 1, "city": <city code>, "period": "YYYY-MM", "revision": n,
                "created_at": <naive UTC, ISO 8601>, "created_by": <user id or null>,
                "late": <bool>, "lines": {category: {bev, phev, fcev, all_new}} (all eight),
                "charging_points": int, "swap_stations": int, "notes": str,
                "previous": <hash of revision n-1, "" for the first>},
               sort_keys=True, separators=(",", ":"), ensure_ascii=False)

and its hash is the hex SHA-256 of those bytes. Changing any number, the city, the month,
the order of revisions or an earlier revision changes the hash.

A return that is submitted or approved must hold exactly the numbers of its last revision
(drafts and returns sent back are being edited, so they may differ), and exactly the vehicle
roster of it: the revision's `roster_sha256` (fleet.domain.vehicles.roster_digest, SHA-256 of
the roster sorted by VIN) is recomputed from the stored vehicles. An earlier revision's roster
is not kept (a roster is replaced while the return is being corrected), so only the last
revision's can be compared. The roster digest is stored beside the chained hash, not inside
its canonical form (version 1 predates rosters), so it proves the vehicles unchanged since the
submission, not the digest itself.
"""

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import datetime, timezone

from flask_babel import lazy_gettext as _l
from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from ..models import (
    LINE_COPIES,
    LINE_MEASURES,
    City,
    IntegrityCheck,
    MonthlyReturn,
    ReturnLine,
    ReturnRevision,
    line_copy,
)
from .audit import Actor, record_event
from .reference import CATEGORY_CODES
from .rules import NUMBER_FIELDS, LineValues, ReturnValues, field_label
from .vehicles import EMPTY_DIGEST, roster_digests

CANONICAL_VERSION = 1
# Returns whose lines must equal their last revision (fleet.domain.returns.COUNTED).
LOCKED_STATUSES = ("submitted", "approved")
# How many mismatches a stored result keeps (the command line always prints them all).
STORED_MISMATCHES = 500


def _iso(moment: datetime | None) -> str | None:
    """Naive UTC in ISO 8601, as the database returns it (aware times converted first)."""
    if moment is None:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment.isoformat()


def canonical_form(*, city_code: str, period: str, number: int, created_at: datetime | None,
                   created_by_id: int | None, late: bool, data: dict, previous: str) -> bytes:
    """The bytes that are hashed: see the module's docstring."""
    values = ReturnValues.from_data(data).as_data()
    document = {"v": CANONICAL_VERSION, "city": city_code, "period": period,
                "revision": int(number), "created_at": _iso(created_at),
                "created_by": created_by_id, "late": bool(late), **values,
                "previous": previous or ""}
    return json.dumps(document, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def revision_hash(*, city_code: str, period: str, number: int, created_at: datetime | None,
                  created_by_id: int | None, late: bool, data: dict, previous: str) -> str:
    """Hex SHA-256 of the revision's canonical form, chained to `previous`."""
    return hashlib.sha256(canonical_form(
        city_code=city_code, period=period, number=number, created_at=created_at,
        created_by_id=created_by_id, late=late, data=data, previous=previous)).hexdigest()


def last_hash(session: Session, return_id: int | None) -> tuple[int, str]:
    """(number, hash) of the return's latest revision; (0, "") when it has none."""
    if return_id is None:
        return 0, ""
    row = session.execute(select(ReturnRevision.number, ReturnRevision.hash)
                          .where(ReturnRevision.return_id == return_id)
                          .order_by(ReturnRevision.number.desc()).limit(1)).first()
    return (row[0], row[1]) if row else (0, "")


# --- verification ------------------------------------------------------------------------------

# A mismatch's field for a copy of a line kept on the return for the figures ("copy:bus_bev").
COPY = "copy:"


@dataclass(frozen=True)
class Mismatch:
    """One thing that disagrees. `field` is a return field name (bus_bev, notes...), or
    "hash" (the revision's stored hash is not its recomputed one), "revision" (a revision
    missing from the numbering, or a locked return without any), "roster" (the vehicles'
    digest now, against the last revision's roster_sha256), or COPY + a field name (the copy
    of a line kept on the return for the figures, fleet.models.LINE_COPIES, is not the
    line's number)."""

    city: str
    city_name: str
    period: str
    revision: int | None
    field: str
    stored: object
    expected: object

    def line(self) -> str:
        where = f"revision {self.revision}" if self.revision else "revisions"
        if self.field.startswith(COPY):
            where = "its lines"
        return (f"{self.city} {self.city_name} {self.period} {self.field}: "
                f"stored {self.stored!r}, {where} say {self.expected!r}")


@dataclass(frozen=True)
class Verification:
    returns: int
    revisions: int
    mismatches: tuple[Mismatch, ...]

    @property
    def ok(self) -> bool:
        return not self.mismatches


def _mismatch(ret: Row, revision: int | None, field: str, stored: object,
              expected: object) -> Mismatch:
    return Mismatch(ret.code, ret.city_name, ret.period, revision, field, stored, expected)


def _check_chain(ret: Row, revisions: list[Row]) -> list[Mismatch]:
    """Recompute each revision's hash from the stored previous one."""
    found, previous = [], ""
    for expected_number, rev in enumerate(revisions, start=1):
        if rev.number != expected_number:
            found.append(_mismatch(ret, rev.number, "revision", rev.number, expected_number))
        try:
            computed = revision_hash(city_code=ret.code, period=ret.period,
                                     number=rev.number, created_at=rev.created_at,
                                     created_by_id=rev.created_by_id, late=rev.late,
                                     data=rev.data, previous=previous)
        except (KeyError, TypeError, ValueError, AttributeError):  # data no longer readable
            computed = "(unreadable revision data)"
        if computed != rev.hash:
            found.append(_mismatch(ret, rev.number, "hash", rev.hash, computed))
        previous = rev.hash or ""
    return found


def _check_current(ret: Row, lines: dict[str, LineValues], last: Row | None
                   ) -> list[Mismatch]:
    """A locked return's stored numbers against its last revision, field by field."""
    if ret.status not in LOCKED_STATUSES:
        return []
    if last is None:
        return [_mismatch(ret, None, "revision", 0, "at least 1")]
    # As fleet.domain.returns.values_of reads a return: a missing line counts as zeros.
    stored = ReturnValues({c: lines.get(c, LineValues()) for c in CATEGORY_CODES},
                          ret.charging_points, ret.swap_stations, ret.notes or "").as_fields()
    try:
        kept = ReturnValues.from_data(last.data).as_fields()
    except (KeyError, TypeError, ValueError, AttributeError):
        kept = {}
    return [_mismatch(ret, last.number, name, stored[name], kept.get(name))
            for name in (*NUMBER_FIELDS, "notes") if stored[name] != kept.get(name)]


def _check_roster(ret: Row, last: Row | None, digests: dict[int, str]) -> list[Mismatch]:
    """A locked return's vehicles against the roster digest of its last revision (None:
    submitted without a roster, so it must have no vehicles)."""
    if ret.status not in LOCKED_STATUSES or last is None:
        return []
    current, kept = digests.get(ret.id), last.roster_sha256
    if current is None and kept is not None:
        current = EMPTY_DIGEST  # every vehicle of a submitted roster deleted
    if current == kept:
        return []
    return [_mismatch(ret, last.number, "roster", current, kept)]


def _check_copies(ret: Row, lines: dict[int, tuple[str, LineValues]]) -> list[Mismatch]:
    """The copies of the lines that the figures read, against the lines (any status);
    `lines` by position."""
    found = []
    for position, code in enumerate(CATEGORY_CODES):
        code, line = lines.get(position, (code, LineValues()))
        for measure in LINE_MEASURES:
            stored, expected = getattr(ret, line_copy(position, measure)), getattr(line, measure)
            if stored != expected:
                found.append(_mismatch(ret, None, f"{COPY}{code}_{measure}", stored, expected))
    return found


def verify_returns(session: Session) -> Verification:
    """Recompute every return's revision chain, compare each locked return's current
    numbers to its last revision, and its vehicles to that revision's roster digest; check
    each return's copies of its lines, which the figures read (fleet.models.LINE_COPIES),
    against the lines. Four queries of plain rows (no ORM objects: about ten times faster
    for thousands of returns), the vehicles streamed."""
    r, line, rev = MonthlyReturn, ReturnLine, ReturnRevision
    returns = session.execute(
        select(r.id, City.code, City.name_zh.label("city_name"), r.period, r.status,
               r.charging_points, r.swap_stations, r.notes,
               *(getattr(r, name) for name in LINE_COPIES))
        .join(City, City.id == r.city_id).order_by(City.code, r.period)).all()
    lines: dict[int, dict[str, LineValues]] = {}
    by_position: dict[int, dict[int, tuple[str, LineValues]]] = {}
    for rid, category, position, *numbers in session.execute(
            select(line.return_id, line.category, line.position, line.bev, line.phev,
                   line.fcev, line.all_new)):
        lines.setdefault(rid, {})[category] = LineValues(*numbers)
        by_position.setdefault(rid, {})[position] = (category, lines[rid][category])
    by_return: dict[int, list[Row]] = {}
    for row in session.execute(select(rev.return_id, rev.number, rev.created_at,
                                      rev.created_by_id, rev.late, rev.data, rev.hash,
                                      rev.roster_sha256)
                               .order_by(rev.return_id, rev.number)):
        by_return.setdefault(row.return_id, []).append(row)
    digests = roster_digests(session, LOCKED_STATUSES)
    mismatches: list[Mismatch] = []
    for ret in returns:
        revisions = by_return.get(ret.id, [])
        last = revisions[-1] if revisions else None
        mismatches += _check_chain(ret, revisions)
        mismatches += _check_current(ret, lines.get(ret.id, {}), last)
        mismatches += _check_roster(ret, last, digests)
        mismatches += _check_copies(ret, by_position.get(ret.id, {}))
    return Verification(len(returns), sum(map(len, by_return.values())), tuple(mismatches))


def record_verification(session: Session, actor: Actor, result: Verification,
                        by: str | None = None) -> IntegrityCheck:
    """Keep the result (the admin page shows the last one) and audit it. The caller commits."""
    check = IntegrityCheck(by=(by or actor.username or "?")[:64],
                           returns_checked=result.returns,
                           revisions_checked=result.revisions,
                           mismatch_count=len(result.mismatches),
                           mismatches=[asdict(m) for m in result.mismatches[:STORED_MISMATCHES]])
    session.add(check)
    record_event(session, actor, "integrity.verify", "integrity", "",
                 after={"returns": result.returns, "revisions": result.revisions,
                        "mismatches": len(result.mismatches), "by": check.by},
                 detail="all verified" if result.ok else
                 "; ".join(m.line() for m in result.mismatches[:20]))
    return check


def last_verification(session: Session) -> IntegrityCheck | None:
    """The most recent stored result, or None when verify never ran."""
    return session.scalar(select(IntegrityCheck).order_by(IntegrityCheck.id.desc()).limit(1))


def mismatch_field_label(field: str, lang: str) -> str:
    """A mismatch's field as a person reads it: '城市公交 · 纯电动', or what broke in the chain."""
    if field == "hash":
        return str(_l("Revision hash (the chain is broken)"))
    if field == "revision":
        return str(_l("Revision missing"))
    if field == "roster":
        return str(_l("Vehicle roster (SHA-256 of its vehicles)"))
    if field.startswith(COPY):
        return str(_l("Copy kept for the figures: %(field)s",
                      field=field_label(field[len(COPY):], lang)))
    return field_label(field, lang)
