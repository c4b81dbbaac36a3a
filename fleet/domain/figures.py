"""The numbers the ministry reads (DESIGN.md §3), computed once, here, from the database.

Pages, charts, the API and the Excel summary all take their figures from these functions, so
no two of them can disagree. Every function is a plain function over a session; the
aggregation happens in SQL (GROUP BY), with a fixed number of queries whatever the number of
cities and months.

Units: vehicles (whole numbers) unless a name says otherwise; shares and percentages are
fractions (0.25 means 25 %). Months are 'YYYY-MM'; `through` is the last month included.
Bases: 'reported' counts returns that are submitted or approved, 'verified' only approved ones.
Only active cities count, in the national totals as in the tables, so the totals are always
the sum of the rows shown.
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import String, and_, case, cast, func, select
from sqlalchemy.orm import Session

from ..models import (
    LINE_COPIES,
    LINE_MEASURES,
    City,
    DataVersion,
    MonthlyReturn,
    Programme,
    ReturnLine,
)
from .periods import add_months, months_between, parse_period, period_of
from .programme import due_date, get_programme, local_today
from .reference import CATEGORIES, CATEGORY_CODES, CHARGING_POINTS_PER_NEV_AIM, POWERTRAIN_CODES
from .returns import COUNTED, month_state

BASES = ("reported", "verified")
BASIS_STATUSES = {"reported": COUNTED, "verified": ("approved",)}

# The projection extrapolates the average of this many most recent months.
RUN_RATE_MONTHS = 3

GRID_STATES = ("not_due", "due", "late", "draft", "submitted", "returned", "approved")


# --- values ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CategoryFigures:
    """One category's NEVs since the programme start through `through`, on one basis."""

    category: str  # code, in the order of reference.CATEGORIES
    bev: int
    phev: int
    fcev: int
    nev: int  # bev + phev + fcev
    all_new: int  # all new vehicles of the category, NEV or not
    share: float | None  # nev / all_new (fraction); None when nothing was deployed
    share_aim: float | None  # the pilot's aim (0.8) for the five aim sectors, else None
    this_month: int  # NEVs in the month `through` alone

    @property
    def meets_aim(self) -> bool | None:
        if self.share_aim is None or self.share is None:
            return None
        return self.share >= self.share_aim


@dataclass(frozen=True)
class Completeness:
    """Returns expected and received, over the months whose due date has passed.

    expected: city-months in [first month, through] whose due date is before `today`;
    received: of those, returns now submitted or approved; late: received, but the latest
    submission came after the due date; on_time = received - late; missing = expected -
    received (no return, a draft, or a return sent back), of which `returned` were sent back.
    """

    expected: int = 0
    received: int = 0
    on_time: int = 0
    late: int = 0
    missing: int = 0
    returned: int = 0

    @property
    def overdue(self) -> int:
        """Due, and nothing submitted (no return, or only a draft): 逾期未报, the grid's red
        'late' cells. Not to be confused with `late`, returns received after the due date
        (迟报)."""
        return self.missing - self.returned

    @property
    def completeness(self) -> float | None:
        return self.received / self.expected if self.expected else None

    @property
    def timeliness(self) -> float | None:
        return self.on_time / self.expected if self.expected else None

    def __add__(self, other: "Completeness") -> "Completeness":
        return Completeness(*(a + b for a, b in zip(_astuple(self), _astuple(other),
                                                    strict=True)))


def _astuple(c: Completeness) -> tuple[int, ...]:
    return (c.expected, c.received, c.on_time, c.late, c.missing, c.returned)


@dataclass(frozen=True)
class Projection:
    """Cumulative NEVs expected at the end of the window if the recent run-rate holds.

    value = cumulative through `through` + run_rate × months_left, where run_rate is the
    average of the last `months_used` months (up to RUN_RATE_MONTHS) ending at `through`.
    """

    value: int | None  # None when no month has elapsed yet
    run_rate: float  # NEVs per month
    months_used: int
    months_left: int
    target: int | None
    on_track: bool | None  # value >= target; None without a target or a value

    @property
    def pct_of_target(self) -> float | None:
        """The projected total as a share of the target (None without either)."""
        return _ratio(self.value, self.target) if self.value is not None else None


