"""Demonstration data: plausible, deterministic returns for every active city, so that each
page, chart and workbook shows something a reviewer recognises.

Everything is drawn from random.Random(seed) in a fixed order (cities by code, months in
order), so the same seed, month and date give the same data. Numbers are invented; the
Programme.demo_data flag makes every page say so, and each row it writes is marked
MonthlyReturn.demo, so that --replace and --clear delete those rows and no other.
"""

import math
import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from types import SimpleNamespace

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from ..models import (
    City,
    MonthlyReturn,
    Programme,
    ReturnLine,
    ReturnRevision,
    copies_of_lines,
)
from . import integrity
from .audit import Actor, record_event
from .cities import load_pilot_cities
from .errors import DomainError
from .figures import default_through
from .periods import add_months, months_between, parse_period, period_of
from .programme import LOCAL_TZ, due_date, get_programme, is_late, local_today
from .reference import CATEGORIES

# Shares of a city's monthly NEVs by category: buses, taxis and logistics dominate.
CATEGORY_MIX = {"official": 4, "bus": 18, "sanitation": 6, "taxi": 26, "postal": 8,
                "logistics": 30, "airport": 2, "heavy_truck": 6}
# (plug-in hybrid share, fuel-cell share) of a category's NEVs; the rest is battery electric.
POWERTRAIN_MIX = {"official": (0.22, 0.0), "bus": (0.04, 0.02), "sanitation": (0.03, 0.01),
                  "taxi": (0.15, 0.0), "postal": (0.04, 0.0), "logistics": (0.06, 0.01),
                  "airport": (0.03, 0.0), "heavy_truck": (0.12, 0.12)}
# Demo city targets for the batch-1 cities, whose own targets are not public (vehicles);
# batch-2 cities take their published pilot-plan target. Scaled to the national target.
BATCH1_WEIGHTS = {"110000": 60000, "440300": 55000, "500000": 45000, "510100": 50000,
                  "410100": 35000, "330200": 25000, "350200": 18000, "370100": 25000,
                  "130100": 22000, "130200": 18000, "450200": 15000, "460100": 15000,
                  "220100": 18000, "640100": 8000, "150600": 10000}
RETURN_REASONS = (
    "出租车新增数量与上月差异较大，请核实并补充说明。",
    "城市物流配送车辆中燃料电池车辆数量有误，请与备案数据核对后重新报送。",
    "充电桩新增数量明显高于新增车辆，请说明是否含私人充电桩。",
    "城市公交全部新增车辆数填写有误，请更正。",
)
NOTES = ("", "", "", "", "含网约车平台新增车辆。", "部分车辆因上牌延迟计入本月。",
         "充电桩含公交场站专用桩。")


# The one-line way to try the demo without touching the real database (README too). A
# relative SQLite path lies in instance/, so this is instance/demo.sqlite.
SEPARATE_DATABASE_COMMAND = ("DATABASE_URL=sqlite:///demo.sqlite flask fleet init && "
                             "DATABASE_URL=sqlite:///demo.sqlite flask fleet demo")


class DemoRefused(DomainError):
    """The demo data would overwrite real returns, or is already there."""


@dataclass(frozen=True)
class DemoResult:
    through: str
    cities: int
    returns: int  # rows written (drafts included)
    approved: int
    submitted: int
    returned: int
    draft: int
    missing: int  # city-months up to `through` without any return
    late: int  # returns submitted after the due date
    targets_set: int
    replaced: int  # demo returns deleted first


def _beijing(day: date, hour: int, minute: int) -> datetime:
    """A Beijing wall-clock time as naive UTC, as the database stores it."""
    local = datetime.combine(day, time(hour, minute), tzinfo=LOCAL_TZ)
    return local.astimezone(timezone.utc).replace(tzinfo=None)


def _count_returns(session: Session, demo: bool) -> int:
    """How many demo returns (demo=True) or real ones (demo=False) are stored."""
    return session.scalar(select(func.count(MonthlyReturn.id))
                          .where(MonthlyReturn.demo.is_(demo))) or 0


def _delete_demo_returns(session: Session) -> int:
    """Delete the demo returns with their lines and revisions (never a real return);
    returns how many returns."""
    demo_ids = select(MonthlyReturn.id).where(MonthlyReturn.demo.is_(True))
    count = _count_returns(session, demo=True)
    # Explicitly, not by ON DELETE CASCADE: SQLite enforces foreign keys only when asked.
    session.execute(delete(ReturnRevision).where(ReturnRevision.return_id.in_(demo_ids)))
    session.execute(delete(ReturnLine).where(ReturnLine.return_id.in_(demo_ids)))
    session.execute(delete(MonthlyReturn).where(MonthlyReturn.demo.is_(True)))
    return count


