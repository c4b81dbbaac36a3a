"""The national programme settings and the reporting calendar."""

from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Programme
from .audit import Actor, changed_fields, record_event
from .errors import DomainError
from .periods import add_months, first_day, months_between, parse_period
from .rules import whole_number

DEFAULTS = dict(
    name_zh="公共领域车辆全面电动化先行区试点",
    name_en="Public-sector vehicle full-electrification pilot",
    national_target=700_000,
    first_period="2025-01",
    last_period="2026-12",
    due_day=10,
)


# Bounds of the settings, far beyond any real programme, so that a typo (or a hostile form)
# is refused with a message rather than stored: the grid and the figures walk every month of
# the window, and the database holds the target in a 32-bit column.
MAX_NATIONAL_TARGET = 100_000_000
MAX_WINDOW_MONTHS = 120  # ten years
EARLIEST_PERIOD, LATEST_PERIOD = "2000-01", "2099-12"


def get_programme(session: Session) -> Programme:
    """The programme row, created with the defaults of the 2025–2026 plan if missing."""
    programme = session.scalar(select(Programme).order_by(Programme.id).limit(1))
    if programme is None:
        programme = Programme(**DEFAULTS)
        session.add(programme)
        session.flush()
    return programme


def reporting_periods(programme: Programme) -> list[str]:
    return months_between(programme.first_period, programme.last_period)


def due_date(programme: Programme, period: str) -> date:
    """A return for month M is due on the programme's due day of month M+1."""
    following = first_day(add_months(period, 1))
    return following.replace(day=programme.due_day)


# Due dates are Beijing time; timestamps are stored in UTC.
LOCAL_TZ = ZoneInfo("Asia/Shanghai")


def local_today(now_utc: datetime | None = None) -> date:
    now_utc = now_utc or datetime.now(timezone.utc).replace(tzinfo=None)
    return now_utc.replace(tzinfo=timezone.utc).astimezone(LOCAL_TZ).date()


def is_late(programme: Programme, period: str, at_utc: datetime) -> bool:
    """True when `at_utc` falls after the end of the due day, Beijing time."""
    local = at_utc.replace(tzinfo=timezone.utc).astimezone(LOCAL_TZ).replace(tzinfo=None)
    return local > datetime.combine(due_date(programme, period), time.max)


def update_programme(session: Session, actor: Actor, *, national_target: object,
                     first_period: str, last_period: str, due_day: object,
                     attachment_required: bool | None = None,
                     roster_required_from: str | None = None) -> Programme:
    """Change the target, window or due day; refused with a message if inconsistent.

    The numbers may be ints or the text of a form ('700,000'); every bound lives here, and
    a DomainError names the field it belongs to. attachment_required and
    roster_required_from: None leaves them as they are; roster_required_from "" means no
    month requires a roster, "YYYY-MM" (within the window) that month and every later one.
    """
    national_target = whole_number(
        national_target, "national_target", low=1, high=MAX_NATIONAL_TARGET,
        message=_l("The national target must be a whole number from 1 to %(n)s.",
                   n=f"{MAX_NATIONAL_TARGET:,}"))
    first_period = _window_month(first_period, "first_period")
    last_period = _window_month(last_period, "last_period")
    if first_period > last_period:
        raise DomainError(_l("The first month must not come after the last month."),
                          "last_period")
    if len(months_between(first_period, last_period)) > MAX_WINDOW_MONTHS:
        raise DomainError(_l("The reporting window is limited to %(n)s years.",
                             n=MAX_WINDOW_MONTHS // 12), "last_period")
    due_day = whole_number(due_day, "due_day", low=1, high=28,
                           message=_l("The due day must be between 1 and 28."))
    if roster_required_from is not None:
        roster_required_from = _roster_month(roster_required_from, first_period, last_period)
    programme = get_programme(session)
    before = _snapshot(programme)
    programme.national_target = national_target
    programme.first_period = first_period
    programme.last_period = last_period
    programme.due_day = due_day
    if attachment_required is not None:
        programme.attachment_required = bool(attachment_required)
    if roster_required_from is not None:
        programme.roster_required_from = roster_required_from or None
    old, new = changed_fields(before, _snapshot(programme))
    if new:
        record_event(session, actor, "programme.update", "programme", programme.id, old, new)
    return programme


def _window_month(text: object, field: str) -> str:
    """A month of the window: YYYY-MM, between 2000-01 and 2099-12."""
    try:
        period = parse_period(text if isinstance(text, str) else "")
    except ValueError:
        raise DomainError(_l("Months are written YYYY-MM, e.g. 2025-09."), field) from None
    if not EARLIEST_PERIOD <= period <= LATEST_PERIOD:
        raise DomainError(_l("The reporting window must lie between %(first)s and %(last)s.",
                             first=EARLIEST_PERIOD, last=LATEST_PERIOD), field)
    return period


def _roster_month(text: object, first_period: str, last_period: str) -> str:
    """The month from which a return needs its vehicle roster to be submitted ("" for
    none): YYYY-MM within the reporting window (fleet.domain.returns applies it)."""
    text = text.strip() if isinstance(text, str) else ""
    if not text:
        return ""
    field = "roster_required_from"
    try:
        period = parse_period(text)
    except ValueError:
        raise DomainError(_l("Months are written YYYY-MM, e.g. 2025-09."), field) from None
    if not first_period <= period <= last_period:
        raise DomainError(_l("The month must lie within the reporting window (%(first)s to "
                             "%(last)s), or be left empty.", first=first_period,
                             last=last_period), field)
    return period


def _snapshot(programme: Programme) -> dict:
    return dict(national_target=programme.national_target,
                first_period=programme.first_period,
                last_period=programme.last_period, due_day=programme.due_day,
                attachment_required=programme.attachment_required,
                roster_required_from=programme.roster_required_from)