@dataclass(frozen=True)
class MonthFigures:
    """The NEVs of one month (not cumulative, except `cumulative`)."""

    period: str
    bev: int
    phev: int
    fcev: int
    nev: int
    all_new: int
    cumulative: int  # NEVs from the first month through this one
    charging_points: int
    swap_stations: int
    by_category: dict[str, int]  # NEVs per category code, every category present


@dataclass(frozen=True)
class CityFigures:
    """One city's cumulative figures through `through`, on one basis."""

    city_id: int
    code: str  # GB/T 2260 code
    name_zh: str
    name_en: str
    province_zh: str
    batch: int | None
    target: int | None  # the city's own NEV target; None until the ministry sets it
    bev: int
    phev: int
    fcev: int
    nev: int
    all_new: int
    this_month: int  # NEVs in the month `through`
    pct_of_target: float | None  # nev / target (fraction)
    nev_share: float | None  # nev / all_new over all categories (fraction)
    charging_points: int
    swap_stations: int
    charging_per_nev: float | None  # charging points added per NEV added (aim 1.0)
    completeness: Completeness
    by_category: tuple[CategoryFigures, ...]
    # Its share of its target is below the share of the window elapsed (None: no target).
    behind_time: bool | None = None
    # NEVs backed by a VIN: the vehicles of the rosters of the counted returns; their share
    # of the reported NEVs (None without NEVs). Read from the returns' roster_count.
    vin_backed: int = 0
    vin_coverage: float | None = None

    def name(self, lang: str) -> str:
        return self.name_zh if lang.startswith("zh") else self.name_en

    def category(self, code: str) -> CategoryFigures:
        return next(c for c in self.by_category if c.category == code)


@dataclass(frozen=True)
class Window:
    """The reporting window and how much of it lies up to `through`."""

    first_period: str
    last_period: str
    through: str  # last month included
    today: date  # Beijing date used for due dates
    window_months: int
    elapsed_months: int  # months from first_period through `through`
    due_months: tuple[str, ...]  # months up to `through` whose due date has passed

    @property
    def elapsed_share(self) -> float:
        return self.elapsed_months / self.window_months if self.window_months else 0.0

    @property
    def months_left(self) -> int:
        return self.window_months - self.elapsed_months

    @property
    def periods(self) -> list[str]:
        """Every month from the first through `through`."""
        return months_between(self.first_period, self.through)

    def expected_by(self, target: int, elapsed_months: int) -> int:
        """The straight-line path to `target`: where it stands once `elapsed_months` months
        of the window are over (vehicles, rounded)."""
        if not self.window_months:
            return 0
        return round(target * elapsed_months / self.window_months)

    def straight_path(self, target: int) -> tuple[int, ...]:
        """expected_by for each month of the whole window, first to last (the charts' path)."""
        return tuple(self.expected_by(target, n) for n in range(1, self.window_months + 1))

    def is_behind(self, pct_of_target: float | None) -> bool | None:
        """Below the share of the window elapsed (None when there is no target)."""
        return None if pct_of_target is None else pct_of_target < self.elapsed_share


