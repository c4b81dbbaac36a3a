"""`flask fleet roster import` and `flask fleet demo --vehicles`."""

from datetime import date

from sqlalchemy import func, select

from fleet.domain import figures, vehicles
from fleet.domain.vehicle_rules import is_valid_vin, plate_warnings
from fleet.extensions import db
from fleet.models import MonthlyReturn, ReturnLine, ReturnRevision, RosterConflict, Vehicle

from .returns_helpers import the_return, this_month
from .roster_helpers import csv_bytes, rows_for, wrong_check_digit, xlsx_bytes


def test_cli_import_dry_run_then_for_real(runner, setup, tmp_path):
    month = this_month()
    path = tmp_path / "roster.xlsx"
    path.write_bytes(xlsx_bytes(rows_for(month, {("bus", "bev"): 4, ("taxi", "fcev"): 1})))
    args = ["fleet", "roster", "import", str(path), "--city", "440300", "--period", month]
    result = runner.invoke(args=[*args, "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "5 rows, 5 accepted" in result.output and the_return() is None
    result = runner.invoke(args=args)
    assert result.exit_code == 0 and "holds 5 vehicles" in result.output
    ret = the_return()
    assert ret.roster_count == 5
    assert {line.category: line.fcev for line in ret.lines}["taxi"] == 1


def test_cli_import_refuses_everything_on_any_error(runner, setup, tmp_path):
    month = this_month()
    rows = rows_for(month, {("bus", "bev"): 3})
    rows[2][0] = wrong_check_digit(rows[2][0])
    path = tmp_path / "roster.csv"
    path.write_bytes(csv_bytes(rows, "gb18030"))
    result = runner.invoke(args=["fleet", "roster", "import", str(path), "--city", "440300",
                                 "--period", month])
    assert result.exit_code != 0 and "row 4" in result.output
    assert db.session.scalar(select(func.count(Vehicle.id))) == 0
    # Another city's claim of a stored VIN: refused, and recorded for the ministry.
    path.write_bytes(csv_bytes(rows[:2]))
    runner.invoke(args=["fleet", "roster", "import", str(path), "--city", "440300",
                        "--period", month])
    result = runner.invoke(args=["fleet", "roster", "import", str(path), "--city", "110000",
                                 "--period", month])
    assert result.exit_code != 0 and "已被其他城市计入" in result.output
    db.session.rollback()
    assert db.session.scalar(select(func.count(RosterConflict.id))) == 2


def test_demo_vehicles_match_the_demo_counts(runner, setup):
    result = runner.invoke(args=["fleet", "demo", "--through", "2025-04", "--vehicles"])
    assert result.exit_code == 0, result.output
    db.session.rollback()
    stored = db.session.scalar(select(func.count(Vehicle.id)))
    nev = db.session.scalar(select(func.sum(ReturnLine.bev + ReturnLine.phev + ReturnLine.fcev)))
    assert stored == nev > 0
    # Per return and category × powertrain, the roster gives the return's counts.
    ret = db.session.scalar(select(MonthlyReturn).where(MonthlyReturn.roster_count > 0))
    counts = vehicles.roster_counts(db.session, ret.id)
    for line in ret.lines:
        for p in ("bev", "phev", "fcev"):
            assert counts.get((line.category, p), 0) == getattr(line, p)
    sample = db.session.execute(select(Vehicle.vin, Vehicle.plate, Vehicle.powertrain)
                                .limit(500)).all()
    assert all(is_valid_vin(v) and not plate_warnings(p, pt) for v, p, pt in sample)
    # The digest kept with the latest revision is the roster's.
    revision = db.session.scalar(select(ReturnRevision).where(
        ReturnRevision.return_id == ret.id).order_by(ReturnRevision.number.desc()))
    if revision is not None:
        assert revision.roster_sha256 == vehicles.roster_digest(db.session, ret.id)
    progress = figures.national_progress(db.session, "reported", "2025-04",
                                         today=date(2025, 6, 1))
    assert progress.vin_backed == progress.nev and progress.vin_coverage == 1.0


def test_demo_clear_takes_the_demo_vehicles_too(runner, setup):
    assert runner.invoke(args=["fleet", "demo", "--through", "2025-02", "--vehicles"]
                         ).exit_code == 0
    result = runner.invoke(args=["fleet", "demo", "--clear"])
    assert result.exit_code == 0, result.output
    db.session.rollback()
    assert db.session.scalar(select(func.count(Vehicle.id))) == 0
