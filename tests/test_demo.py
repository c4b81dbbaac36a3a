"""`flask fleet demo`: plausible, deterministic demonstration returns, never over real ones."""

from datetime import date

import pytest
from sqlalchemy import func, select

from fleet.domain import demo, figures
from fleet.domain.audit import Actor
from fleet.domain.programme import get_programme
from fleet.extensions import db
from fleet.models import AuditEvent, City, MonthlyReturn, ReturnLine, ReturnRevision

from .factories import make_return


def count(model) -> int:
    return db.session.scalar(select(func.count(model.id)))


def test_demo_command_fills_the_window_for_every_city(runner, cities):
    result = runner.invoke(args=["fleet", "demo", "--through", "2025-12"])
    assert result.exit_code == 0, result.output
    assert "Demo data loaded through 2025-12 for 25 cities" in result.output
    assert get_programme(db.session).demo_data is True
    returns = db.session.scalars(select(MonthlyReturn)).all()
    by_status = {s: sum(r.status == s for r in returns) for s in
                 ("draft", "submitted", "returned", "approved")}
    missing = 25 * 12 - len(returns)
    assert missing > 0 and by_status["draft"] > 0 and by_status["returned"] > 0
    assert by_status["approved"] > 200
    assert sum(r.submitted_late for r in returns) > 0
    assert all(r.review_comment for r in returns if r.status == "returned")
    assert {r.city_id for r in returns} == set(db.session.scalars(select(City.id)))
    assert {r.period for r in returns} == {f"2025-{m:02d}" for m in range(1, 13)}
    # One line per category; every submission kept as a revision with the numbers.
    assert count(ReturnLine) == 8 * len(returns)
    sent = [r for r in returns if r.status != "draft"]
    revisions = db.session.scalars(select(ReturnRevision)).all()
    assert {v.return_id for v in revisions} == {r.id for r in sent}
    sample = next(v for v in revisions if v.return_id == sent[0].id and v.number == 1)
    assert set(sample.data) == {"lines", "charging_points", "swap_stations", "notes"}
    assert set(sample.data["lines"]["bus"]) == {"bev", "phev", "fcev", "all_new"}
    # Cities got demo targets adding up to the national target.
    assert db.session.scalar(select(func.sum(City.nev_target))) == 700_000
    audit = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "demo.load"))
    assert audit.username == "fleet demo" and audit.after["returns"] == len(returns)


def test_demo_numbers_are_plausible(app, cities):
    demo.load_demo(db.session, Actor.system("test"), through="2025-12", today=date(2026, 3, 1))
    db.session.commit()
    lines = db.session.execute(select(ReturnLine.category, ReturnLine.bev, ReturnLine.phev,
                                      ReturnLine.fcev, ReturnLine.all_new)).all()
    assert all(all_new >= bev + phev + fcev for _, bev, phev, fcev, all_new in lines)
    p = figures.national_progress(db.session, "reported", "2025-12", today=date(2026, 3, 1))
    by = {c.category: c.nev for c in p.by_category}
    top = sorted(by, key=by.get, reverse=True)[:3]
    assert set(top) == {"bus", "taxi", "logistics"}
    assert p.bev > 0.85 * p.nev and p.fcev > 0
    assert 0.6 <= p.charging_per_nev <= 1.2
    assert 0.3 < p.pct_of_target < 0.6  # a year into a two-year window
    # Recent months are less complete than older ones.
    grid = figures.completeness_grid(db.session, "2025-12", today=date(2026, 1, 5))
    assert grid.columns[0].missing <= grid.columns[-2].missing
    assert grid.column_states[-1]["due"] + grid.column_states[-1]["draft"] > 0


def test_same_seed_same_data(app, cities):
    actor = Actor.system("test")
    kwargs = dict(through="2025-06", today=date(2025, 8, 1))
    demo.load_demo(db.session, actor, seed=7, **kwargs)
    first = list(figures.flat_rows(db.session, "reported", "2025-06"))
    statuses = db.session.execute(select(MonthlyReturn.period, MonthlyReturn.status)
                                  .order_by(MonthlyReturn.city_id, MonthlyReturn.period)).all()
    demo.load_demo(db.session, actor, seed=7, replace=True, **kwargs)
    assert list(figures.flat_rows(db.session, "reported", "2025-06")) == first
    assert db.session.execute(select(MonthlyReturn.period, MonthlyReturn.status).order_by(
        MonthlyReturn.city_id, MonthlyReturn.period)).all() == statuses
    demo.load_demo(db.session, actor, seed=8, replace=True, **kwargs)
    assert list(figures.flat_rows(db.session, "reported", "2025-06")) != first


