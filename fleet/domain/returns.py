"""The monthly return workflow: save, submit, approve, send back, reopen; revisions; the
city's calendar of months; the review queue.

Plain functions over a session. The caller commits; on a DomainError it rolls back, and
nothing of the attempt remains.
"""

from dataclasses import dataclass
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.exc import StaleDataError

from ..models import (
    RECEIVED_STATUSES,
    Attachment,
    City,
    MonthlyReturn,
    Programme,
    ReturnLine,
    ReturnRevision,
    utcnow,
)
from . import integrity, notices
from .audit import Actor, changed_fields, record_event
from .errors import DomainError, NotAllowed, StaleData
from .periods import add_months, period_of
from .programme import due_date, get_programme, is_late, local_today, reporting_periods
from .reference import CATEGORIES, POWERTRAIN_CODES
from .rules import (
    HISTORY_MONTHS,
    MAX_REASON_LENGTH,
    NUMBER_FIELDS,
    NUMBER_KINDS,
    CheckResult,
    LineValues,
    Problem,
    ReturnValues,
    check_period,
    check_return,
    warnings_for,
)
from .text import clean_text
from .vehicles import roster_counts, roster_digest

EDITABLE = ("draft", "returned")
COUNTED = RECEIVED_STATUSES


class ValidationFailed(DomainError):
    """Hard errors in the numbers; `problems` says which field and why."""

    def __init__(self, result: CheckResult):
        super().__init__(_l("The return has errors; nothing was saved."))
        self.result = result


# --- rights -----------------------------------------------------------------------------------

def can_view(actor: Actor, city: City) -> bool:
    """Ministry, admins, viewers and the CLI see every city; a city user only its own."""
    if actor.role == "city":
        return actor.city_id == city.id
    return actor.role in ("ministry", "admin", "viewer", "system")


def can_edit(actor: Actor, city: City) -> bool:
    """Only the city's own bureau (or the CLI) enters and submits its returns."""
    return (actor.role == "city" and actor.city_id == city.id) or actor.role == "system"


def can_review(actor: Actor) -> bool:
    return actor.role in ("ministry", "system")


def require_editable(actor: Actor, city: City, ret: MonthlyReturn | None) -> None:
    """The one rule for changing a return's numbers (form, upload, API): the city's own
    bureau, and the return is not yet submitted (a draft, or sent back). Raises
    NotAllowed or DomainError otherwise."""
    _require(can_edit(actor, city))
    if ret is not None and ret.status not in EDITABLE:
        raise DomainError(_l("This return has been submitted and can no longer be edited; "
                             "the ministry can send it back if it needs a correction."))


def _require(allowed: bool) -> None:
    if not allowed:
        raise NotAllowed(_l("Your account is not allowed to do this."))


# --- reading ----------------------------------------------------------------------------------

def find_return(session: Session, city: City, period: str) -> MonthlyReturn | None:
    return session.scalar(
        select(MonthlyReturn).where(MonthlyReturn.city_id == city.id,
                                    MonthlyReturn.period == period)
        .options(selectinload(MonthlyReturn.lines)))


def values_of(ret: MonthlyReturn | None) -> ReturnValues:
    """The numbers of a return (all zero when there is none yet)."""
    if ret is None:
        return ReturnValues.empty()
    by_category = {line.category: line for line in ret.lines}
    lines = {}
    for category in CATEGORIES:
        line = by_category.get(category.code)
        lines[category.code] = (LineValues(line.bev, line.phev, line.fcev, line.all_new)
                                if line else LineValues())
    return ReturnValues(lines, ret.charging_points, ret.swap_stations, ret.notes or "")


def recent_history(session: Session, city_id: int, period: str,
                   months: int = HISTORY_MONTHS) -> dict[str, list[int]]:
    """NEVs per category in the city's submitted or approved returns of the months before."""
    first = add_months(period, -months)
    rows = session.execute(
        select(ReturnLine.category, ReturnLine.bev + ReturnLine.phev + ReturnLine.fcev)
        .join(MonthlyReturn)
        .where(MonthlyReturn.city_id == city_id, MonthlyReturn.period >= first,
               MonthlyReturn.period < period, MonthlyReturn.status.in_(COUNTED)))
    history: dict[str, list[int]] = {}
    for category, nev in rows:
        history.setdefault(category, []).append(nev)
    return history


def check(session: Session, programme: Programme, city: City, period: str, raw: dict,
          today: date | None = None) -> CheckResult:
    """Run every rule of fleet.rules on raw input for this city and month."""
    today = today or local_today()
    return check_return(raw, period=period, first_period=programme.first_period,
                        last_period=programme.last_period, this_month=period_of(today),
                        history=recent_history(session, city.id, period))


