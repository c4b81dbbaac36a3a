"""fleet.domain.figures against numbers worked out by hand on the small fixture described in
tests/progress_helpers.py, with today = 2025-04-20 (all three months past their due date)."""

from datetime import date

import pytest

from fleet.domain import figures
from fleet.extensions import db

from .factories import make_return
from .progress_helpers import make_progress_fixture

TODAY = date(2025, 4, 20)


@pytest.fixture
def fixture(app):
    return make_progress_fixture()


def national(basis, through="2025-03", today=TODAY):
    return figures.national_progress(db.session, basis, through, today=today)


def test_reported_national_headline(fixture):
    p = national("reported")
    assert (p.bev, p.phev, p.fcev, p.nev) == (94, 12, 7, 113)
    assert p.all_new == 134
    assert p.target == 700_000 and p.pct_of_target == pytest.approx(113 / 700_000)
    assert p.this_month == 12  # March: Beijing's approved return only
    assert p.window.elapsed_months == 3 and p.window.window_months == 24
    assert p.window.elapsed_share == pytest.approx(0.125)
    assert p.expected_by_now == 87_500
    assert [(m.period, m.nev, m.cumulative) for m in p.by_month] == [
        ("2025-01", 82, 82), ("2025-02", 19, 101), ("2025-03", 12, 113)]
    # 113 + (82 + 19 + 12) / 3 × 21 months left = 113 + 791
    assert p.projection.value == 904 and p.projection.months_left == 21
    assert p.projection.run_rate == pytest.approx(113 / 3)
    assert p.on_track is False
    assert (p.charging_points, p.swap_stations) == (93, 1)
    assert p.charging_per_nev == pytest.approx(93 / 113)
    assert p.city_targets_total == 3000 and p.cities_without_target == 1


def test_verified_counts_only_approved_returns(fixture):
    p = national("verified")
    assert (p.bev, p.phev, p.fcev, p.nev) == (41, 2, 5, 48)
    assert [m.nev for m in p.by_month] == [32, 4, 12]
    assert p.projection.value == 48 + 16 * 21
    assert p.charging_points == 33
    sz = p.city("440300")
    assert (sz.nev, sz.all_new, sz.pct_of_target) == (32, 35, pytest.approx(0.032))


def test_cities_on_both_bases(fixture):
    p = national("reported")
    assert [c.code for c in p.cities] == ["110000", "320200", "440300"]  # Tianjin inactive
    sz, bj, wx = p.city("440300"), p.city("110000"), p.city("320200")
    assert (sz.bev, sz.phev, sz.fcev, sz.nev, sz.all_new) == (43, 2, 2, 47, 52)
    assert sz.pct_of_target == pytest.approx(0.047) and sz.this_month == 0
    assert sz.nev_share == pytest.approx(47 / 52)
    assert (sz.charging_points, sz.swap_stations) == (40, 1)
    assert (bj.nev, bj.this_month, bj.all_new) == (62, 12, 72)
    assert bj.pct_of_target == pytest.approx(0.031)
    assert (wx.nev, wx.target, wx.pct_of_target) == (4, None, None)
    # The national figures are the sum of the rows shown.
    assert sum(c.nev for c in p.cities) == p.nev
    assert sum(c.nev for c in p.by_category) == p.nev


def test_categories_and_the_80_percent_aim(fixture):
    by = {c.category: c for c in national("reported").by_category}
    assert [c for c in by] == ["official", "bus", "sanitation", "taxi", "postal",
                               "logistics", "airport", "heavy_truck"]
    assert (by["bus"].bev, by["bus"].phev, by["bus"].nev, by["bus"].all_new) == (15, 2, 17, 20)
    assert by["bus"].share == pytest.approx(0.85) and by["bus"].meets_aim is True
    assert (by["taxi"].nev, by["taxi"].all_new) == (70, 80)
    assert by["logistics"].share == pytest.approx(10 / 12)
    assert by["postal"].share == pytest.approx(0.4) and by["postal"].meets_aim is False
    assert by["heavy_truck"].fcev == 5 and by["heavy_truck"].share_aim is None
    assert by["heavy_truck"].meets_aim is None
    assert by["official"].share is None  # nothing deployed: no share, not 0 %
    assert by["sanitation"].this_month == 7


def test_completeness_and_timeliness(fixture):
    p = national("reported")
    sz, bj, wx = (p.city(code).completeness for code in ("440300", "110000", "320200"))
    # Shenzhen: Jan on time, Feb late, Mar sent back (missing).
    assert (sz.expected, sz.received, sz.on_time, sz.late, sz.missing, sz.returned) == (
        3, 2, 1, 1, 1, 1)
    # Beijing: Jan on time, Feb missing, Mar approved but late.
    assert (bj.received, bj.on_time, bj.late, bj.missing, bj.returned) == (2, 1, 1, 1, 0)
    # Wuxi: a January draft and no March return are missing.
    assert (wx.received, wx.on_time, wx.late, wx.missing) == (1, 1, 0, 2)
    total = p.completeness
    assert (total.expected, total.received, total.on_time, total.late, total.missing) == (
        9, 5, 3, 2, 4)
    assert total.completeness == pytest.approx(5 / 9)
    assert total.timeliness == pytest.approx(3 / 9)
    # Completeness does not depend on the basis.
    assert national("verified").completeness == total


def test_months_not_yet_due_are_not_expected(fixture):
    # On 5 April, March is over but not due until the 10th.
    p = national("reported", today=date(2025, 4, 5))
    assert p.window.due_months == ("2025-01", "2025-02")
    assert p.city("110000").completeness.expected == 2
    assert p.completeness.missing == 2  # Beijing February, Wuxi January (a draft)


