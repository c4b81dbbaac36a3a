"""A VIN is counted once, even against a race: the unique constraint decides, not the check.

On PostgreSQL two real sessions insert the same VIN at the same time and one wins; on any
database a claim checked before a rival's commit is still refused when it writes.
"""

import os
import threading
from datetime import date, datetime

import pytest
from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.exc import IntegrityError

from fleet.domain import roster
from fleet.domain.audit import Actor
from fleet.domain.cities import city_by_code
from fleet.domain.errors import DomainError
from fleet.extensions import db
from fleet.models import MonthlyReturn, Vehicle

from .returns_helpers import this_month
from .roster_helpers import csv_bytes, make_vin, rows_for

POSTGRES_URL = os.environ.get("FLEET_TEST_DATABASE_URL")


def _actor(city):
    return Actor(None, f"clerk-{city.code}", None, "city", city.id)


def test_a_claim_checked_before_a_rivals_commit_is_still_refused(setup):
    month = this_month()
    shenzhen, beijing = (city_by_code(db.session, c) for c in ("440300", "110000"))
    file = roster.read_roster(csv_bytes(rows_for(month, {("bus", "bev"): 2})), "r.csv")
    # Beijing's check runs first and finds nothing counted yet...
    beijing_check = roster.check_rows(db.session, beijing, month, file.rows, None)
    assert beijing_check.ok
    # ...then Shenzhen saves the same VINs...
    roster.replace_roster(db.session, _actor(shenzhen), shenzhen, month, file)
    db.session.commit()
    # ...and Beijing's write is refused by the constraint: nothing of it is kept.
    ret = MonthlyReturn(city=beijing, period=month, status="draft")
    db.session.add(ret)
    db.session.flush()
    with pytest.raises(DomainError):
        roster._bulk_insert(db.session, ret, beijing_check.vehicles)
    db.session.rollback()
    owners = db.session.execute(select(Vehicle.city_id).distinct()).scalars().all()
    assert owners == [shenzhen.id]


@pytest.mark.skipif(not (POSTGRES_URL or "").startswith("postgresql"),
                    reason="needs FLEET_TEST_DATABASE_URL pointing at PostgreSQL")
def test_two_postgresql_sessions_insert_the_same_vin_one_wins(setup):
    month = this_month()
    shenzhen, beijing = (city_by_code(db.session, c) for c in ("440300", "110000"))
    for city in (shenzhen, beijing):
        db.session.add(MonthlyReturn(city=city, period=month, status="draft"))
    db.session.commit()
    ids = dict(db.session.execute(select(MonthlyReturn.city_id, MonthlyReturn.id)).all())
    engine = create_engine(POSTGRES_URL)
    vin = make_vin(4242)

    day = date.fromisoformat(f"{month}-03")

    def row(city_id):
        return {"vin": vin, "return_id": ids[city_id], "city_id": city_id, "period": month,
                "category": "bus", "powertrain": "bev", "in_service_date": day,
                "created_at": datetime(2026, 1, 1), "plate": "", "operator": "x",
                "model": "", "maker": ""}

    first_row, second_row = row(shenzhen.id), row(beijing.id)  # read before the thread

    outcome = {}
    table = Vehicle.__table__
    first = engine.connect()
    first.begin()
    first.execute(insert(table), [first_row])  # holds the VIN, not committed yet

    def second():
        with engine.connect() as conn:
            conn.execute(text("SET lock_timeout = '60s'"))
            try:
                conn.execute(insert(table), [second_row])  # waits for the first
                conn.commit()
                outcome["second"] = "committed"
            except IntegrityError:
                conn.rollback()
                outcome["second"] = "refused"

    thread = threading.Thread(target=second)
    thread.start()
    first.commit()
    first.close()
    thread.join()
    engine.dispose()
    assert outcome["second"] == "refused"
    db.session.rollback()
    assert db.session.scalar(select(func.count(Vehicle.id)).where(Vehicle.vin == vin)) == 1