def _demo_targets(session: Session, actor: Actor, cities: list[City], national: int,
                  rng: random.Random) -> int:
    """Give a demo target to each city without one, so the targets add up to the national."""
    open_cities = [c for c in cities if c.nev_target is None]
    if not open_cities:
        return 0
    left = max(national - sum(c.nev_target or 0 for c in cities), 0)
    weights = [c.pilot_nev_target or BATCH1_WEIGHTS.get(c.code) or rng.randint(5, 40) * 1000
               for c in open_cities]
    scale = left / sum(weights)
    targets = [round(w * scale, -2) for w in weights]
    targets[0] += left - sum(targets)  # rounding goes to the first city, so the sum is exact
    for city, target in zip(open_cities, targets, strict=True):
        city.nev_target = int(target)
        record_event(session, actor, "city.update", "city", city.code, {"nev_target": None},
                     {"nev_target": int(target)}, detail="demo target")
    return len(open_cities)


def _month_numbers(rng: random.Random, city_mix: dict, city_fcev: bool, total: int) -> dict:
    """One month's lines for one city: {category: {bev, phev, fcev, all_new}}."""
    weight_sum = sum(city_mix.values())
    lines = {}
    for category in CATEGORIES:
        code = category.code
        nev = max(0, round(total * city_mix[code] / weight_sum * rng.uniform(0.8, 1.2)))
        phev_share, fcev_share = POWERTRAIN_MIX[code]
        phev = round(nev * phev_share * rng.uniform(0.5, 1.5))
        fcev = round(nev * fcev_share * rng.uniform(0.5, 1.5)) if city_fcev else 0
        phev, fcev = min(phev, nev), min(fcev, nev - min(phev, nev))
        share = rng.uniform(0.74, 0.97) if category.share_aim else rng.uniform(0.45, 0.85)
        all_new = math.ceil(nev / share) if nev else rng.choice((0, 0, 1, 2))
        lines[code] = {"bev": nev - phev - fcev, "phev": phev, "fcev": fcev,
                       "all_new": max(all_new, nev)}
    return lines


def _nudge(rng: random.Random, lines: dict) -> dict:
    """The numbers first sent in, before the correction the reviewer asked for."""
    wrong = {c: dict(v) for c, v in lines.items()}
    code = rng.choice(("taxi", "logistics", "bus"))
    wrong[code]["bev"] += rng.randint(20, 80)
    wrong[code]["all_new"] = max(wrong[code]["all_new"], sum(
        wrong[code][k] for k in ("bev", "phev", "fcev")))
    return wrong


def load_demo(session: Session, actor: Actor, *, seed: int = 2025, through: str | None = None,
              today: date | None = None, replace: bool = False) -> DemoResult:
    """Fill the window from its first month through `through` (default: the last complete
    month) with demo returns for every active city, and give cities without a target a demo
    target. Refuses when returns exist, unless they are demo data and `replace` is set.

    The caller commits.
    """
    today = today or local_today()
    programme = get_programme(session)
    load_pilot_cities(session, actor)
    replaced = 0
    if _count_returns(session, demo=False):
        raise DemoRefused(_l(
            "Real returns exist: demo data is only loaded into a database without real "
            "returns. To try the demo, use a separate database: %(command)s",
            command=SEPARATE_DATABASE_COMMAND))
    if _count_returns(session, demo=True):
        if not replace:
            raise DemoRefused(_l("Demo data is already loaded. Use --replace to load it "
                                 "again."))
        replaced = _delete_demo_returns(session)
    through = parse_period(through) if through else default_through(programme, today)
    through = min(max(through, programme.first_period), programme.last_period)
    rng = random.Random(seed)
    cities = list(session.scalars(select(City).where(City.active.is_(True))
                                  .order_by(City.code)))
    targets_set = _demo_targets(session, actor, cities, programme.national_target, rng)
    session.flush()
    result = _generate(session, programme, cities, months_between(programme.first_period,
                                                                   through), rng, today)
    programme.demo_data = True
    summary = DemoResult(through=through, cities=len(cities), targets_set=targets_set,
                         replaced=replaced, **result)
    record_event(session, actor, "demo.load", "programme", programme.id,
                 after={"seed": seed, **summary.__dict__},
                 detail="demonstration data loaded" + (" (replaced)" if replaced else ""))
    return summary


