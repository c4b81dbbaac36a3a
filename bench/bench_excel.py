"""Benchmark of the Excel and CSV code: python bench/bench_excel.py

1. The national summary workbook for 25 cities × 24 months (figures + flat rows + workbook).
2. Parsing an uploaded return template (and the whole dry run with the rules).
3. Scaling of the flat data: synthetic 300 cities × 24 months × 24 cells (≈ 170,000 rows) and
   fractions of it, each in a fresh process, to show linear time and bounded peak memory.

Runs on a throw-away SQLite database in a temporary folder; prints the figures.
"""

import argparse
import io
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def timed(fn, repeat: int) -> float:
    """Median seconds of `repeat` runs."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def make_app(folder: str):
    os.environ["FLEET_INSTANCE_PATH"] = folder
    from fleet import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder}/bench.sqlite",
                       "SECRET_KEY": "bench", "TESTING": True})


def two_years_of_returns(session) -> None:
    """25 pilot cities × 24 months, every category and powertrain filled, mostly approved."""
    from fleet.domain.audit import Actor
    from fleet.domain.cities import load_pilot_cities
    from fleet.domain.periods import months_between
    from fleet.domain.programme import get_programme
    from fleet.domain.reference import CATEGORIES
    from fleet.models import City, MonthlyReturn, ReturnLine

    load_pilot_cities(session, Actor.system("bench"))
    programme = get_programme(session)
    programme.first_period, programme.last_period = "2025-01", "2026-12"
    rnd = random.Random(7)
    for city in session.scalars(City.__table__.select().with_only_columns(City.id)).all():
        session.get(City, city).nev_target = 28_000
        for period in months_between("2025-01", "2026-12"):
            ret = MonthlyReturn(city_id=city, period=period,
                                status=rnd.choice(("approved", "approved", "submitted")),
                                charging_points=rnd.randint(0, 900),
                                submitted_late=rnd.random() < 0.1)
            for position, category in enumerate(CATEGORIES):
                bev, phev, fcev = rnd.randint(0, 300), rnd.randint(0, 30), rnd.randint(0, 5)
                ret.lines.append(ReturnLine(category=category.code, position=position, bev=bev,
                                            phev=phev, fcev=fcev, all_new=bev + phev + fcev
                                            + rnd.randint(0, 40)))
            session.add(ret)
    session.commit()


def bench_summary(app) -> None:
    from datetime import date

    from fleet.domain import figures
    from fleet.domain.excel.flat import build_flat_csv
    from fleet.domain.excel.summary import build_summary_workbook
    from fleet.extensions import db

    today = date(2027, 1, 20)  # every month of the window is due
    with app.app_context():
        progress = figures.national_progress(db.session, "reported", "2026-12", today=today)
        flat = list(figures.flat_rows(db.session, "reported", "2026-12", today=today))

        def everything():
            p = figures.national_progress(db.session, "reported", "2026-12", today=today)
            build_summary_workbook(p, figures.flat_rows(db.session, "reported", "2026-12",
                                                        today=today))

        size = len(build_summary_workbook(progress, flat))
        print(f"summary workbook, 25 cities × 24 months ({len(flat):,} flat rows, "
              f"{size / 1024:,.0f} KiB)")
        print(f"  workbook only (figures given):      {timed(lambda: build_summary_workbook(progress, flat), 5) * 1000:7.0f} ms")  # noqa: E501
        print(f"  figures + flat rows + workbook:     {timed(everything, 5) * 1000:7.0f} ms")
        print(f"  flat CSV of the same rows:          {timed(lambda: build_flat_csv(flat), 5) * 1000:7.0f} ms")  # noqa: E501


def bench_upload(app) -> None:
    import openpyxl

    from fleet.domain.audit import Actor
    from fleet.domain.cities import city_by_code
    from fleet.domain.excel.template import build_return_template
    from fleet.domain.excel.upload import preview_upload, read_return_upload
    from fleet.extensions import db
    from fleet.models import User

    with app.app_context():
        city = city_by_code(db.session, "440300")
        template = build_return_template(city, "2026-06")
        wb = openpyxl.load_workbook(io.BytesIO(template))
        ws = wb.worksheets[0]
        for row in range(7, 15):
            ws.cell(row, 2, 40), ws.cell(row, 3, 4), ws.cell(row, 6, 50)
        ws["B18"], ws["A22"] = 300, "首批公交车投入运营"
        out = io.BytesIO()
        wb.save(out)
        data = out.getvalue()
        # The dry run needs a return the city may still edit.
        from fleet.domain.returns import find_return

        find_return(db.session, city, "2026-06").status = "draft"
        user = User(username="bench-city", role="city", city=city, password_hash="x")
        db.session.add(user)
        db.session.flush()
        actor = Actor.of(user)
        print(f"upload of a filled template ({len(data) / 1024:.0f} KiB)")
        print(f"  build the blank template:           {timed(lambda: build_return_template(city, '2026-06'), 20) * 1000:7.1f} ms")  # noqa: E501
        print(f"  parse (checks + openpyxl + cells):  {timed(lambda: read_return_upload(data, city, '2026-06'), 50) * 1000:7.1f} ms")  # noqa: E501

        def dry_run():
            preview_upload(db.session, actor, city, "2026-06", data, "x.xlsx")

        print(f"  whole dry run (parse + rules + db): {timed(dry_run, 20) * 1000:7.1f} ms")
        db.session.rollback()


def synthetic_rows(cities: int, months: int = 24):
    """FlatRows as fleet.domain.figures.flat_rows yields them, for `cities` made-up cities."""
    from fleet.domain.figures import FlatRow
    from fleet.domain.periods import add_months
    from fleet.domain.reference import CATEGORY_CODES, POWERTRAIN_CODES

    rnd = random.Random(1)
    for m in range(months):
        period = add_months("2025-01", m)
        for c in range(cities):
            code = f"{100000 + c:06d}"
            for category in CATEGORY_CODES:
                for powertrain in POWERTRAIN_CODES:
                    yield FlatRow(code, f"试点城市{c:03d}", f"Pilot city {c:03d}", period,
                                  category, powertrain, rnd.randint(0, 500),
                                  "approved", False)


def scale_child(app, cities: int, what: str) -> None:
    """One measurement in this (fresh) process: time and peak memory for `cities` cities."""
    from fleet.domain import figures
    from fleet.domain.excel.flat import write_flat_csv
    from fleet.domain.excel.summary import write_summary_workbook
    from fleet.extensions import db

    with app.app_context(), tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        if what == "xlsx":
            progress = figures.national_progress(db.session, "reported", "2026-12")
            write_summary_workbook(progress, synthetic_rows(cities), out)
        else:
            write_flat_csv(synthetic_rows(cities), out)
        seconds = time.perf_counter() - start
        size = out.tell()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(f"{cities * 24 * 24},{seconds:.3f},{peak:.0f},{size}")


def bench_scaling(folder: str) -> None:
    print("flat data scaling (synthetic cities × 24 months × 24 cells; fresh process each)")
    for what in ("xlsx", "csv"):
        for cities in (75, 150, 300):
            result = subprocess.run(
                [sys.executable, __file__, "--scale", str(cities), "--what", what,
                 "--folder", folder], capture_output=True, text=True, check=True)
            rows, seconds, peak, size = result.stdout.strip().splitlines()[-1].split(",")
            print(f"  {what:4s} {int(rows):>8,} rows: {float(seconds):6.2f} s, "
                  f"{float(seconds) / int(rows) * 1e6:5.1f} µs/row, peak RSS "
                  f"{float(peak) / 1024:5.0f} MiB, file {int(size) / 1024 / 1024:5.1f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int)
    parser.add_argument("--what", default="xlsx")
    parser.add_argument("--folder")
    args = parser.parse_args()
    if args.scale:
        scale_child(make_app(args.folder), args.scale, args.what)
        return
    with tempfile.TemporaryDirectory() as folder:
        app = make_app(folder)
        from fleet.extensions import db

        with app.app_context():
            db.create_all()
            two_years_of_returns(db.session)
        bench_summary(app)
        bench_upload(app)
        bench_scaling(folder)


if __name__ == "__main__":
    main()
