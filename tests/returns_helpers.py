"""Helpers for the return tests: a window around today, and form data."""

from sqlalchemy import select

from fleet.domain.periods import add_months, period_of
from fleet.domain.programme import get_programme, local_today
from fleet.domain.rules import NUMBER_FIELDS
from fleet.extensions import db
from fleet.models import MonthlyReturn


def this_month() -> str:
    return period_of(local_today())


def window_around_today(months_back: int = 24) -> None:
    """Make the reporting window include today, whatever day the tests run."""
    programme = get_programme(db.session)
    programme.first_period = add_months(this_month(), -months_back)
    programme.last_period = add_months(this_month(), 2)
    db.session.commit()


def form_data(version, action="save", **values) -> dict:
    """A full return form: zeros, then the given numbers; `action` is save or submit."""
    data = {name: "0" for name in NUMBER_FIELDS}
    data.update({k: str(v) for k, v in values.items()})
    data.setdefault("notes", "")
    data["version"] = str(version)
    data[action] = "1"
    return data


def the_return(code: str = "440300", period: str | None = None) -> MonthlyReturn | None:
    """The city's return for the month (this month by default), read fresh."""
    db.session.expire_all()
    return db.session.scalar(select(MonthlyReturn).join(MonthlyReturn.city)
                             .where(MonthlyReturn.period == (period or this_month()))
                             .where(MonthlyReturn.city.has(code=code)))
