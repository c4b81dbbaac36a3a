"""Pilot cities: the shipped reference list and the admin's edits."""

import csv
import re
from importlib import resources

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import City
from .audit import Actor, changed_fields, record_event
from .errors import DomainError
from .rules import whole_number
from .text import clean_text

# GB/T 2260 codes are six ASCII digits (\d would take full-width and other scripts' digits).
CITY_CODE = re.compile(r"[0-9]{6}")
# The lengths of the columns (fleet.models.City); names are one line of text.
NAME_LENGTHS = {"name_zh": 50, "name_en": 100, "province_zh": 50}
MAX_BATCH = 99
MAX_CITY_TARGET = 10_000_000


def _int_or_none(text: str) -> int | None:
    text = (text or "").strip()
    return int(text) if text else None


def pilot_city_rows() -> list[dict]:
    """The 25 pilot cities as shipped in fleet/domain/data/pilot_cities.csv."""
    data = resources.files("fleet.domain").joinpath("data/pilot_cities.csv")
    with data.open(encoding="utf-8") as fh:
        return [
            dict(
                code=row["code"],
                name_zh=row["name_zh"],
                name_en=row["name_en"],
                province_zh=row["province_zh"],
                batch=_int_or_none(row["batch"]),
                pilot_period=row["pilot_period"] or None,
                pilot_nev_target=_int_or_none(row["pilot_nev_target"]),
                pilot_charging_target=_int_or_none(row["pilot_charging_target"]),
                pilot_swap_target=_int_or_none(row["pilot_swap_target"]),
            )
            for row in csv.DictReader(fh)
        ]


def load_pilot_cities(session: Session, actor: Actor) -> int:
    """Add the shipped pilot cities that are missing; returns how many were added.

    Idempotent: an existing city (matched by code) is left as the admin edited it.
    """
    existing = set(session.scalars(select(City.code)))
    added = 0
    for row in pilot_city_rows():
        if row["code"] in existing:
            continue
        city = City(**row)
        session.add(city)
        session.flush()
        record_event(session, actor, "city.load", "city", city.code, after=row)
        added += 1
    return added


def active_cities(session: Session) -> list[City]:
    return list(session.scalars(select(City).where(City.active).order_by(City.code)))


def all_cities(session: Session) -> list[City]:
    return list(session.scalars(select(City).order_by(City.active.desc(), City.code)))


def city_by_code(session: Session, code: str) -> City | None:
    return session.scalar(select(City).where(City.code == code))


EDITABLE = ("name_zh", "name_en", "province_zh", "batch", "nev_target", "active")


def _snapshot(city: City) -> dict:
    return {key: getattr(city, key) for key in ("code",) + EDITABLE}


def city_values(values: dict) -> dict:
    """The editable values of a city, checked and parsed; DomainError names the field.

    Names: required, one line, no control characters, within the column's length. Batch and
    target: whole numbers (ints, or a form's text; blank is None).
    """
    out = dict(values)
    for key, length in NAME_LENGTHS.items():
        if key in values:
            out[key] = clean_text(values[key], key, max_length=length, required=True)
    if "batch" in values:
        out["batch"] = whole_number(
            values["batch"], "batch", low=1, high=MAX_BATCH, optional=True,
            message=_l("The pilot batch is a whole number from 1 to %(n)s.", n=MAX_BATCH))
    if "nev_target" in values:
        out["nev_target"] = whole_number(
            values["nev_target"], "nev_target", low=0, high=MAX_CITY_TARGET, optional=True,
            message=_l("The target must be a whole number from 0 to %(n)s.",
                       n=f"{MAX_CITY_TARGET:,}"))
    if "active" in values:
        out["active"] = bool(values["active"])
    return out


def create_city(session: Session, actor: Actor, *, code: str, **values) -> City:
    """Add a city (an admin extends the pilot)."""
    code = (code if isinstance(code, str) else "").strip()
    if not CITY_CODE.fullmatch(code):
        raise DomainError(_l("A city code is the 6-digit GB/T 2260 code, e.g. 440300."), "code")
    if city_by_code(session, code):
        raise DomainError(_l("A city with this code already exists."), "code")
    values = city_values({key: values.get(key) for key in NAME_LENGTHS} | values)
    city = City(code=code, **{k: values.get(k) for k in EDITABLE if k in values})
    session.add(city)
    session.flush()
    record_event(session, actor, "city.create", "city", code, after=_snapshot(city))
    return city


def update_city(session: Session, actor: Actor, city: City, **values) -> City:
    """Edit a city's names, batch, target or active flag."""
    values = city_values(values)
    before = _snapshot(city)
    for key in EDITABLE:
        if key in values:
            setattr(city, key, values[key])
    old, new = changed_fields(before, _snapshot(city))
    if new:
        record_event(session, actor, "city.update", "city", city.code, old, new)
    return city