@dataclass(frozen=True)
class Progress:
    """National progress through `through` on one basis: the headline, cities, breakdowns."""

    basis: str  # 'reported' or 'verified'
    window: Window
    target: int  # the national target (vehicles)
    bev: int
    phev: int
    fcev: int
    nev: int  # cumulative NEVs, the sum of the cities' `nev`
    all_new: int
    this_month: int
    pct_of_target: float  # nev / target
    expected_by_now: int  # target × share of the window elapsed (a straight-line path)
    projection: Projection
    nev_share: float | None
    charging_points: int
    swap_stations: int
    charging_per_nev: float | None
    charging_aim: float  # charging points per NEV the pilot aims at (1.0)
    completeness: Completeness
    by_category: tuple[CategoryFigures, ...]
    by_month: tuple[MonthFigures, ...]  # every month first..through, zeros included
    cities: tuple[CityFigures, ...]  # active cities, by code
    city_targets_total: int  # sum of the targets the cities have
    cities_without_target: int
    vin_backed: int = 0  # NEVs backed by a VIN (the cities' sum)
    vin_coverage: float | None = None  # vin_backed / nev

    @property
    def through(self) -> str:
        return self.window.through

    @property
    def on_track(self) -> bool | None:
        return self.projection.on_track

    def city(self, code: str) -> CityFigures | None:
        return next((c for c in self.cities if c.code == code), None)

    def powertrain_totals(self) -> dict[str, int]:
        return {"bev": self.bev, "phev": self.phev, "fcev": self.fcev}

    def powertrain_shares(self) -> dict[str, float | None]:
        """Each powertrain's share of the cumulative NEVs (None when there are none)."""
        return {code: _ratio(n, self.nev) for code, n in self.powertrain_totals().items()}


@dataclass(frozen=True)
class CityProgress:
    """One city's figures (the same row as in Progress.cities) and its month-by-month path."""

    basis: str
    window: Window
    city: CityFigures
    by_month: tuple[MonthFigures, ...]
    projection: Projection
    expected_by_now: int | None  # city target × share of the window elapsed

    def pct_of_target_at(self, month: MonthFigures) -> float | None:
        """The city's cumulative NEVs at the end of `month` as a share of its target."""
        return _ratio(month.cumulative, self.city.target)


@dataclass(frozen=True)
class GridCell:
    """One city-month of the completeness grid."""

    period: str
    state: str  # one of GRID_STATES (fleet.returns.month_state)
    submitted_late: bool  # received, but after the due date
    return_id: int | None
    due: date


@dataclass(frozen=True)
class GridRow:
    city_id: int
    code: str
    name_zh: str
    name_en: str
    cells: tuple[GridCell, ...]
    counts: Completeness
    states: dict[str, int]  # cells per state

    def name(self, lang: str) -> str:
        return self.name_zh if lang.startswith("zh") else self.name_en


@dataclass(frozen=True)
class Grid:
    """Cities × months: the state of every return, with counts per row and per column."""

    window: Window
    months: tuple[str, ...]
    rows: tuple[GridRow, ...]
    columns: tuple[Completeness, ...]  # one per month, in `months` order
    column_states: tuple[dict[str, int], ...]
    total: Completeness


@dataclass(frozen=True)
class FlatRow:
    """One number of one return: the flat data of the Excel summary (and CSV)."""

    city_code: str
    city_name_zh: str
    city_name_en: str
    period: str
    category: str
    powertrain: str
    count: int  # NEVs of this category and powertrain in this city-month
    status: str  # the return's status (submitted or approved)
    submitted_late: bool


# --- parameters ---------------------------------------------------------------------------------

def parse_basis(text: str | None) -> str:
    """'reported' (default when empty) or 'verified'; ValueError otherwise."""
    text = (text or "reported").strip()
    if text not in BASES:
        raise ValueError(f"not a basis: {text!r}")
    return text


def default_through(programme: Programme, today: date | None = None) -> str:
    """The last complete month, kept inside the reporting window."""
    return _clamp(programme, add_months(period_of(today or local_today()), -1))


def _clamp(programme: Programme, period: str) -> str:
    return min(max(period, programme.first_period), programme.last_period)


def window(programme: Programme, through: str | None = None,
           today: date | None = None) -> Window:
    """The window through the given month (default: the last complete month).

    A month outside the reporting window is moved to its nearest end.
    """
    today = today or local_today()
    through = _clamp(programme, parse_period(through)) if through else default_through(
        programme, today)
    periods = months_between(programme.first_period, through)
    return Window(
        first_period=programme.first_period, last_period=programme.last_period,
        through=through, today=today,
        window_months=len(months_between(programme.first_period, programme.last_period)),
        elapsed_months=len(periods),
        due_months=tuple(p for p in periods if today > due_date(programme, p)))


