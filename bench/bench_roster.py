"""Benchmark of the vehicle roster: python bench/bench_roster.py [--db sqlite|postgresql]

Each figure beside its floor, measured in the same run on the same data:

1. Importing a 100,000-row .xlsx roster (safety checks, parse, validate, de-duplicate against
   600,000 vehicles already stored, insert) against python-calamine alone reading the same
   file; the peak memory of the import; the SQL statements of a 10,000-row and a 100,000-row
   import (they must be the same number).
2. Exporting all 700,000 vehicles as CSV against a raw DB-API cursor fed to the csv module,
   and as .xlsx against xlsxwriter in constant-memory mode fed the same rows; peak memory.
3. The dashboard and the progress API with no vehicles and with 700,000 stored.

Each measured step runs in a fresh process, so its peak memory (ru_maxrss) is its own; the
baseline of a process that has only imported the app is printed too. SQLite runs in a
temporary folder; PostgreSQL in the database of BENCH_POSTGRES_URL (default: the bench_roster
database on 127.0.0.1, created if missing, emptied first) or of --postgres-url.
--only import (or exports, pages) runs that part alone, after the same seeding.
"""

import argparse
import csv
import io
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PERIOD = "2026-06"  # the month the roster is imported into
CITY = "440300"
PG_URL = os.environ.get("BENCH_POSTGRES_URL",
                        "postgresql+psycopg://postgres@127.0.0.1:5432/bench_roster")


def make_app(url: str, folder: str):
    os.environ["FLEET_INSTANCE_PATH"] = folder
    from fleet import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench",
                       "TESTING": True, "WTF_CSRF_ENABLED": False})


