"""Benchmark of the machine API against its floors, measured in the same run.

    python bench/bench_api.py [--requests 200]

A temporary SQLite database with the demo data (25 cities, the whole window up to the last
complete month), a Shenzhen token. Two ratios, each against a floor measured alongside:

* save: PUT /api/v1/returns/440300/<month> through the Flask test client (token check,
  rate limit, JSON validation, problem/ETag handling, serialisation) vs the same save through
  fleet.domain.returns.save_return called in-process and committed. Goal: ≤ 1.5×.
* read: GET /api/v1/returns/440300/<month> vs GET /api/v1/progress?city=440300 served from
  the figures cache (the cached read of issue 4), both with the same token. Goal: ≤ 1.5×.

The machine is shared and busy: absolute times move from run to run, the ratios much less;
the runs are interleaved so both sides see the same load.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

GOAL = 1.5


def build(tmp: str):
    from fleet import create_app
    from fleet.domain import demo, tokens
    from fleet.domain.audit import Actor
    from fleet.domain.cities import city_by_code, load_pilot_cities
    from fleet.domain.periods import add_months, period_of
    from fleet.domain.programme import get_programme, local_today
    from fleet.extensions import db
    from fleet.models import User

    os.environ["FLEET_INSTANCE_PATH"] = tmp
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/bench.sqlite",
                      "SECRET_KEY": "bench", "WTF_CSRF_ENABLED": False,
                      "API_RATE_LIMIT": "1000000 per minute"})
    with app.app_context():
        db.create_all()
        actor = Actor.system("bench")
        load_pilot_cities(db.session, actor)
        month = period_of(local_today())
        programme = get_programme(db.session)
        programme.first_period = min(programme.first_period, add_months(month, -12))
        programme.last_period = max(programme.last_period, month)
        demo.load_demo(db.session, actor, through=add_months(month, -1))
        city = city_by_code(db.session, "440300")
        user = User(username="bench", role="city", city=city, password_hash="x")
        db.session.add(user)
        secret = tokens.create_token(db.session, actor, user, "bench").secret
        db.session.commit()
    return app, secret, month


def body(n: int) -> dict:
    return {"lines": {"bus_bev": n, "bus_all_new": n + 2, "taxi_bev": 40, "taxi_all_new": 40},
            "infrastructure": {"charging_points": n + 40, "swap_stations": 1}, "notes": "bench"}


def raw(n: int) -> dict:
    b = body(n)
    return {**b["lines"], **b["infrastructure"], "notes": b["notes"]}


def measure(app, secret: str, month: str, n: int) -> dict[str, list[float]]:
    from fleet.domain import returns
    from fleet.domain.audit import Actor
    from fleet.domain.cities import city_by_code
    from fleet.extensions import db
    from fleet.models import User

    client = app.test_client()
    auth = {"Authorization": f"Bearer {secret}"}
    url = f"/api/v1/returns/440300/{month}"
    times: dict[str, list[float]] = {k: [] for k in ("put", "save", "get", "progress")}
    version = client.get(url, headers=auth).json["version"]
    for i in range(n):
        start = time.perf_counter()
        response = client.put(url, headers={**auth, "If-Match": f'"{version}"'},
                              json=body(i))
        times["put"].append(time.perf_counter() - start)
        assert response.status_code == 200, response.json
        version = response.json["version"]

        with app.test_request_context():
            user = db.session.scalar(db.select(User).where(User.username == "bench"))
            actor = Actor.of(user, "127.0.0.1")
            city = city_by_code(db.session, "440300")
            start = time.perf_counter()
            ret, _ = returns.save_return(db.session, actor, city, month, raw(i + 1), version)
            db.session.commit()
            times["save"].append(time.perf_counter() - start)
            version = ret.version
            db.session.remove()

    # Reads after the writes: the figures stay cached while the data does not change.
    client.get("/api/v1/progress?city=440300", headers=auth)
    for _ in range(n):
        start = time.perf_counter()
        read = client.get(url, headers=auth)
        times["get"].append(time.perf_counter() - start)
        assert read.status_code == 200
        start = time.perf_counter()
        progress = client.get("/api/v1/progress?city=440300", headers=auth)
        times["progress"].append(time.perf_counter() - start)
        assert progress.status_code == 200
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        app, secret, month = build(tmp)
        times = measure(app, secret, month, args.requests)
    med = {k: statistics.median(v) * 1000 for k, v in times.items()}
    print(f"{'what':<58} {'median ms':>10}")
    print(f"{'save through the API (PUT, test client)':<58} {med['put']:>10.2f}")
    print(f"{'floor: save_return in-process + commit':<58} {med['save']:>10.2f}")
    print(f"{'read a return through the API (GET)':<58} {med['get']:>10.2f}")
    print(f"{'floor: progress API, cached figures (GET ?city=)':<58} {med['progress']:>10.2f}")
    failed = False
    for name, a, b in (("save", "put", "save"), ("read", "get", "progress")):
        ratio = med[a] / med[b]
        ok = ratio <= GOAL
        failed |= not ok
        print(f"{name} ratio: {ratio:.2f}× (goal ≤ {GOAL}×) {'ok' if ok else 'OVER'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