# --- queries ------------------------------------------------------------------------------------


def _rows(session: Session, stmt):
    """Run a Core SELECT on the session's connection: plain tuples, no ORM row overhead
    (thousands of aggregated rows for hundreds of cities)."""
    return session.connection().execute(stmt)


def _only_cities(stmt, city_ids: Sequence[int] | None):
    """All active cities, or exactly the cities asked for."""
    if city_ids is None:
        return stmt.where(City.active.is_(True))
    return stmt.where(City.id.in_(list(city_ids)))


def _of_cities(stmt, city_ids: Sequence[int]):
    """Returns of exactly these cities (no join: on SQLite the (city, month) index then
    delivers them grouped by city, so no sort is needed)."""
    return stmt.where(MonthlyReturn.city_id.in_(list(city_ids)))


def _counted(basis: str, win: Window):
    return and_(MonthlyReturn.status.in_(BASIS_STATUSES[basis]),
                MonthlyReturn.period >= win.first_period,
                MonthlyReturn.period <= win.through)


def _cities(session: Session, city_ids: Sequence[int] | None) -> list:
    stmt = select(City.id, City.code, City.name_zh, City.name_en, City.province_zh,
                  City.batch, City.nev_target).order_by(City.code)
    return _rows(session, _only_cities(stmt, city_ids)).all()


# The sums of the lines' copies on the returns (fleet.models.LINE_COPIES): position by
# position, bev, phev, fcev and all new vehicles. The figures never scan the lines themselves.
_LINE_SUMS = tuple(func.sum(getattr(MonthlyReturn, name)) for name in LINE_COPIES)


_SLICES = tuple((category.code, slice(i * len(LINE_MEASURES), (i + 1) * len(LINE_MEASURES)))
                for i, category in enumerate(CATEGORIES))


def _by_category(sums: Sequence[int]) -> dict[str, tuple[int, ...]]:
    """{category: (bev, phev, fcev, all_new)} from _LINE_SUMS' values of a group (never
    NULL: a group has rows, and the copies are NOT NULL)."""
    sums = tuple(sums)
    return {code: sums[part] for code, part in _SLICES}


def _counted_by_city(session: Session, basis: str, win: Window,
                     city_ids: Sequence[int]) -> dict[int, tuple]:
    """{city_id: ({category: (bev, phev, fcev, all_new, nev in `through`)}, charging points,
    swap stations, VIN-backed NEVs)}, over the returns counted on `basis`."""
    def by_city(*conditions, infrastructure=()):
        stmt = (select(MonthlyReturn.city_id, *infrastructure, *_LINE_SUMS)
                .where(_counted(basis, win), *conditions)
                .group_by(MonthlyReturn.city_id))
        return _rows(session, _of_cities(stmt, city_ids))

    in_through = {city_id: _by_category(sums)
                  for city_id, *sums in by_city(MonthlyReturn.period == win.through)}
    out: dict[int, tuple] = {}
    for city_id, cp, sw, vin, *sums in by_city(infrastructure=(
            func.sum(MonthlyReturn.charging_points), func.sum(MonthlyReturn.swap_stations),
            func.sum(func.coalesce(MonthlyReturn.roster_count, 0)))):
        month = in_through.get(city_id, {})
        categories = {code: (*values, sum(month.get(code, (0, 0, 0))[:3]))
                      for code, values in _by_category(sums).items()}
        out[city_id] = (categories, int(cp), int(sw), int(vin))
    return out


