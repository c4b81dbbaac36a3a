"""The 25 pilot cities are loaded from the shipped reference data, idempotently."""

from sqlalchemy import func, select

from fleet.domain.audit import Actor
from fleet.domain.cities import city_by_code, load_pilot_cities
from fleet.extensions import db
from fleet.models import AuditEvent, City


def test_loads_25_cities_with_batch_targets(app):
    added = load_pilot_cities(db.session, Actor.system("test"))
    db.session.commit()
    assert added == 25
    assert db.session.scalar(select(func.count(City.id))) == 25
    shenzhen = city_by_code(db.session, "440300")
    assert (shenzhen.name_zh, shenzhen.name_en, shenzhen.batch) == ("深圳市", "Shenzhen", 1)
    assert shenzhen.pilot_nev_target is None and shenzhen.nev_target is None
    tianjin = city_by_code(db.session, "120000")
    assert (tianjin.batch, tianjin.pilot_nev_target, tianjin.pilot_charging_target,
            tianjin.pilot_swap_target) == (2, 56500, 34900, 65)
    batch2 = db.session.scalars(select(City).where(City.batch == 2)).all()
    assert sum(c.pilot_nev_target for c in batch2) == 260_000
    assert sum(c.pilot_charging_target for c in batch2) == 240_200
    assert sum(c.pilot_swap_target for c in batch2) == 365


def test_loading_twice_changes_nothing(app):
    load_pilot_cities(db.session, Actor.system("test"))
    db.session.commit()
    city = city_by_code(db.session, "440300")
    city.nev_target = 50_000  # an admin's edit must survive a second load
    db.session.commit()
    assert load_pilot_cities(db.session, Actor.system("test")) == 0
    db.session.commit()
    assert db.session.scalar(select(func.count(City.id))) == 25
    assert city_by_code(db.session, "440300").nev_target == 50_000
    loads = db.session.scalar(select(func.count(AuditEvent.id))
                              .where(AuditEvent.action == "city.load"))
    assert loads == 25