def period_problems(programme: Programme, period: str,
                    today: date | None = None) -> list[Problem]:
    """Why no return can be made for this month (outside the window, or in the future)."""
    return check_period(period, programme.first_period, programme.last_period,
                        period_of(today or local_today()))


def current_warnings(session: Session, ret: MonthlyReturn) -> list[Problem]:
    """The warnings of a saved return, for the reviewer."""
    return warnings_for(values_of(ret), recent_history(session, ret.city_id, ret.period))


# --- writing ----------------------------------------------------------------------------------

def _snapshot(ret: MonthlyReturn) -> dict:
    return {"status": ret.status, **values_of(ret).as_fields()}


def _write_values(ret: MonthlyReturn, values: ReturnValues) -> None:
    by_category = {line.category: line for line in ret.lines}
    for position, category in enumerate(CATEGORIES):
        line = by_category.get(category.code)
        if line is None:
            line = ReturnLine(category=category.code, position=position)
            ret.lines.append(line)
        for kind in NUMBER_KINDS:
            setattr(line, kind, getattr(values.lines[category.code], kind))
    ret.charging_points = values.charging_points
    ret.swap_stations = values.swap_stations
    ret.notes = values.notes


def _check_version(ret: MonthlyReturn | None, expected_version: int | None) -> None:
    """Optimistic locking: refuse when the return changed since the user loaded it."""
    current = ret.version if ret is not None else 0
    if expected_version is not None and int(expected_version) != current:
        raise StaleData(_l("Someone else changed this return while you were editing it. "
                           "Your changes were not saved; the current numbers are shown."))


def _flush(session: Session) -> None:
    try:
        session.flush()
    except (StaleDataError, IntegrityError) as error:
        # Another request saved (or created) the same return between our read and write.
        # The caller rolls back, as for any DomainError.
        raise StaleData(_l("Someone else changed this return while you were editing it. "
                           "Your changes were not saved; the current numbers are shown.")
                        ) from error


def save_return(session: Session, actor: Actor, city: City, period: str, raw: dict,
                expected_version: int | None, *, submit: bool = False,
                today: date | None = None, now: datetime | None = None
                ) -> tuple[MonthlyReturn, list[Problem]]:
    """Save the city's numbers for the month as a draft, or save and submit them.

    raw: values keyed by fleet.rules field names (strings from a form or a cell, or numbers).
    expected_version: the return's version when the user loaded it (0 for a new return;
    None skips the check, for machine submissions that mean "whatever is there").
    Returns the return and its warnings; raises ValidationFailed, StaleData, DomainError.
    """
    programme = get_programme(session)
    now = now or utcnow()
    ret = find_return(session, city, period)
    require_editable(actor, city, ret)
    _check_version(ret, expected_version)
    raw = _with_roster_counts(session, ret, raw)
    if submit:
        _require_roster(programme, ret, period)
    result = check(session, programme, city, period, raw, today)
    if not result.ok:
        raise ValidationFailed(result)
    before = _snapshot(ret) if ret is not None else None
    if ret is None:
        ret = MonthlyReturn(city=city, period=period, status="draft")
        session.add(ret)
    _write_values(ret, result.values)
    ret.demo = False  # someone typed these numbers: `flask fleet demo --clear` keeps them
    ret.updated_at = now  # always touch the row, so its version moves with the lines
    ret.updated_by_id = actor.user_id
    if submit:
        _mark_submitted(session, actor, ret, programme, result.values, now)
    after = _snapshot(ret)
    _flush(session)
    if before is None:
        record_event(session, actor, "return.create", "return", ret.id, None, after,
                     detail=f"{city.code} {period}")
    else:
        old, new = changed_fields(before, after)
        record_event(session, actor, "return.submit" if submit else "return.save", "return",
                     ret.id, old, new, detail=f"{city.code} {period}")
    if submit and before is None:
        record_event(session, actor, "return.submit", "return", ret.id,
                     detail=f"{city.code} {period}")
    if submit:
        notices.notify_return(session, "submitted", ret, now=now)
    return ret, result.warnings


