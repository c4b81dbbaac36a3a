"""Throughput of Fleet's pages under gunicorn, as a share of a hello-world Flask route.

    python bench/bench_http.py [--db sqlite|postgresql] [--baseline PATH] [--duration 8]

One run: a hello-world Flask app and Fleet, each under gunicorn with the same settings
(2 sync workers, loopback), are loaded in turn by wrk (8 connections, --latency) while signed
in as the ministry, on 25 cities × the demo months up to the last complete month
(`flask fleet demo`). Each route's requests per second are printed as a share of the
hello-world floor measured in the same run (before and after the routes; the mean is the
floor), with the median and 99th percentile latency, as a markdown table.

--baseline PATH serves a second checkout of Fleet (another commit, e.g. main before a
change) on its own database with the same data, measured route by route beside this one, so
a table shows "today" and "new" from one run. The data and the server are built from each
checkout's own `flask fleet init` / `demo`; this script imports nothing from Fleet.

--db postgresql runs on PostgreSQL at 127.0.0.1 (BENCH_POSTGRES_URL, default the database
bench_speed_http, with a _baseline twin), created if missing and emptied first.
Needs wrk (apt-get install wrk). Ports: 5301 (hello), 5302 (Fleet), 5303 (baseline).
"""

import argparse
import http.cookiejar
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("BENCH_POSTGRES_URL",
                        "postgresql+psycopg://postgres@127.0.0.1:5432/bench_speed_http")
PASSWORD = "Perf-Passw0rd!x9"
USER = "perf_min"

HELLO = '''from flask import Flask
app = Flask(__name__)


@app.get("/")
def index():
    return "hello"
'''

# (label, path, revalidate): revalidate sends If-None-Match with the ETag the path answered.
ROUTES = (
    ("`GET /login` (not signed in)", "/login", False),
    ("`/progress/` dashboard", "/progress/", False),
    ("`/progress/grid`", "/progress/grid", False),
    ("`/progress/cities/440300`", "/progress/cities/440300", False),
    ("`/api/v1/progress`", "/api/v1/progress", False),
    ("`/progress/charts/national.png` (cached)", "/progress/charts/national.png", False),
    ("304: `/progress/` with If-None-Match", "/progress/", True),
    ("304: `national.png` with If-None-Match", "/progress/charts/national.png", True),
)


@dataclass
class Result:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int  # non-2xx/3xx responses and socket errors

    @property
    def tail(self) -> float:
        return self.p99_ms / self.p50_ms if self.p50_ms else 0.0


# --- servers ------------------------------------------------------------------------------------

class Server:
    """A gunicorn serving one app on a loopback port, started and stopped by this script."""

    def __init__(self, name: str, port: int, cwd: Path, app: str, env: dict, workers: int,
                 log: Path):
        self.name, self.port = name, port
        self.log = log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--bind",
             f"127.0.0.1:{port}", app], cwd=cwd, env=env, stdout=self.log,
            stderr=subprocess.STDOUT, start_new_session=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def wait(self) -> None:
        for _ in range(300):
            try:
                urllib.request.urlopen(self.url("/"), timeout=2)
                return
            except urllib.error.HTTPError:
                return
            except OSError:
                if self.proc.poll() is not None:
                    raise SystemExit(f"{self.name} did not start (see {self.log.name})") from None
                time.sleep(0.1)
        raise SystemExit(f"{self.name} did not answer on port {self.port}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=30)
        self.log.close()


def database_url(kind: str, folder: Path, suffix: str) -> str:
    if kind == "sqlite":
        return f"sqlite:///{folder}/fleet{suffix}.sqlite"
    import psycopg

    url = PG_URL + suffix
    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0].replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return url


def prepare(repo: Path, folder: Path, db_url: str) -> dict:
    """A fresh installation of the checkout `repo`: migrated database, cities, demo data and
    the ministry user. Returns the environment its server runs with."""
    instance = folder / "instance"
    instance.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLEET_")}
    env.update(DATABASE_URL=db_url, FLEET_INSTANCE_PATH=str(instance),
               PATH=f"{Path(sys.executable).parent}:{env.get('PATH', '')}")
    flask = [sys.executable, "-m", "flask"]

    def run(*args: str, stdin: str | None = None) -> None:
        out = subprocess.run([*flask, "fleet", *args], cwd=repo, env=env, input=stdin,
                             capture_output=True, text=True, check=False)
        if out.returncode != 0:
            raise SystemExit(f"flask fleet {args[0]} failed in {repo}:\n{out.stderr[-2000:]}")

    run("init")
    run("create-user", USER, "--role", "ministry", "--password-stdin",
        "--no-password-change", stdin=PASSWORD + "\n")
    run("demo")
    return env