def test_grid_states_and_counts(fixture):
    grid = figures.completeness_grid(db.session, "2025-03", today=TODAY)
    assert grid.months == ("2025-01", "2025-02", "2025-03")
    states = {row.code: [(c.state, c.submitted_late) for c in row.cells] for row in grid.rows}
    assert states == {
        "440300": [("approved", False), ("submitted", True), ("returned", False)],
        "110000": [("submitted", False), ("late", False), ("approved", True)],
        "320200": [("late", False), ("approved", False), ("late", False)],
    }
    # The grid's tallies and the dashboard's SQL counts agree.
    p = national("reported")
    for row in grid.rows:
        assert row.counts == p.city(row.code).completeness
    assert grid.total == p.completeness
    assert [(c.expected, c.received, c.late, c.missing) for c in grid.columns] == [
        (3, 2, 0, 1), (3, 2, 1, 1), (3, 1, 1, 2)]


def test_grid_before_the_due_date(fixture):
    make_return(fixture["wx"], "2025-04", "draft")
    grid = figures.completeness_grid(db.session, "2025-04", today=date(2025, 4, 5))
    states = {row.code: [c.state for c in row.cells] for row in grid.rows}
    # March is over but due only on 10 April; April is still running.
    assert states["320200"] == ["late", "approved", "due", "draft"]
    assert states["440300"][2:] == ["returned", "not_due"]
    assert grid.rows[0].counts.expected == 2  # January and February only


def test_city_progress_is_the_same_row_as_nationally(fixture):
    cp = figures.city_progress(db.session, fixture["sz"], "reported", "2025-03", today=TODAY)
    assert cp.city == national("reported").city("440300")
    assert [(m.nev, m.cumulative) for m in cp.by_month] == [(32, 32), (15, 47), (0, 47)]
    # 47 + (32 + 15 + 0) / 3 × 21
    assert cp.projection.value == 47 + round(47 / 3 * 21)
    assert cp.projection.on_track is False and cp.expected_by_now == 125


def test_inactive_city_has_its_own_figures(fixture):
    cp = figures.city_progress(db.session, fixture["tj"], "verified", "2025-03", today=TODAY)
    assert cp.city.nev == 1000


def test_through_is_the_last_month_included(fixture):
    p = national("reported", through="2025-02")
    assert p.nev == 101 and p.this_month == 19
    assert p.city("110000").completeness.expected == 2
    assert len(p.by_month) == 2
    # Outside the window: moved to its nearest end.
    assert national("reported", through="2024-06").window.through == "2025-01"
    assert national("reported", through="2031-01").window.through == "2026-12"
    # Default: the last complete month.
    assert figures.national_progress(db.session, today=date(2025, 3, 15)).through == "2025-02"


def test_bad_basis_is_refused(fixture):
    with pytest.raises(ValueError):
        figures.national_progress(db.session, "estimated")


def test_flat_rows_are_the_same_numbers(fixture):
    rows = list(figures.flat_rows(db.session, "reported", "2025-03", today=TODAY))
    assert len(rows) == 5 * 8 * 3  # five counted returns × categories × powertrains
    assert sum(r.count for r in rows) == 113
    row = next(r for r in rows if (r.city_code, r.period, r.category, r.powertrain)
               == ("440300", "2025-01", "bus", "phev"))
    assert (row.count, row.status, row.submitted_late, row.city_name_en) == (
        2, "approved", False, "Shenzhen")
    assert {r.city_code for r in rows} == {"440300", "110000", "320200"}
    assert rows[0].period == "2025-01" and rows[-1].period == "2025-03"
    verified = list(figures.flat_rows(db.session, "verified", "2025-03", today=TODAY))
    assert sum(r.count for r in verified) == 48


def test_data_version_moves_with_the_data(fixture):
    first = figures.data_version(db.session)
    assert figures.data_version(db.session) == first
    ret = make_return(fixture["wx"], "2025-03", "submitted", {"bus": {"bev": 1}})
    second = figures.data_version(db.session)
    assert second != first
    ret.status = "approved"
    db.session.commit()
    third = figures.data_version(db.session)
    assert third != second
    fixture["wx"].nev_target = 500
    db.session.commit()
    assert figures.data_version(db.session) != third


def test_data_version_is_one_primary_key_read_and_ignores_sign_ins(fixture):
    """The version moves with the figures' data only: a sign-in or an audit event leaves
    the caches alone; reading it is one query, whatever the number of returns."""
    from sqlalchemy import event

    from fleet.domain.audit import Actor, record_event

    from .factories import make_user

    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        first = figures.data_version(db.session)
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    assert len(statements) == 1 and "data_version" in statements[0]
    user = make_user("reader", "ministry")
    first = figures.data_version(db.session)  # (a new account is no figure either)
    user.failed_logins = (user.failed_logins or 0) + 1
    record_event(db.session, Actor.system("test"), "user.login", "user", user.id)
    db.session.commit()
    assert figures.data_version(db.session) == first


def test_bulk_writes_move_the_data_version(app):
    """The demo's multi-row INSERTs (no ORM objects) move the version too."""
    from fleet.domain import demo
    from fleet.domain.audit import Actor

    from .factories import load_cities

    load_cities()
    before = figures.data_version(db.session)
    demo.load_demo(db.session, Actor.system("test"), today=date(2025, 6, 20))
    db.session.commit()
    after = figures.data_version(db.session)
    assert after != before
    demo.clear_demo(db.session, Actor.system("test"))
    db.session.commit()
    assert figures.data_version(db.session) not in (before, after)


def test_empty_database(app):
    p = figures.national_progress(db.session, "reported", "2025-03", today=TODAY)
    assert p.nev == 0 and p.cities == () and p.projection.value == 0
    assert p.completeness.expected == 0 and p.completeness.completeness is None