def _mark_submitted(session: Session, actor: Actor, ret: MonthlyReturn, programme: Programme,
                    values: ReturnValues, now: datetime) -> None:
    """Move to submitted and keep the numbers of this submission as a new revision."""
    ret.status = "submitted"
    ret.submitted_at = now
    ret.first_submitted_at = ret.first_submitted_at or now
    ret.submitted_by_id = actor.user_id
    ret.submitted_late = is_late(programme, ret.period, now)
    ret.review_comment = ""
    previous, previous_hash = integrity.last_hash(session, ret.id)
    revision = ReturnRevision(monthly_return=ret, number=previous + 1, created_at=now,
                              created_by_id=actor.user_id, late=ret.submitted_late,
                              data=values.as_data())
    # Chained to the previous revision, so `flask fleet verify` sees any later change.
    revision.hash = integrity.revision_hash(
        city_code=ret.city.code, period=ret.period, number=revision.number, created_at=now,
        created_by_id=revision.created_by_id, late=revision.late, data=revision.data,
        previous=previous_hash)
    revision.roster_sha256 = (roster_digest(session, ret.id)
                              if ret.roster_count is not None else None)
    session.add(revision)


def _with_roster_counts(session: Session, ret: MonthlyReturn | None, raw: dict) -> dict:
    """With a roster, the NEV counts are the roster's, whatever the form or file says."""
    if ret is None or ret.roster_count is None:
        return raw
    counts = roster_counts(session, ret.id)
    return {**raw, **{f"{c.code}_{p}": counts.get((c.code, p), 0)
                      for c in CATEGORIES for p in POWERTRAIN_CODES}}


def _require_roster(programme: Programme, ret: MonthlyReturn | None, period: str) -> None:
    """From the programme's `roster_required_from` month on, no submission without a roster."""
    required = programme.roster_required_from
    if required and period >= required and (ret is None or ret.roster_count is None):
        raise DomainError(_l("From %(month)s on, a return can only be submitted with its "
                             "vehicle roster: please upload the roster first.",
                             month=required))


def submit_saved(session: Session, actor: Actor, ret: MonthlyReturn,
                 expected_version: int | None, *, now: datetime | None = None
                 ) -> list[Problem]:
    """Submit a saved draft (or a corrected return) as it stands."""
    raw = values_of(ret).as_fields()
    _, warnings = save_return(session, actor, ret.city, ret.period, raw, expected_version,
                              submit=True, now=now)
    return warnings


def _review_transition(actor: Actor, ret: MonthlyReturn, expected_version: int | None,
                       allowed_from: str, refusal) -> dict:
    """The checks every review step shares; returns the 'before' of the audit event."""
    _require(can_review(actor))
    _check_version(ret, expected_version)
    if ret.status != allowed_from:
        raise DomainError(refusal)
    return {"status": ret.status}


def approve_return(session: Session, actor: Actor, ret: MonthlyReturn,
                   expected_version: int | None, *, now: datetime | None = None) -> None:
    """Ministry approves a submitted return; it is then locked."""
    before = _review_transition(actor, ret, expected_version, "submitted",
                                _l("Only a submitted return can be approved."))
    if get_programme(session).attachment_required and not scan_attached(session, ret):
        raise DomainError(_l("The stamped scan of this submission is required before "
                             "approval; the city has not attached it yet."))
    now = now or utcnow()
    ret.status = "approved"
    ret.approved_at = ret.reviewed_at = now
    ret.approved_by_id = ret.reviewed_by_id = actor.user_id
    ret.review_comment = ""
    _flush(session)
    record_event(session, actor, "return.approve", "return", ret.id, before,
                 {"status": "approved"}, detail=f"{ret.city.code} {ret.period}")
    notices.notify_return(session, "approved", ret, now=now)


def current_revision_number(session: Session, ret: MonthlyReturn) -> int:
    """The number of the return's latest submission (0 before the first)."""
    return session.scalar(select(func.max(ReturnRevision.number))
                          .where(ReturnRevision.return_id == ret.id)) or 0


def scan_attached(session: Session, ret: MonthlyReturn) -> bool:
    """Whether the stamped scan of the current submission is attached."""
    return session.scalar(select(func.count(Attachment.id)).where(
        Attachment.return_id == ret.id,
        Attachment.revision_number == current_revision_number(session, ret))) > 0


def _reason(reason: str) -> str:
    """A reviewer's reason: visible text (not only spaces or a NUL), at most
    MAX_REASON_LENGTH characters."""
    reason = clean_text(reason, "reason", max_length=None, multiline=True, required=True,
                        required_message=_l("Please give a reason, so the city knows what "
                                            "to correct."))
    if len(reason) > MAX_REASON_LENGTH:
        raise DomainError(_l("The reason is limited to %(n)s characters.",
                             n=f"{MAX_REASON_LENGTH:,}"), "reason")
    return reason