def clear_demo(session: Session, actor: Actor) -> int:
    """Delete the demo returns and clear the demo flag; returns how many returns went.

    Only returns the demo wrote (MonthlyReturn.demo) go: a real return, or a demo month
    someone saved through the app since, stays. City targets set by the demo stay too (an
    admin edits them). Refuses when no demo is loaded.
    """
    programme = get_programme(session)
    if not programme.demo_data and not _count_returns(session, demo=True):
        raise DemoRefused(_l("No demo data is loaded."))
    deleted = _delete_demo_returns(session)
    programme.demo_data = False
    record_event(session, actor, "demo.clear", "programme", programme.id,
                 after={"returns_deleted": deleted}, detail="demonstration data removed")
    return deleted


@dataclass(frozen=True)
class _CityPlan:
    """How a demo city behaves over the window (drawn once per city)."""

    lateness: float  # chance that a return comes in after its due date
    has_fcev: bool
    mix: dict  # share of each category
    per_month: float  # NEVs a month on average


@dataclass(frozen=True)
class _MonthDraws:
    """Every random draw of one city-month, made whatever the outcome, so one city's luck
    never shifts the next city's numbers."""

    draw: float
    late: bool
    review_draw: float
    review_days: int
    fix_days: int
    submit_day: int
    late_days: int
    hour: int
    minute: int
    reason: str
    notes: str


def _city_plan(rng: random.Random, city: City, n_window: int) -> _CityPlan:
    pace = rng.uniform(0.65, 1.25)  # some cities ahead of their target, some behind
    lateness = rng.choice((0.0, 0.03, 0.08, 0.15, 0.3))
    has_fcev = rng.random() < 0.35
    mix = {c: w * rng.uniform(0.6, 1.4) for c, w in CATEGORY_MIX.items()}
    return _CityPlan(lateness, has_fcev, mix, (city.nev_target or 10000) / n_window * pace)


def _month_draws(rng: random.Random, plan: _CityPlan) -> _MonthDraws:
    draw, late, review_draw = rng.random(), rng.random() < plan.lateness, rng.random()
    review_days, fix_days = rng.randint(2, 30), rng.randint(1, 6)
    submit_day, late_days = rng.randint(1, 9), rng.randint(1, 20)
    hour, minute = rng.randint(9, 17), rng.randint(0, 59)
    reason, notes = rng.choice(RETURN_REASONS), rng.choice(NOTES)
    return _MonthDraws(draw, late, review_draw, review_days, fix_days, submit_day, late_days,
                       hour, minute, reason, notes)


def _month_fate(d: _MonthDraws, due: date, now: datetime, recent: bool, today: date
                ) -> tuple[str, datetime, datetime | None, bool]:
    """(state, submitted at, reviewed at, late) of a demo city-month.

    state: missing, draft, submitted, returned, corrected (sent back, then approved) or
    approved. A month whose return is not due yet gets a mixed picture.
    """
    if today <= due:
        state = "missing" if d.draw < 0.2 else "draft" if d.draw < 0.45 else "submitted"
        return state, min(_beijing(due - timedelta(days=9 - d.submit_day), 10, 0), now), \
            None, False
    missing_p, draft_p = (0.06, 0.04) if recent else (0.02, 0.01)
    late_at = _beijing(due + timedelta(days=d.late_days), d.hour, d.minute)
    on_time_at = _beijing(due - timedelta(days=9 - d.submit_day), d.hour, d.minute)
    submitted = late_at if d.late else on_time_at
    reviewed = submitted + timedelta(days=d.review_days)
    if d.draw < missing_p or submitted > now:
        state = "missing"  # (a late return not yet sent in by `today`)
    elif d.draw < missing_p + draft_p:
        state = "draft"
    elif reviewed > now:
        state = "submitted"
    elif d.review_draw < 0.08:
        # Sent back: still with the city in recent months, corrected before.
        state = "returned" if recent else "corrected"
    else:
        state = "approved"
    return state, submitted, reviewed, d.late


def _month_row(programme: Programme, row: dict, fate: tuple, d: _MonthDraws, numbers: dict,
               first_numbers: dict) -> tuple[dict, dict, list]:
    """The return row for a state, its final numbers and its submissions (at, numbers,
    late)."""
    state, submitted, reviewed, late = fate
    subs = []
    if state == "draft":
        row.update(status="draft", updated_at=row["created_at"] + timedelta(days=2))
    else:
        row.update(status="submitted", first_submitted_at=submitted, submitted_at=submitted,
                   submitted_late=late, updated_at=submitted)
        subs.append((submitted, numbers, late))
    if state == "approved":
        row.update(status="approved", reviewed_at=reviewed, approved_at=reviewed,
                   updated_at=reviewed)
    elif state == "returned":
        numbers = first_numbers
        subs = [(submitted, numbers, late)]
        row.update(status="returned", reviewed_at=reviewed, updated_at=reviewed,
                   review_comment=d.reason)
    elif state == "corrected":
        again = reviewed + timedelta(days=d.fix_days)
        again_late = is_late(programme, row["period"], again)
        approved = again + timedelta(days=2)
        subs = [(submitted, first_numbers, late), (again, numbers, again_late)]
        row.update(status="approved", submitted_at=again, submitted_late=again_late,
                   reviewed_at=approved, approved_at=approved, updated_at=approved)
    return row, numbers, subs