def _received_by_city(session: Session, win: Window,
                      city_ids: Sequence[int]) -> dict[int, tuple[int, int, int]]:
    """{city_id: (received, late, returned)} over the months already due, whatever the basis
    (fleet.returns.month_state: only returns received or sent back count here)."""
    stmt = (select(MonthlyReturn.city_id,
                   func.sum(case((MonthlyReturn.status.in_(COUNTED), 1), else_=0)),
                   func.sum(case((MonthlyReturn.received_late, 1), else_=0)),
                   func.sum(case((MonthlyReturn.status == "returned", 1), else_=0)))
            .where(MonthlyReturn.period.in_(win.due_months),
                   MonthlyReturn.status.in_((*COUNTED, "returned")))
            .group_by(MonthlyReturn.city_id))
    return {city_id: (int(received), int(late), int(returned))
            for city_id, received, late, returned
            in _rows(session, _of_cities(stmt, city_ids))}


def _by_month(session: Session, basis: str, win: Window,
              city_ids: Sequence[int] | None) -> tuple[MonthFigures, ...]:
    """Every month of the window through `through`, with NEVs per category and powertrain."""
    stmt = (select(MonthlyReturn.period, func.sum(MonthlyReturn.charging_points),
                   func.sum(MonthlyReturn.swap_stations), *_LINE_SUMS)
            .where(_counted(basis, win))
            .group_by(MonthlyReturn.period))
    if city_ids is None:  # the active cities: read in month order, grouped without a sort
        stmt = stmt.join(City, City.id == MonthlyReturn.city_id).where(City.active.is_(True))
    else:
        stmt = _of_cities(stmt, city_ids)
    found = {period: (int(cp or 0), int(sw or 0), _by_category(sums))
             for period, cp, sw, *sums in _rows(session, stmt)}
    months, cumulative = [], 0
    for period in win.periods:
        cp, sw, by_cat = found.get(period, (0, 0, {}))
        bev, phev, fcev, all_new = (sum(v[i] for v in by_cat.values()) for i in range(4))
        cumulative += bev + phev + fcev
        months.append(MonthFigures(
            period=period, bev=bev, phev=phev, fcev=fcev, nev=bev + phev + fcev,
            all_new=all_new, cumulative=cumulative, charging_points=cp, swap_stations=sw,
            by_category={c: sum(by_cat.get(c, (0, 0, 0))[:3]) for c in CATEGORY_CODES}))
    return tuple(months)


# --- assembling ---------------------------------------------------------------------------------

def _ratio(a: int, b: int | None) -> float | None:
    return a / b if b else None


def _categories(sums: dict[str, tuple]) -> tuple[CategoryFigures, ...]:
    out = []
    for category in CATEGORIES:
        bev, phev, fcev, all_new, this_month = sums.get(category.code, (0, 0, 0, 0, 0))
        nev = bev + phev + fcev
        out.append(CategoryFigures(category.code, bev, phev, fcev, nev, all_new,
                                   _ratio(nev, all_new), category.share_aim, this_month))
    return tuple(out)


def _sum_categories(groups: list[tuple[CategoryFigures, ...]]) -> tuple[CategoryFigures, ...]:
    totals = {category.code: [0, 0, 0, 0, 0] for category in CATEGORIES}
    for group in groups:
        for c in group:
            total = totals[c.category]
            total[0] += c.bev
            total[1] += c.phev
            total[2] += c.fcev
            total[3] += c.all_new
            total[4] += c.this_month
    return _categories({code: tuple(total) for code, total in totals.items()})


def _completeness(win: Window, received: int, late: int, returned: int) -> Completeness:
    expected = len(win.due_months)
    return Completeness(expected=expected, received=received, on_time=received - late,
                        late=late, missing=expected - received, returned=returned)