def peak_mib() -> float:
    """This process's peak resident memory. VmHWM, not ru_maxrss: Linux carries the parent's
    peak into ru_maxrss across fork and exec, and the parent here holds the seeded rows."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- data ---------------------------------------------------------------------------------------

def vin(n: int, prefix: str) -> str:
    from fleet.domain.vehicle_rules import vin_check_digit

    body = f"{prefix}{n:012d}"  # 5 + 12 characters; n < 10^8 keeps position 9 free
    return body[:8] + vin_check_digit(body) + body[9:]


def seed(app, stored: int) -> None:
    """25 cities × 24 months of submitted returns, `stored` vehicles spread over them."""
    from sqlalchemy import insert, select, text

    from fleet.domain.audit import Actor
    from fleet.domain.cities import load_pilot_cities
    from fleet.domain.periods import months_between
    from fleet.domain.programme import get_programme
    from fleet.domain.reference import CATEGORIES
    from fleet.extensions import db
    from fleet.models import City, MonthlyReturn, ReturnLine, Vehicle

    with app.app_context():
        db.drop_all()
        db.create_all()
        load_pilot_cities(db.session, Actor.system("bench"))
        programme = get_programme(db.session)
        programme.first_period, programme.last_period = "2025-01", "2026-12"
        cities = db.session.execute(select(City.id, City.code).order_by(City.code)).all()
        months = [m for m in months_between("2025-01", "2026-12") if m != PERIOD]
        rows = [dict(city_id=c, period=m, status="submitted", charging_points=0,
                     swap_stations=0, notes="", version=1, roster_count=0)
                for c, _ in cities for m in months]
        rows += [dict(city_id=c, period=PERIOD, status="draft", charging_points=0,
                      swap_stations=0, notes="", version=1) for c, _ in cities]
        db.session.execute(insert(MonthlyReturn), rows)
        every = db.session.execute(select(MonthlyReturn.id, MonthlyReturn.city_id,
                                          MonthlyReturn.period)).all()
        db.session.execute(insert(ReturnLine), [
            dict(return_id=r, category=c.code, position=i, bev=0, phev=0, fcev=0, all_new=0)
            for r, _, _ in every for i, c in enumerate(CATEGORIES)])
        returns = [r for r in every if r[2] != PERIOD]
        per = stored // len(returns)
        rnd = random.Random(3)
        n = 0
        batch = []
        for rid, city_id, period in returns:
            for _ in range(per):
                batch.append(dict(vin=vin(n, "LSTAR"), return_id=rid, city_id=city_id,
                                  period=period, category=rnd.choice(("bus", "taxi")),
                                  powertrain="bev", in_service_date=date.fromisoformat(
                                      period + "-10"), plate="", operator="运营公司",
                                  model="M1", maker="厂家", created_at=datetime(2026, 1, 1)))
                n += 1
            if len(batch) >= 50_000:
                db.session.execute(insert(Vehicle), batch)
                batch = []
        if batch:
            db.session.execute(insert(Vehicle), batch)
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            # As autovacuum would have by the time a city uploads: planner statistics.
            db.session.execute(text("ANALYZE"))
            db.session.commit()


def roster_xlsx(rows: int, path: Path) -> None:
    """A filled roster as Excel would save it (shared strings), written by xlsxwriter."""
    import xlsxwriter

    from fleet.domain.vehicle_rules import HEADERS_ZH

    book = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    sheet = book.add_worksheet("车辆明细")
    dates = book.add_format({"num_format": "yyyy-mm-dd"})
    sheet.write_row(0, 0, HEADERS_ZH)
    categories = ("城市公交", "出租(含网约车)", "城市物流配送", "环卫")
    for i in range(rows):
        bev = i % 5 != 0
        powertrain = "纯电动" if bev else "插电式混合动力(含增程式)"
        sheet.write_row(i + 1, 0, [vin(i, "LNEWR"), f"粤B{i % 100000:05d}{'D' if bev else 'F'}",
                                   categories[i % 4], powertrain])
        sheet.write_datetime(i + 1, 4, date.fromisoformat(f"{PERIOD}-{i % 28 + 1:02d}"), dates)
        sheet.write_row(i + 1, 5, ["深圳巴士集团股份有限公司", "BYD6122LGEV", "比亚迪"])
    book.close()


# --- steps, each in its own process -------------------------------------------------------------

def step_calamine(args) -> dict:
    from python_calamine import CalamineWorkbook

    data = Path(args.file).read_bytes()
    start = time.perf_counter()
    rows = list(CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0)
                .iter_rows())
    return {"seconds": time.perf_counter() - start, "rows": len(rows) - 1}


def step_import(args) -> dict:
    from sqlalchemy import event

    from fleet.domain import roster
    from fleet.domain.audit import Actor
    from fleet.domain.cities import city_by_code
    from fleet.extensions import db

    app = make_app(args.url, args.folder)
    data = Path(args.file).read_bytes()
    with app.app_context():
        city = city_by_code(db.session, CITY)
        statements, waited = [], []
        event.listen(db.engine, "before_cursor_execute", lambda *a: statements.append(
            time.perf_counter()))
        event.listen(db.engine, "after_cursor_execute", lambda *a: waited.append(
            time.perf_counter() - statements[-1]))
        write = roster._bulk_insert  # the rows' COPY or executemany, past SQLAlchemy's events

        def timed_write(*a, **k):
            started = time.perf_counter()
            try:
                return write(*a, **k)
            finally:
                waited.append(time.perf_counter() - started)

        roster._bulk_insert = timed_write
        start = time.perf_counter()
        file = roster.read_roster(data, Path(args.file).name)
        check, _ = roster.replace_roster(db.session, Actor.system("bench"), city, PERIOD, file)
        committing = time.perf_counter()
        db.session.commit()
        waited.append(time.perf_counter() - committing)
        seconds = time.perf_counter() - start
        return {"seconds": seconds, "rows": len(check.vehicles), "statements": len(statements),
                "database": sum(waited)}


def _export_target(app):
    from fleet.domain import vehicles
    from fleet.extensions import db

    return vehicles.export_rows(db.session, vehicles.ExportFilter())


class Null(io.RawIOBase):
    """Counts bytes, keeps nothing (the download's socket)."""

    def __init__(self):
        super().__init__()
        self.n = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.n += len(data)
        return len(data)


def step_csv(args) -> dict:
    from fleet.domain.excel.roster_files import export_csv

    app = make_app(args.url, args.folder)
    with app.app_context():
        sink, start, first = Null(), time.perf_counter(), None
        for chunk in export_csv(_export_target(app)):
            first = first or time.perf_counter() - start
            sink.write(chunk)
        return {"seconds": time.perf_counter() - start, "first_byte": first, "bytes": sink.n}


def step_raw_csv(args) -> dict:
    """The floor: the same SELECT on a raw DB-API cursor, rows straight into csv.writer."""
    from fleet.extensions import db

    app = make_app(args.url, args.folder)
    sql = ("SELECT c.code, c.name_zh, c.name_en, v.period, v.vin, v.plate, v.category, "
           "v.powertrain, v.in_service_date, v.operator, v.model, v.maker FROM vehicle v "
           "JOIN city c ON c.id = v.city_id ORDER BY c.code, v.period, v.vin")
    with app.app_context():
        raw = db.engine.raw_connection()
        start = time.perf_counter()
        cursor = raw.cursor(name="bench") if db.engine.dialect.name == "postgresql" else (
            raw.cursor())
        cursor.execute(sql)
        text = io.TextIOWrapper(Null(), encoding="utf-8", newline="")
        writer = csv.writer(text)
        while True:
            rows = cursor.fetchmany(5000)
            if not rows:
                break
            writer.writerows(rows)
        text.flush()
        seconds = time.perf_counter() - start
        raw.close()
        return {"seconds": seconds}


def step_xlsx(args) -> dict:
    from fleet.domain.excel.roster_files import export_xlsx

    app = make_app(args.url, args.folder)
    with app.app_context():
        sink, start, first = Null(), time.perf_counter(), None
        for chunk in export_xlsx(_export_target(app)):
            first = first or time.perf_counter() - start
            sink.write(chunk)
        return {"seconds": time.perf_counter() - start, "first_byte": first, "bytes": sink.n}


def step_xlsxwriter(args) -> dict:
    """The floor: xlsxwriter in constant-memory mode, fed the same rows."""
    import xlsxwriter

    from fleet.domain.excel.roster_files import export_headers, export_values

    app = make_app(args.url, args.folder)
    with app.app_context():
        out = Path(args.folder) / "xlsxwriter.xlsx"
        start = time.perf_counter()
        book = xlsxwriter.Workbook(str(out), {"constant_memory": True})
        sheet = book.add_worksheet("车辆明细")
        dates = book.add_format({"num_format": "yyyy-mm-dd"})
        sheet.write_row(0, 0, export_headers("zh"))
        for i, values in enumerate(export_values(_export_target(app), "zh"), 1):
            sheet.write_row(i, 0, values[:7])
            sheet.write_datetime(i, 7, values[7], dates)
            sheet.write_row(i, 8, values[8:])
        book.close()
        return {"seconds": time.perf_counter() - start, "bytes": out.stat().st_size}


def step_pages(args) -> dict:
    """Median time of the dashboard and the progress API, the figures recomputed and the page
    rendered each time (the figures' and the page cache cleared)."""
    import statistics

    from fleet.extensions import db
    from fleet.models import User

    app = make_app(args.url, args.folder)
    with app.app_context():
        if db.session.query(User).filter_by(username="bench").first() is None:
            from werkzeug.security import generate_password_hash

            db.session.add(User(username="bench", role="ministry",
                                password_hash=generate_password_hash("Bench-Passw0rd!")))
            db.session.commit()
    client = app.test_client()
    client.post("/login", data={"username": "bench", "password": "Bench-Passw0rd!"})
    out = {}
    for url in ("/progress/?through=2026-06", "/api/v1/progress?through=2026-06"):
        times = []
        for _ in range(7):
            app.extensions["fleet.figures_cache"].clear()
            app.extensions["fleet.page_cache"].clear()
            start = time.perf_counter()
            assert client.get(url).status_code == 200
            times.append(time.perf_counter() - start)
        out[url] = statistics.median(times)
    return out


def step_baseline(args) -> dict:
    make_app(args.url, args.folder)
    return {}


STEPS = {"calamine": step_calamine, "import": step_import, "csv": step_csv,
         "raw_csv": step_raw_csv, "xlsx": step_xlsx, "xlsxwriter": step_xlsxwriter,
         "pages": step_pages, "baseline": step_baseline}


def run_step(name: str, url: str, folder: str, file: str = "") -> dict:
    out = subprocess.run([sys.executable, __file__, "--step", name, "--url", url,
                          "--folder", folder, "--file", file],
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"step {name} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# --- the run ------------------------------------------------------------------------------------

def database(kind: str, folder: str, pg_url: str = PG_URL) -> str:
    if kind == "sqlite":
        return f"sqlite:///{folder}/bench.sqlite"
    from sqlalchemy import create_engine, text

    admin = create_engine(pg_url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    name = pg_url.rsplit("/", 1)[1]
    with admin.connect() as conn:
        if not conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                            {"n": name}).scalar():
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return pg_url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--stored", type=int, default=600_000)
    parser.add_argument("--step")
    parser.add_argument("--url")
    parser.add_argument("--folder")
    parser.add_argument("--file", default="")
    parser.add_argument("--postgres-url", default=PG_URL,
                        help="the PostgreSQL database to use (emptied first)")
    parser.add_argument("--only", choices=("import", "exports", "pages"),
                        help="run this part alone (after the same seeding)")
    args = parser.parse_args()
    if args.step:
        result = STEPS[args.step](args)
        result["peak_mib"] = peak_mib()
        print(json.dumps(result))
        return
    with tempfile.TemporaryDirectory() as folder:
        url = database(args.db, folder, args.postgres_url)
        print(f"Roster benchmark on {args.db}: {args.rows:,} rows imported onto "
              f"{args.stored:,} stored (a busy shared machine: read the ratios).")
        app = make_app(url, folder)
        seed(app, 0)
        empty = run_step("pages", url, folder) if args.only in (None, "pages") else {}
        t = time.perf_counter()
        seed(app, args.stored)
        print(f"  seeded {args.stored:,} vehicles in {time.perf_counter() - t:.1f} s")
        small, big = Path(folder) / "small.xlsx", Path(folder) / "roster.xlsx"
        roster_xlsx(args.rows // 10, small)
        roster_xlsx(args.rows, big)
        rows = import_part(url, folder, small, big) if args.only in (None, "import") else (
            args.rows)
        total = args.stored // 575 * 575 + rows
        if args.only in (None, "exports"):
            export_part(url, folder, total)
        if args.only in (None, "pages"):
            full = run_step("pages", url, folder)
            for page in empty:
                if page == "peak_mib":
                    continue
                print(f"  {page}: {empty[page] * 1000:.0f} ms with no vehicles, "
                      f"{full[page] * 1000:.0f} ms with {total:,}")


def import_part(url: str, folder: str, small: Path, big: Path) -> int:
    """The import beside its floor, each step twice in turn (the floor first): the best of
    each, on a machine shared with other work. Each import replaces the same month's roster,
    the small one first, as a city would upload a file again."""
    base = run_step("baseline", url, folder)
    floors, results, first = [], [], None
    for _ in range(2):
        floors.append(run_step("calamine", url, folder, str(big)))
        first = run_step("import", url, folder, str(small))
        results.append(run_step("import", url, folder, str(big)))
    floor = min(floors, key=lambda r: r["seconds"])
    result = min(results, key=lambda r: r["seconds"])
    print(f"  file: {big.stat().st_size / 2**20:.1f} MiB; process baseline "
          f"{base['peak_mib']:.0f} MiB")
    print(f"  import {result['rows']:,} rows: {result['seconds']:.2f} s (runs: "
          f"{_seconds(results)}); calamine alone {floor['seconds']:.2f} s (runs: "
          f"{_seconds(floors)}); ratio {result['seconds'] / floor['seconds']:.2f} (aim ≤ 2); "
          f"peak {max(r['peak_mib'] for r in results):.0f} MiB (aim < 300)")
    print(f"  of which waiting for the database (every statement, the rows' COPY or executemany with its text, the commit): "
          f"{result['database']:.2f} s = {result['database'] / floor['seconds']:.2f}× "
          f"calamine; the rest {(result['seconds'] - result['database']):.2f} s = "
          f"{(result['seconds'] - result['database']) / floor['seconds']:.2f}× calamine")
    print(f"  SQL statements (besides the one COPY or executemany of the rows): "
          f"{first['statements']} for {first['rows']:,} rows, "
          f"{result['statements']} for {result['rows']:,} rows")
    return result["rows"]


def _seconds(runs: list[dict]) -> str:
    return ", ".join(f"{r['seconds']:.2f}" for r in runs)


def export_part(url: str, folder: str, total: int) -> None:
    raw = run_step("raw_csv", url, folder)
    ours = run_step("csv", url, folder)
    print(f"  CSV export of {total:,} rows: {ours['seconds']:.2f} s (first bytes after "
          f"{ours['first_byte']:.3f} s); raw cursor + csv {raw['seconds']:.2f} s; ratio "
          f"{ours['seconds'] / raw['seconds']:.2f} (aim ≤ 2); peak {ours['peak_mib']:.0f} "
          f"MiB (raw {raw['peak_mib']:.0f})")
    xlsxwriter = run_step("xlsxwriter", url, folder)
    xlsx = run_step("xlsx", url, folder)
    print(f"  .xlsx export: {xlsx['seconds']:.2f} s (first bytes after "
          f"{xlsx['first_byte']:.3f} s); xlsxwriter constant-memory "
          f"{xlsxwriter['seconds']:.2f} s; ratio "
          f"{xlsx['seconds'] / xlsxwriter['seconds']:.2f} (aim ≤ 1); peak "
          f"{xlsx['peak_mib']:.0f} MiB (xlsxwriter {xlsxwriter['peak_mib']:.0f})")


if __name__ == "__main__":
    main()
