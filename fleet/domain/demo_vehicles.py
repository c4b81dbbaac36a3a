"""Demo rosters: for every demo return, one vehicle per NEV it counts, with valid VINs (check
digit per GB 16735) and new-energy plates that agree with the powertrain, so the rosters give
exactly the returns' counts and the VIN coverage of the demo is 100 %.

Written in bulk (no ORM object per vehicle); the caller commits.
"""

import random
from datetime import date, timedelta

from sqlalchemy import bindparam, func, insert, select
from sqlalchemy.orm import Session

from ..models import City, MonthlyReturn, ReturnLine, ReturnRevision, Vehicle, utcnow
from .audit import Actor, record_event
from .periods import add_months, first_day
from .reference import POWERTRAIN_CODES
from .vehicle_rules import vin_check_digit
from .vehicles import digest_rows

# GB/T 2260 province (first two digits of the city code) → plate abbreviation.
PROVINCE_ABBR = {"11": "京", "12": "津", "13": "冀", "14": "晋", "15": "蒙", "21": "辽",
                 "22": "吉", "23": "黑", "31": "沪", "32": "苏", "33": "浙", "34": "皖",
                 "35": "闽", "36": "赣", "37": "鲁", "41": "豫", "42": "鄂", "43": "湘",
                 "44": "粤", "45": "桂", "46": "琼", "50": "渝", "51": "川", "52": "贵",
                 "53": "云", "54": "藏", "61": "陕", "62": "甘", "63": "青", "64": "宁",
                 "65": "新"}
MAKERS = (("LGX", "比亚迪汽车工业有限公司", "BYD6122LGEV"), ("LZY", "宇通客车股份有限公司",
          "ZK6105BEVG"), ("LFV", "一汽-大众汽车有限公司", "FV7152BBEV"),
          ("LB1", "北汽福田汽车股份有限公司", "BJ5045XXYEV"), ("LS6", "重庆长安汽车股份有限公司",
          "SC7001AABEV"))
OPERATORS = {"official": "机关事务管理局", "bus": "公交集团有限公司", "sanitation": "环卫集团",
             "taxi": "出租汽车有限公司", "postal": "邮政分公司", "logistics": "城市配送有限公司",
             "airport": "机场集团", "heavy_truck": "港口物流有限公司"}
LARGE = ("bus", "sanitation", "logistics", "heavy_truck", "postal")
YEAR_CODES = {2024: "R", 2025: "S", 2026: "T", 2027: "V"}
PLANTS = "ABCDEFGHJKLMNPRSTUVWXYZ"
BATCH = 20_000


def _vin(n: int, wmi: str, category_index: int, year: int) -> str:
    serial, plant = n % 1_000_000, PLANTS[(n // 1_000_000) % len(PLANTS)]
    body = f"{wmi}C{category_index}A{n % 7}B0{YEAR_CODES.get(year, 'T')}{plant}{serial:06d}"
    return body[:8] + vin_check_digit(body) + body[9:]


def _plate(rng: random.Random, abbr: str, category: str, powertrain: str) -> str:
    letter = "D" if powertrain == "bev" else "F"
    if category in LARGE:
        return f"{abbr}{rng.choice('ABCDEFGH')}{rng.randint(0, 99999):05d}{letter}"
    return f"{abbr}{rng.choice('ABCDEFGH')}{letter}{rng.choice('ABCDEFGH0123456789')}" \
           f"{rng.randint(0, 9999):04d}"


def load_demo_vehicles(session: Session, actor: Actor, seed: int = 2025) -> int:
    """A roster for every return that has none, matching its NEV counts; returns how many
    vehicles were written."""
    rng = random.Random(seed)
    categories = {c: i for i, c in enumerate(
        ("official", "bus", "sanitation", "taxi", "postal", "logistics", "airport",
         "heavy_truck"))}
    stmt = (select(MonthlyReturn.id, MonthlyReturn.city_id, MonthlyReturn.period, City.code,
                   ReturnLine.category, ReturnLine.bev, ReturnLine.phev, ReturnLine.fcev)
            .join(City, City.id == MonthlyReturn.city_id)
            .join(ReturnLine, ReturnLine.return_id == MonthlyReturn.id)
            .where(MonthlyReturn.roster_count.is_(None))
            .order_by(MonthlyReturn.id, ReturnLine.position))
    n = session.scalar(select(func.count(Vehicle.id))) or 0
    now = utcnow()
    batch, counts, digests = [], {}, {}
    by_return: dict[int, list[dict]] = {}
    for rid, city_id, period, code, category, *numbers in session.execute(stmt).all():
        start = first_day(period)
        days = (first_day(add_months(period, 1)) - start).days
        abbr = PROVINCE_ABBR.get(code[:2], "京")
        for powertrain, count in zip(POWERTRAIN_CODES, numbers, strict=True):
            for _ in range(count):
                wmi, maker, model = MAKERS[n % len(MAKERS)]
                day: date = start + timedelta(days=rng.randrange(days))
                row = {"vin": _vin(n, wmi, categories[category], day.year),
                       "plate": _plate(rng, abbr, category, powertrain), "return_id": rid,
                       "city_id": city_id, "period": period, "category": category,
                       "powertrain": powertrain, "in_service_date": day,
                       "operator": OPERATORS[category], "model": model, "maker": maker,
                       "created_at": now}
                n += 1
                batch.append(row)
                by_return.setdefault(rid, []).append(row)
                counts[rid] = counts.get(rid, 0) + 1
        if len(batch) >= BATCH:
            session.execute(insert(Vehicle), batch)
            batch = []
    if batch:
        session.execute(insert(Vehicle), batch)
    for rid, rows in by_return.items():
        digests[rid] = digest_rows(sorted(rows, key=lambda r: r["vin"]))
    _mark_returns(session, counts, digests)
    total = sum(counts.values())
    record_event(session, actor, "demo.vehicles", "programme", "", after={"vehicles": total},
                 detail="demonstration rosters loaded")
    return total


def _mark_returns(session: Session, counts: dict[int, int], digests: dict[int, str]) -> None:
    """Every demo return gets its roster count (returns without NEVs an empty roster), and its
    latest revision the digest of the roster."""
    ids = session.scalars(select(MonthlyReturn.id).where(
        MonthlyReturn.roster_count.is_(None))).all()
    if not ids:
        return
    returns, revisions = MonthlyReturn.__table__, ReturnRevision.__table__
    connection = session.connection()  # Core executemany: no ORM object per row
    connection.execute(returns.update().where(returns.c.id == bindparam("rid"))
                       .values(roster_count=bindparam("n")),
                       [{"rid": rid, "n": counts.get(rid, 0)} for rid in ids])
    latest = session.execute(select(ReturnRevision.return_id, func.max(ReturnRevision.number))
                             .group_by(ReturnRevision.return_id)).all()
    empty = digest_rows([])
    params = [{"rid": rid, "num": number, "sha": digests.get(rid, empty)}
              for rid, number in latest]
    if params:
        connection.execute(revisions.update()
                           .where(revisions.c.return_id == bindparam("rid"),
                                  revisions.c.number == bindparam("num"))
                           .values(roster_sha256=bindparam("sha")), params)