def _city_figures(session: Session, basis: str, win: Window,
                  city_ids: Sequence[int] | None) -> list[CityFigures]:
    cities = _cities(session, city_ids)
    ids = [row[0] for row in cities]
    counted = _counted_by_city(session, basis, win, ids)
    received_by_city = _received_by_city(session, win, ids)
    out = []
    for city_id, code, name_zh, name_en, province, batch, target in cities:
        lines, cp, sw, vin_backed = counted.get(city_id, ({}, 0, 0, 0))
        by_category = _categories(lines)
        bev, phev, fcev = (sum(getattr(c, p) for c in by_category) for p in POWERTRAIN_CODES)
        nev = bev + phev + fcev
        all_new = sum(c.all_new for c in by_category)
        received, late, returned = received_by_city.get(city_id, (0, 0, 0))
        out.append(CityFigures(
            city_id=city_id, code=code, name_zh=name_zh, name_en=name_en,
            province_zh=province, batch=batch, target=target, bev=bev, phev=phev, fcev=fcev,
            nev=nev, all_new=all_new, this_month=sum(c.this_month for c in by_category),
            pct_of_target=_ratio(nev, target), nev_share=_ratio(nev, all_new),
            charging_points=cp, swap_stations=sw, charging_per_nev=_ratio(cp, nev),
            completeness=_completeness(win, received, late, returned),
            by_category=by_category, behind_time=win.is_behind(_ratio(nev, target)),
            vin_backed=vin_backed, vin_coverage=_ratio(vin_backed, nev)))
    return out


def project(months: Sequence[MonthFigures], win: Window, target: int | None) -> Projection:
    """Extrapolate the cumulative total to the window's end from the recent run-rate."""
    recent = list(months)[-RUN_RATE_MONTHS:]
    if not recent:
        return Projection(None, 0.0, 0, win.months_left, target, None)
    run_rate = sum(m.nev for m in recent) / len(recent)
    value = round(recent[-1].cumulative + run_rate * win.months_left)
    return Projection(value, run_rate, len(recent), win.months_left, target,
                      value >= target if target else None)


def national_progress(session: Session, basis: str = "reported", through: str | None = None,
                      *, today: date | None = None) -> Progress:
    """National progress on `basis` from the first month through `through` (included).

    through: 'YYYY-MM', default the last complete month; moved into the reporting window.
    today: the Beijing date that decides which months are due (default: now).
    Six queries, whatever the number of cities and months.
    """
    basis = parse_basis(basis)
    programme = get_programme(session)
    win = window(programme, through, today)
    cities = _city_figures(session, basis, win, None)
    by_month = _by_month(session, basis, win, None)
    by_category = _sum_categories([c.by_category for c in cities])
    bev, phev, fcev = (sum(getattr(c, p) for c in cities) for p in POWERTRAIN_CODES)
    nev = bev + phev + fcev
    all_new = sum(c.all_new for c in cities)
    charging = sum(c.charging_points for c in cities)
    target = programme.national_target
    completeness = Completeness()
    for c in cities:
        completeness = completeness + c.completeness
    return Progress(
        basis=basis, window=win, target=target, bev=bev, phev=phev, fcev=fcev, nev=nev,
        all_new=all_new, this_month=sum(c.this_month for c in cities),
        pct_of_target=nev / target,
        expected_by_now=win.expected_by(target, win.elapsed_months),
        projection=project(by_month, win, target), nev_share=_ratio(nev, all_new),
        charging_points=charging, swap_stations=sum(c.swap_stations for c in cities),
        charging_per_nev=_ratio(charging, nev), charging_aim=CHARGING_POINTS_PER_NEV_AIM,
        completeness=completeness, by_category=by_category, by_month=by_month,
        cities=tuple(cities),
        city_targets_total=sum(c.target or 0 for c in cities),
        cities_without_target=sum(1 for c in cities if c.target is None),
        vin_backed=sum(c.vin_backed for c in cities),
        vin_coverage=_ratio(sum(c.vin_backed for c in cities), nev))


def city_progress(session: Session, city: City, basis: str = "reported",
                  through: str | None = None, *, today: date | None = None) -> CityProgress:
    """One city's figures (as in its row of national_progress) and its month-by-month path.

    Works for an inactive city too (its own page stays readable).
    """
    basis = parse_basis(basis)
    programme = get_programme(session)
    win = window(programme, through, today)
    figures = _city_figures(session, basis, win, [city.id])[0]
    by_month = _by_month(session, basis, win, [city.id])
    return CityProgress(
        basis=basis, window=win, city=figures, by_month=by_month,
        projection=project(by_month, win, figures.target),
        expected_by_now=(win.expected_by(figures.target, win.elapsed_months)
                         if figures.target is not None else None))