def _generate(session: Session, programme: Programme, cities: list[City], periods: list[str],
              rng: random.Random, today: date) -> dict:
    """Write the returns, lines and revisions in bulk; returns the tallies."""
    now = _beijing(today, 12, 0)
    this_month = period_of(today)
    n_window = len(months_between(programme.first_period, programme.last_period))
    tally = dict(returns=0, approved=0, submitted=0, returned=0, draft=0, missing=0, late=0)
    made = []  # (row, numbers, submissions) of each return
    for city in cities:
        plan = _city_plan(rng, city, n_window)
        for index, period in enumerate(periods):
            if period >= this_month:
                break
            d = _month_draws(rng, plan)
            ramp = 0.55 + 0.9 * index / max(n_window - 1, 1)
            season = 0.7 if period.endswith("-02") else 1.25 if period.endswith("-12") else 1.0
            numbers = _month_numbers(rng, plan.mix, plan.has_fcev,
                                     plan.per_month * ramp * season * rng.uniform(0.85, 1.15))
            nev = sum(v["bev"] + v["phev"] + v["fcev"] for v in numbers.values())
            charging = round(nev * rng.uniform(0.6, 1.2))
            swap = rng.choice((0, 0, 0, 0, 0, 1, 1, 2, 3))
            first_numbers = _nudge(rng, numbers)
            fate = _month_fate(d, due_date(programme, period), now,
                               index >= len(periods) - 3, today)
            if fate[0] == "missing":
                tally["missing"] += 1
                continue
            created = _beijing(date.fromisoformat(add_months(period, 1) + "-01"), 9, 30)
            row = dict(city_id=city.id, period=period, charging_points=charging,
                       swap_stations=swap, notes=d.notes, version=1, created_at=created,
                       updated_at=created, demo=True)
            made.append(_month_row(programme, row, fate, d, numbers, first_numbers))
            tally["returns"] += 1
            tally[row["status"]] += 1
            tally["late"] += bool(row.get("submitted_late"))
    _insert_all(session, made, {city.id: city.code for city in cities})
    return tally


def _insert_all(session: Session, made: list[tuple[dict, dict, list]],
                code_of: dict[int, str]) -> None:
    """The returns (with the copies of their lines that the ORM would keep: see
    fleet.models.LINE_COPIES), then their lines and revisions, each in one multi-row INSERT."""
    ids = _insert_returns(session, [
        {**row, **copies_of_lines(SimpleNamespace(position=position, **numbers[category.code])
                                  for position, category in enumerate(CATEGORIES))}
        for row, numbers, _ in made])
    line_rows, revision_rows = [], []
    for rid, (row, numbers, subs) in zip(ids, made, strict=True):
        for position, category in enumerate(CATEGORIES):
            line_rows.append(dict(return_id=rid, category=category.code, position=position,
                                  **numbers[category.code]))
        previous = ""
        for number, (at, data_lines, late) in enumerate(subs, start=1):
            data = {"lines": data_lines, "charging_points": row["charging_points"],
                    "swap_stations": row["swap_stations"], "notes": row["notes"]}
            # Hashed and chained like a real submission, so `flask fleet verify` passes.
            previous = integrity.revision_hash(
                city_code=code_of[row["city_id"]], period=row["period"], number=number,
                created_at=at, created_by_id=None, late=late, data=data, previous=previous)
            revision_rows.append(dict(return_id=rid, number=number, created_at=at, late=late,
                                      data=data, hash=previous))
    if line_rows:
        session.execute(insert(ReturnLine), line_rows)
    if revision_rows:
        session.execute(insert(ReturnRevision), revision_rows)


def _insert_returns(session: Session, rows: list[dict]) -> list[int]:
    """Insert in bulk (thousands of rows in a blink) and return the ids in row order."""
    if not rows:
        return []
    # Every row needs the same keys for one multi-row INSERT.
    defaults = dict(first_submitted_at=None, submitted_at=None, submitted_late=False,
                    reviewed_at=None, approved_at=None, review_comment="")
    full = [{**defaults, **row} for row in rows]
    result = session.execute(
        insert(MonthlyReturn).returning(MonthlyReturn.id, sort_by_parameter_order=True), full)
    return [row[0] for row in result]