def _back_to_city(session: Session, actor: Actor, ret: MonthlyReturn, reason: str,
                  expected_version: int | None, now: datetime | None, *, allowed_from: str,
                  refusal, action: str) -> None:
    """Send a return back to the city for correction, with the reviewer's reason."""
    before = _review_transition(actor, ret, expected_version, allowed_from, refusal)
    reason = _reason(reason)
    ret.status = "returned"
    ret.reviewed_at = now or utcnow()
    ret.reviewed_by_id = actor.user_id
    ret.review_comment = reason
    ret.approved_at = None
    ret.approved_by_id = None
    _flush(session)
    record_event(session, actor, action, "return", ret.id, before,
                 {"status": "returned", "reason": reason},
                 detail=f"{ret.city.code} {ret.period}")
    notices.notify_return(session, "reopened" if action == "return.reopen" else "returned",
                          ret, reason, now=ret.reviewed_at)


def send_back(session: Session, actor: Actor, ret: MonthlyReturn, reason: str,
              expected_version: int | None, *, now: datetime | None = None) -> None:
    """Ministry returns a submitted return to the city with a reason."""
    _back_to_city(session, actor, ret, reason, expected_version, now,
                  allowed_from="submitted", action="return.send_back",
                  refusal=_l("Only a submitted return can be sent back."))


def reopen_return(session: Session, actor: Actor, ret: MonthlyReturn, reason: str,
                  expected_version: int | None, *, now: datetime | None = None) -> None:
    """Ministry unlocks an approved return so the city can correct it (with a reason)."""
    _back_to_city(session, actor, ret, reason, expected_version, now,
                  allowed_from="approved", action="return.reopen",
                  refusal=_l("Only an approved return can be reopened."))


# --- revisions --------------------------------------------------------------------------------

@dataclass(frozen=True)
class FieldChange:
    field: str
    before: object
    after: object


def revisions_of(session: Session, ret: MonthlyReturn) -> list[ReturnRevision]:
    """Every submission of the return, oldest first."""
    return list(session.scalars(select(ReturnRevision).where(ReturnRevision.return_id == ret.id)
                                .order_by(ReturnRevision.number)))


def revision_changes(older: ReturnRevision, newer: ReturnRevision) -> list[FieldChange]:
    """What changed between two submissions, field by field."""
    old = ReturnValues.from_data(older.data).as_fields()
    new = ReturnValues.from_data(newer.data).as_fields()
    return [FieldChange(name, old[name], new[name]) for name in (*NUMBER_FIELDS, "notes")
            if old[name] != new[name]]


# --- calendars and queues ---------------------------------------------------------------------

@dataclass(frozen=True)
class MonthRow:
    """One month of a city's calendar, as the city's list and the grid show it."""

    period: str
    due: date
    state: str  # not_due, due, late, draft, submitted, returned, approved
    ret: MonthlyReturn | None

    @property
    def submitted_late(self) -> bool:
        return self.ret is not None and self.ret.received_late


def month_state(status: str | None, period: str, due: date, today: date) -> str:
    """The state of one city-month: the one rule for lists, grids and counts.

    Nothing submitted yet: 'not_due' while the month is running, 'due' until the due date,
    'late' after it (a draft past the due date is late too); otherwise the return's status.
    """
    if status in ("submitted", "returned", "approved"):
        return status
    if today > due:
        return "late"
    if status == "draft":
        return "draft"
    return "not_due" if period >= period_of(today) else "due"


def city_months(session: Session, programme: Programme, city: City,
                today: date | None = None) -> list[MonthRow]:
    """Every month of the window up to the current one, newest first, with its state."""
    today = today or local_today()
    this_month = period_of(today)
    returns = {r.period: r for r in session.scalars(
        select(MonthlyReturn).where(MonthlyReturn.city_id == city.id))}
    rows = []
    for period in reporting_periods(programme):
        if period > this_month:
            break
        ret = returns.get(period)
        due = due_date(programme, period)
        rows.append(MonthRow(period, due, month_state(ret.status if ret else None, period,
                                                      due, today), ret))
    return rows[::-1]


@dataclass(frozen=True)
class QueueItem:
    ret: MonthlyReturn
    warnings: list[Problem]
    revision_count: int


def review_queue(session: Session) -> list[QueueItem]:
    """Submitted returns waiting for the ministry, oldest submission first."""
    waiting = session.scalars(
        select(MonthlyReturn).where(MonthlyReturn.status == "submitted")
        .options(selectinload(MonthlyReturn.lines), selectinload(MonthlyReturn.city))
        .order_by(MonthlyReturn.submitted_at, MonthlyReturn.id)).all()
    counts = dict(session.execute(
        select(ReturnRevision.return_id, func.count(ReturnRevision.id))
        .where(ReturnRevision.return_id.in_([r.id for r in waiting]))
        .group_by(ReturnRevision.return_id)).all()) if waiting else {}
    return [QueueItem(ret, current_warnings(session, ret), counts.get(ret.id, 0))
            for ret in waiting]