def completeness_grid(session: Session, through: str | None = None, *,
                      today: date | None = None,
                      city_ids: Sequence[int] | None = None) -> Grid:
    """Every active city (or the cities given) × every month first..through, with states.

    States follow fleet.returns.month_state; the counts per row and column are tallied
    from the same states, so they match the cells shown.
    """
    programme = get_programme(session)
    win = window(programme, through, today)
    months = tuple(win.periods)
    dues = {p: due_date(programme, p) for p in months}
    stmt = (select(MonthlyReturn.city_id, MonthlyReturn.period, MonthlyReturn.status,
                   MonthlyReturn.received_late, MonthlyReturn.id)
            .join(City, City.id == MonthlyReturn.city_id)
            .where(MonthlyReturn.period >= win.first_period,
                   MonthlyReturn.period <= win.through))
    found = {(city_id, period): (status, late, rid) for city_id, period, status, late, rid
             in _rows(session, _only_cities(stmt, city_ids))}
    due_set = set(win.due_months)
    rows = []
    column_counts = [[0] * 6 for _ in months]
    column_states = [dict.fromkeys(GRID_STATES, 0) for _ in months]
    for city_id, code, name_zh, name_en, *_ in _cities(session, city_ids):
        cells, states = [], dict.fromkeys(GRID_STATES, 0)
        received = late = returned = 0
        for i, period in enumerate(months):
            status, received_late, rid = found.get((city_id, period), (None, False, None))
            state = month_state(status, period, dues[period], win.today)
            is_late = bool(received_late)
            cells.append(GridCell(period, state, is_late, rid, dues[period]))
            states[state] += 1
            column_states[i][state] += 1
            if period in due_set:
                r, lt, rt = status in COUNTED, is_late, state == "returned"
                received += r
                late += lt
                returned += rt
                column_counts[i][1] += r
                column_counts[i][2] += lt
                column_counts[i][3] += rt
                column_counts[i][0] += 1
        rows.append(GridRow(city_id, code, name_zh, name_en, tuple(cells),
                            _completeness(win, received, late, returned), states))
    columns = tuple(Completeness(expected=e, received=r, on_time=r - lt, late=lt,
                                 missing=e - r, returned=rt)
                    for e, r, lt, rt, *_ in column_counts)
    total = Completeness()
    for row in rows:
        total = total + row.counts
    return Grid(win, months, tuple(rows), columns, tuple(column_states), total)


def flat_rows(session: Session, basis: str = "reported", through: str | None = None, *,
              today: date | None = None,
              city_ids: Sequence[int] | None = None) -> Iterator[FlatRow]:
    """The flat data behind Progress: one row per city, month, category and powertrain.

    Only returns counted on `basis`, months first..through, active cities (or exactly
    `city_ids`, for one city's own files); ordered by month, city code, category order,
    powertrain order. Streamed, so it stays small in memory.
    """
    basis = parse_basis(basis)
    win = window(get_programme(session), through, today)
    stmt = (select(City.code, City.name_zh, City.name_en, MonthlyReturn.period,
                   MonthlyReturn.status, MonthlyReturn.received_late, ReturnLine.category,
                   func.sum(ReturnLine.bev), func.sum(ReturnLine.phev),
                   func.sum(ReturnLine.fcev))
            .join(ReturnLine, ReturnLine.return_id == MonthlyReturn.id)
            .join(City, City.id == MonthlyReturn.city_id)
            .where(_counted(basis, win))
            .group_by(City.code, City.name_zh, City.name_en, MonthlyReturn.period,
                      MonthlyReturn.status, MonthlyReturn.submitted_late,
                      ReturnLine.category, ReturnLine.position)
            .order_by(MonthlyReturn.period, City.code, ReturnLine.position)
            .execution_options(yield_per=2000))
    stmt = _only_cities(stmt, city_ids)
    for code, zh, en, period, status, late, category, *counts in _rows(session, stmt):
        for powertrain, count in zip(POWERTRAIN_CODES, counts, strict=True):
            yield FlatRow(code, zh, en, period, category, powertrain, int(count or 0),
                          status, bool(late))