def test_running_twice_refuses_or_replaces(runner, cities):
    assert runner.invoke(args=["fleet", "demo", "--through", "2025-03"]).exit_code == 0
    before = count(MonthlyReturn)
    again = runner.invoke(args=["fleet", "demo", "--through", "2025-03"])
    assert again.exit_code != 0 and "--replace" in again.output
    assert count(MonthlyReturn) == before
    replaced = runner.invoke(args=["fleet", "demo", "--through", "2025-03", "--replace"])
    assert replaced.exit_code == 0, replaced.output
    assert f"Replaced the demo data loaded before ({before} returns deleted)" in replaced.output
    assert count(MonthlyReturn) == before


def test_never_over_real_returns(runner, cities):
    city = db.session.scalar(select(City).where(City.code == "440300"))
    make_return(city, "2025-01", "submitted", {"bus": {"bev": 3}})
    for args in (["fleet", "demo"], ["fleet", "demo", "--replace"]):
        result = runner.invoke(args=args)
        assert result.exit_code != 0 and "真实月报" in result.output
        # ...and says how to try the demo without touching this database, in one line.
        assert demo.SEPARATE_DATABASE_COMMAND in result.output.replace("\n", "")
    assert count(MonthlyReturn) == 1 and get_programme(db.session).demo_data is False
    assert runner.invoke(args=["fleet", "demo", "--clear"]).exit_code != 0


def _real_submission(code: str, period: str, bus_bev: int) -> int:
    """A city bureau's own return, saved and submitted through the workflow."""
    from fleet.domain import returns
    from fleet.domain.cities import city_by_code

    city = city_by_code(db.session, code)
    actor = Actor(None, "clerk", None, "city", city.id)
    existing = returns.find_return(db.session, city, period)
    ret, _ = returns.save_return(db.session, actor, city, period,
                                 {"bus_bev": bus_bev, "bus_all_new": bus_bev + 2},
                                 existing.version if existing else 0, submit=True)
    db.session.commit()
    return ret.id


def test_clear_and_replace_touch_only_demo_returns(runner, cities):
    """init, demo, a real return, demo --clear: the real one stays (it was deleted before)."""
    assert runner.invoke(args=["fleet", "demo", "--through", "2025-03"]).exit_code == 0
    demo_returns = count(MonthlyReturn)
    real_id = _real_submission("440300", "2025-06", 41)  # a month the demo left empty
    # A demo month that a city then saves through the app is real from then on.
    draft = db.session.scalar(select(MonthlyReturn).where(MonthlyReturn.status == "draft"))
    edited_id = _real_submission(draft.city.code, draft.period, 9)
    assert count(MonthlyReturn) == demo_returns + 1

    replaced = runner.invoke(args=["fleet", "demo", "--through", "2025-03", "--replace"])
    assert replaced.exit_code != 0 and demo.SEPARATE_DATABASE_COMMAND in (
        replaced.output.replace("\n", ""))
    assert count(MonthlyReturn) == demo_returns + 1

    version = figures.data_version(db.session)
    cleared = runner.invoke(args=["fleet", "demo", "--clear"])
    assert cleared.exit_code == 0, cleared.output
    db.session.rollback()
    assert figures.data_version(db.session) != version  # cached figures are not served
    assert f"{demo_returns - 1} returns deleted" in cleared.output
    db.session.expire_all()
    kept = db.session.scalars(select(MonthlyReturn).order_by(MonthlyReturn.id)).all()
    assert {r.id for r in kept} == {real_id, edited_id}
    real = db.session.get(MonthlyReturn, real_id)
    assert real.status == "submitted" and real.demo is False
    assert {line.category: line.bev for line in real.lines}["bus"] == 41
    assert count(ReturnRevision) == 2 and count(ReturnLine) == 16
    assert get_programme(db.session).demo_data is False  # the banner goes
    p = figures.national_progress(db.session, "reported", "2025-06")
    assert p.nev == 41 + 9


def test_the_readme_gives_the_separate_database_command():
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    assert demo.SEPARATE_DATABASE_COMMAND in readme


def test_clear_removes_the_demo_and_the_banner(runner, cities):
    runner.invoke(args=["fleet", "demo", "--through", "2025-02"])
    result = runner.invoke(args=["fleet", "demo", "--clear"])
    assert result.exit_code == 0 and "returns deleted" in result.output
    assert count(MonthlyReturn) == 0 and count(ReturnRevision) == 0
    assert get_programme(db.session).demo_data is False


@pytest.mark.parametrize("role", ["ministry1", "viewer1"])
def test_every_view_shows_the_demo(client, auth, users, role, app):
    demo.load_demo(db.session, Actor.system("test"))
    db.session.commit()
    auth.login(role)
    dashboard = client.get("/progress/").get_data(as_text=True)
    assert "当前载入的是演示数据" in dashboard
    p = figures.national_progress(db.session)
    assert p.nev > 0 and f'id="kpi-cumulative">{p.nev:,}<' in dashboard
    assert client.get("/progress/grid").status_code == 200
    assert client.get("/progress/cities/440300").status_code == 200
    for kind in ("national", "monthly", "cities"):
        assert client.get(f"/progress/charts/{kind}.png").status_code == 200
