"""Benchmark of the progress pages, in-process with the Flask test client.

    python bench/bench_progress.py              # 25 cities × 24 months, then 300 × 24
    python bench/bench_progress.py --requests 50 --skip-300
    python bench/bench_progress.py --db postgresql   # on BENCH_POSTGRES_URL (emptied first)

Builds a temporary SQLite database (or empties the PostgreSQL database of BENCH_POSTGRES_URL,
default bench_speed_progress on 127.0.0.1, created if missing) with the demo data (every
month of the 2025–2026 window),
signs in as the ministry and times many requests of each page; prints the median and the
90th percentile in milliseconds against the targets of issue 4. "cached" means the figures
(or the chart) are already in the per-version cache; "cold" empties the caches before each
request, so it measures the SQL aggregation and the rendering every time.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PASSWORD = "Bench-Passw0rd!"
THROUGH = "2026-12"
PG_URL = os.environ.get("BENCH_POSTGRES_URL",
                        "postgresql+psycopg://postgres@127.0.0.1:5432/bench_speed_progress")


def database(kind: str, tmp: str) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp}/bench.sqlite"
    import psycopg

    base, name = PG_URL.replace("postgresql+psycopg://", "postgresql://").rsplit("/", 1)
    with psycopg.connect(base + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return PG_URL


def build(tmp: str, cities: int, db_kind: str = "sqlite"):
    from werkzeug.security import generate_password_hash

    from fleet import create_app
    from fleet.domain import demo
    from fleet.domain.audit import Actor
    from fleet.domain.cities import load_pilot_cities
    from fleet.extensions import db
    from fleet.models import City, User

    os.environ["FLEET_INSTANCE_PATH"] = tmp
    app = create_app({"SQLALCHEMY_DATABASE_URI": database(db_kind, tmp),
                      "SECRET_KEY": "bench", "WTF_CSRF_ENABLED": False})
    with app.app_context():
        db.create_all()
        actor = Actor.system("bench")
        load_pilot_cities(db.session, actor)
        for i in range(cities - 25):
            db.session.add(City(code=f"9{i:05d}", name_zh=f"示范市{i}", name_en=f"Demo City {i}",
                                province_zh="示范省"))
        # As seen on 1 Feb 2027: every month of the window is complete.
        result = demo.load_demo(db.session, actor, through=THROUGH, today=date(2027, 2, 1))
        db.session.add(User(username="bench", role="ministry",
                            password_hash=generate_password_hash(PASSWORD)))
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            # The planner's statistics, as autovacuum gathers them within a minute of a load.
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("ANALYZE")
    client = app.test_client()
    client.post("/login", data={"username": "bench", "password": PASSWORD})
    return app, client, result


def timed(client, url, n, before=None, headers=None, status=200) -> list[float]:
    times = []
    for _ in range(n):
        if before:
            before()
        start = time.perf_counter()
        response = client.get(url, headers=headers)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == status, (url, response.status_code)
    return times


def row(name, times, target=None) -> str:
    median = statistics.median(times)
    p90 = sorted(times)[int(0.9 * (len(times) - 1))]
    verdict = "" if target is None else ("ok" if median <= target else "OVER")
    limit = f"≤ {target:g}" if target is not None else ""
    return f"{name:<44} {len(times):>5} {median:>9.1f} {p90:>9.1f} {limit:>7}  {verdict}"


def run(cities: int, n: int, full: bool, db_kind: str = "sqlite") -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        app, client, result = build(tmp, cities, db_kind)
        caches = [app.extensions[name] for name in
                  ("fleet.figures_cache", "fleet.chart_cache", "fleet.page_cache")
                  if name in app.extensions]

        def cold():
            for cache in caches:
                cache.clear()

        q = f"?through={THROUGH}"
        pages = [("dashboard", f"/progress/{q}"), ("grid", f"/progress/grid{q}"),
                 ("city page", f"/progress/cities/440300{q}"),
                 ("progress API", f"/api/v1/progress{q}")]
        lines = [f"{cities} cities × 24 months: {result.returns} returns, "
                 f"{result.returns * 8} lines",
                 f"{'request':<44} {'n':>5} {'median':>9} {'p90':>9} {'target':>7}",
                 "-" * 84]
        for name, url in pages:
            if not full and name != "dashboard":
                continue
            timed(client, url, 3)  # warm-up: compile templates and statements
            target = 30 if cities == 25 else 100 if name == "dashboard" else None
            lines.append(row(f"{name} (figures cached)", timed(client, url, n), target))
            lines.append(row(f"{name} (cold: figures computed)",
                             timed(client, url, max(n // 4, 5), before=cold), target))
        if full:
            chart = f"/progress/charts/national.png{q}"
            etag = client.get(chart).headers["ETag"]
            lines.append(row("chart, cached (200 with body)", timed(client, chart, n), 5))
            lines.append(row("chart, cached (304 If-None-Match)",
                             timed(client, chart, n, headers={"If-None-Match": etag},
                                   status=304), 5))
            for kind in ("national", "monthly", "cities"):
                for fmt in ("png", "svg"):
                    url = f"/progress/charts/{kind}.{fmt}{q}"
                    lines.append(row(f"chart {kind}.{fmt}, cold (rendered)",
                                     timed(client, url, 8, before=cold), 400))
        return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="requests per measurement")
    parser.add_argument("--skip-300", action="store_true", help="only the 25-city run")
    parser.add_argument("--only-300", action="store_true", help="only the 300-city run")
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args()
    output = [] if args.only_300 else run(25, args.requests, full=True, db_kind=args.db)
    if not args.skip_300:
        output += [""] + run(300, max(args.requests // 4, 20), full=False, db_kind=args.db)
    print("\n".join([f"Times in milliseconds, in-process (Flask test client, {args.db}).", ""]
                    + output))
    return 0


if __name__ == "__main__":
    sys.exit(main())