# --- leaders, laggards, a month's late and missing cities -------------------------------------

@dataclass(frozen=True)
class CityStanding:
    """A city's place against its target: `pct_of_target` (fraction) and `gap`, its
    percentage of target minus the share of the window elapsed (fraction; above zero: ahead
    of the straight-line path)."""

    city: CityFigures
    pct_of_target: float
    gap: float


def leaders_and_laggards(progress: Progress, n: int = 5
                         ) -> tuple[tuple[CityStanding, ...], tuple[CityStanding, ...]]:
    """The `n` cities furthest ahead of their targets (highest % of target first) and the
    `n` furthest behind (lowest first), among the cities that have a target; a city is in
    one list only."""
    elapsed = progress.window.elapsed_share
    ranked = sorted((CityStanding(c, c.pct_of_target, c.pct_of_target - elapsed)
                     for c in progress.cities if c.pct_of_target is not None),
                    key=lambda s: (-s.pct_of_target, s.city.code))
    leaders = tuple(ranked[:n])
    laggards = tuple(sorted(ranked[n:], key=lambda s: (s.pct_of_target, s.city.code))[:n])
    return leaders, laggards


@dataclass(frozen=True)
class MonthCompliance:
    """A month's late and missing cities, from the completeness grid's cells.

    due: the month's due date has passed; late: received after the due date; missing: due,
    and nothing submitted or approved (late, a draft, or sent back and not yet corrected).
    """

    period: str
    due: bool
    late: tuple[GridRow, ...]
    missing: tuple[GridRow, ...]


def month_compliance(grid: Grid, period: str) -> MonthCompliance:
    """The late and missing cities of `period` (a month of the grid)."""
    index = grid.months.index(period)
    due = period in grid.window.due_months
    late = tuple(r for r in grid.rows if r.cells[index].submitted_late)
    missing = tuple(r for r in grid.rows if due and r.cells[index].state not in COUNTED)
    return MonthCompliance(period, due, late, missing)


def aim_sectors(progress: Progress) -> tuple[CategoryFigures, ...]:
    """The categories the pilot sets a NEV-share aim for (80 %), in the official order."""
    return tuple(c for c in progress.by_category if c.share_aim is not None)


# --- data version -------------------------------------------------------------------------------

# The data version as one text value ('generation:counter'), to be read alongside other
# columns (fleet.domain.accounts.signed_in reads it with the user, one query per request).
DATA_VERSION = (DataVersion.generation + ":" + cast(DataVersion.counter, String)).label(
    "data_version")


def data_version(session: Session) -> str:
    """The version of everything the figures depend on: one primary-key read.

    fleet.models moves the counter in the same transaction as every write of returns, lines,
    revisions, cities and the programme (not of users or audit events), so a committed
    change makes a new version at once; figures and charts are cached under it.
    """
    version = session.execute(select(DATA_VERSION).where(DataVersion.id == 1)).scalar()
    return version or "empty"


__all__ = [
    "BASES", "BASIS_STATUSES", "DATA_VERSION", "GRID_STATES", "RUN_RATE_MONTHS",
    "CategoryFigures", "CityFigures", "CityProgress", "CityStanding", "Completeness", "FlatRow",
    "Grid", "GridCell", "GridRow", "MonthCompliance", "MonthFigures", "Progress", "Projection",
    "Window", "aim_sectors", "city_progress", "completeness_grid", "data_version",
    "default_through", "flat_rows", "leaders_and_laggards", "month_compliance",
    "national_progress", "parse_basis", "project", "window",
]
