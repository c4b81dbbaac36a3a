"""Plain factory functions for test data (no factory framework)."""

from werkzeug.security import generate_password_hash

from fleet.domain.audit import Actor
from fleet.domain.cities import city_by_code, load_pilot_cities
from fleet.domain.reference import CATEGORIES
from fleet.extensions import db
from fleet.models import City, MonthlyReturn, ReturnLine, User

PASSWORD = "Test-Passw0rd!"


def load_cities() -> None:
    load_pilot_cities(db.session, Actor.system("test"))
    db.session.commit()


def make_city(code: str = "440300", name_zh: str = "深圳市", name_en: str = "Shenzhen",
              nev_target: int | None = None, **extra) -> City:
    city = city_by_code(db.session, code)
    if city is None:
        city = City(code=code, name_zh=name_zh, name_en=name_en,
                    province_zh=extra.pop("province_zh", "广东省"), **extra)
        db.session.add(city)
    city.nev_target = nev_target if nev_target is not None else city.nev_target
    db.session.commit()
    return city


def make_user(username: str, role: str = "city", city: City | None = None,
              password: str = PASSWORD, **extra) -> User:
    user = User(username=username, role=role, city=city,
                password_hash=generate_password_hash(password), **extra)
    db.session.add(user)
    db.session.commit()
    return user


def make_return(city: City, period: str, status: str = "draft",
                counts: dict | None = None, all_new: dict | None = None,
                charging_points: int = 0, swap_stations: int = 0, notes: str = "",
                **extra) -> MonthlyReturn:
    """A return written straight to the database.

    counts: {category: {powertrain: n}}; all_new: {category: n} (defaults to the NEV total).
    """
    counts = counts or {}
    all_new = all_new or {}
    ret = MonthlyReturn(city=city, period=period, status=status,
                        charging_points=charging_points, swap_stations=swap_stations,
                        notes=notes, **extra)
    for position, category in enumerate(CATEGORIES):
        numbers = counts.get(category.code, {})
        line = ReturnLine(category=category.code, position=position,
                          bev=numbers.get("bev", 0), phev=numbers.get("phev", 0),
                          fcev=numbers.get("fcev", 0))
        line.all_new = all_new.get(category.code, line.bev + line.phev + line.fcev)
        ret.lines.append(line)
    db.session.add(ret)
    db.session.commit()
    return ret