def sign_in(server: Server) -> str:
    """The Cookie header of a session signed in as the ministry user."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(server.url("/login")).read().decode()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    opener.open(server.url("/login"), urllib.parse.urlencode(
        {"username": USER, "password": PASSWORD, "csrf_token": token}).encode())
    cookie = "; ".join(f"{c.name}={c.value}" for c in jar)
    if "session=" not in cookie:
        raise SystemExit(f"could not sign in on {server.name}")
    return cookie


def probe(server: Server, path: str, cookie: str, etag: str | None = None) -> tuple[int, str]:
    """Status and ETag of one request (redirects not followed)."""
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    headers = {"Cookie": cookie} if cookie else {}
    if etag:
        headers["If-None-Match"] = etag
    request = urllib.request.Request(server.url(path), headers=headers)
    try:
        response = urllib.request.build_opener(NoRedirect).open(request)
        response.read()
        return response.status, response.headers.get("ETag") or ""
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("ETag") or ""


# --- wrk ----------------------------------------------------------------------------------------

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(number) * _UNITS[unit]


def wrk(url: str, args, headers: dict | None = None, duration: str | None = None) -> Result:
    command = ["wrk", f"-t{min(2, args.connections)}", f"-c{args.connections}",
               f"-d{duration or args.duration}", "--latency"]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                       out)
    errors = (int(bad.group(1)) if bad else 0) + (sum(map(int, socket.groups())) if socket
                                                     else 0)
    return Result(rps, p50, p99, errors)


# --- the run ------------------------------------------------------------------------------------

def plan(server: Server, cookie: str) -> dict[str, dict | None]:
    """The headers of each route on one server, after checking that it answers as expected;
    None for a revalidation the server does not answer with 304."""
    out: dict[str, dict | None] = {}
    for label, path, revalidate in ROUTES:
        # The sign-in page is what someone not signed in gets (signed in, it redirects).
        headers = {} if path == "/login" else {"Cookie": cookie}
        status, etag = probe(server, path, headers.get("Cookie", ""))
        if status != 200:
            raise SystemExit(f"{server.name} {path}: {status} (not signed in?)")
        if revalidate:
            if not etag or probe(server, path, cookie, etag)[0] != 304:
                out[label] = None
                continue
            headers["If-None-Match"] = etag
        out[label] = headers
    return out


def measure(fleets: dict[str, Server], cookies: dict[str, str], args
            ) -> dict[str, dict[str, Result | None]]:
    """Route by route, each server in turn (so the checkouts share the machine's moods)."""
    plans = {name: plan(server, cookies[name]) for name, server in fleets.items()}
    runs: dict[str, dict[str, Result | None]] = {name: {} for name in fleets}
    for label, path, _ in ROUTES:
        for name, server in fleets.items():
            headers = plans[name][label]
            if headers is None:
                runs[name][label] = None
                continue
            wrk(server.url(path), args, headers, duration="1s")  # warm-up
            runs[name][label] = wrk(server.url(path), args, headers)
    return runs


def fmt_row(label: str, result: Result | None, floor: float) -> list[str]:
    if result is None:
        return ["—", "—", "—", "—"]
    return [f"{result.rps:,.0f}", f"{100 * result.rps / floor:.1f} %",
            f"{result.p50_ms:.1f} / {result.p99_ms:.1f}", f"{result.tail:.1f}×"]


def table(hello: list[Result], runs: dict[str, dict[str, Result | None]], args) -> str:
    floor = statistics.mean(r.rps for r in hello)
    names = list(runs)
    head = ["route"]
    for name in names:
        head += [f"{name} req/s", f"{name} share", f"{name} ms p50 / p99", f"{name} p99/p50"]
    lines = ["| " + " | ".join(head) + " |",
             "| --- |" + " ---: |" * (len(head) - 1)]
    hello_cells = []
    for _ in names:
        hello_cells += [f"{floor:,.0f}", "100 %",
                        f"{statistics.mean(r.p50_ms for r in hello):.1f} / "
                        f"{statistics.mean(r.p99_ms for r in hello):.1f}",
                        f"{statistics.mean(r.tail for r in hello):.1f}×"]
    lines.append("| hello-world Flask (floor) | " + " | ".join(hello_cells) + " |")
    for label, *_ in ROUTES:
        cells = []
        for name in names:
            cells += fmt_row(label, runs[name][label], floor)
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    errors = sum(r.errors for run in runs.values() for r in run.values() if r)
    notes = [f"hello-world before / after the routes: {hello[0].rps:,.0f} / "
             f"{hello[1].rps:,.0f} req/s (floor = mean); wrk {args.connections} connections, "
             f"{args.duration} per route, gunicorn {args.workers} sync workers, "
             f"{args.db}; {os.cpu_count()} CPUs; errors (non-2xx/3xx, socket): {errors}"]
    return "\n".join(lines + [""] + notes)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--baseline", type=Path,
                        help="another checkout of Fleet to measure beside this one")
    parser.add_argument("--baseline-name", default="today")
    parser.add_argument("--name", default="new")
    parser.add_argument("--duration", default="8s", help="wrk's -d per route")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=5301, help="first of three ports")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    checkouts = {}
    if args.baseline:
        checkouts[args.baseline_name] = args.baseline.resolve()
    checkouts[args.name] = ROOT
    servers: list[Server] = []
    with tempfile.TemporaryDirectory(prefix="bench_http_") as tmp:
        folder = Path(tmp)
        try:
            (folder / "hello.py").write_text(HELLO)
            hello = Server("hello", args.port, folder, "hello:app", dict(os.environ),
                           args.workers, folder / "hello.log")
            servers.append(hello)
            fleets = {}
            for i, (name, repo) in enumerate(checkouts.items()):
                suffix = "" if name == args.name else "_baseline"
                env = prepare(repo, folder / name, database_url(args.db, folder, suffix))
                fleets[name] = Server(name, args.port + 1 + i, repo, "wsgi:app", env,
                                      args.workers, folder / f"{name}.log")
                servers.append(fleets[name])
            for server in servers:
                server.wait()
            cookies = {name: sign_in(server) for name, server in fleets.items()}
            print(f"Measuring on {args.db}: hello-world, then "
                  f"{', '.join(fleets)} route by route ...", file=sys.stderr)
            wrk(hello.url("/"), args, duration="1s")
            floors = [wrk(hello.url("/"), args)]
            runs = measure(fleets, cookies, args)
            floors.append(wrk(hello.url("/"), args))
        finally:
            for server in servers:
                server.stop()
    print(table(floors, runs, args))
    if args.json:
        args.json.write_text(json.dumps(
            {"db": args.db, "hello": [r.__dict__ for r in floors],
             "runs": {n: {label: (r.__dict__ if r else None) for label, r in run.items()}
                      for n, run in runs.items()}}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
