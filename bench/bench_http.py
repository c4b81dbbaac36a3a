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
USER_AGENT = "bench_http"

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
    cpu_us: float = 0.0  # the server's CPU time per request (µs): steadier than req/s on a
    # busy machine, as other processes' load does not enter it

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

    def cpu_seconds(self) -> float:
        """CPU time used so far by the server's processes (master and workers)."""
        pids = [self.proc.pid]
        try:
            children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text()
            pids += [int(p) for p in children.split()]
        except OSError:
            return 0.0
        ticks = 0
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
        return ticks / os.sysconf("SC_CLK_TCK")

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


def prepare(repo: Path, folder: Path, db_url: str, settings: list[str]) -> dict:
    """A fresh installation of the checkout `repo`: migrated database, cities, demo data and
    the ministry user. Returns the environment its server runs with."""
    instance = folder / "instance"
    instance.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLEET_")}
    env.update(DATABASE_URL=db_url, FLEET_INSTANCE_PATH=str(instance),
               PATH=f"{Path(sys.executable).parent}:{env.get('PATH', '')}")
    env.update(setting.split("=", 1) for setting in settings)
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


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Browser:
    """A browser signed in as the ministry user: it keeps the cookies the server sends (a
    session's first page adds its CSRF secret, the idle clock moves once a minute), and
    hands wrk the cookie it holds, as a browser would send it."""

    def __init__(self, server: Server):
        self.server = server
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect)
        # The session is bound to the browser (Flask-Login's session protection): wrk
        # sends the same User-Agent.
        self.opener.addheaders = [("User-Agent", USER_AGENT)]
        page = self.opener.open(server.url("/login")).read().decode()
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
        try:
            self.opener.open(server.url("/login"), urllib.parse.urlencode(
                {"username": USER, "password": PASSWORD, "csrf_token": token}).encode())
        except urllib.error.HTTPError as error:  # 302 to the home page
            if error.code != 302:
                raise
        if "session=" not in self.cookie():
            raise SystemExit(f"could not sign in on {server.name}")

    def cookie(self) -> str:
        return "; ".join(f"{c.name}={c.value}" for c in self.jar)

    def get(self, path: str, etag: str | None = None, anonymous: bool = False
            ) -> tuple[int, str]:
        """Status and ETag of one request (redirects not followed)."""
        request = urllib.request.Request(self.server.url(path),
                                         headers={"User-Agent": USER_AGENT})
        if etag:
            request.add_header("If-None-Match", etag)
        opener = urllib.request.build_opener(_NoRedirect) if anonymous else self.opener
        try:
            response = opener.open(request)
            response.read()
            return response.status, response.headers.get("ETag") or ""
        except urllib.error.HTTPError as error:
            return error.code, error.headers.get("ETag") or ""

    def headers_for(self, path: str, revalidate: bool) -> dict | None:
        """wrk's headers for a route, after checking that it answers as expected; None for
        a revalidation that this server does not answer with 304. The sign-in page is
        what someone not signed in gets (signed in, it redirects)."""
        anonymous = path == "/login"
        status, etag = self.get(path, anonymous=anonymous)
        if status != 200:
            raise SystemExit(f"{self.server.name} {path}: {status} (not signed in?)")
        headers = {"User-Agent": USER_AGENT}
        if not anonymous:
            headers["Cookie"] = self.cookie()
        if revalidate:
            if not etag or self.get(path, etag)[0] != 304:
                return None
            headers["If-None-Match"] = etag
        return headers


# --- wrk ----------------------------------------------------------------------------------------

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(number) * _UNITS[unit]


def wrk(server: Server, path: str, args, headers: dict | None = None,
        duration: str | None = None) -> Result:
    command = ["wrk", f"-t{min(2, args.connections)}", f"-c{args.connections}",
               f"-d{duration or args.duration}", "--latency"]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    cpu = server.cpu_seconds()
    out = subprocess.run([*command, server.url(path)], capture_output=True, text=True,
                         check=True).stdout
    cpu = server.cpu_seconds() - cpu
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                       out)
    errors = (int(bad.group(1)) if bad else 0) + (sum(map(int, socket.groups())) if socket
                                                     else 0)
    total = int(re.search(r"(\d+) requests in", out).group(1))
    return Result(rps, p50, p99, errors, 1e6 * cpu / total if total else 0.0)


# --- the run ------------------------------------------------------------------------------------

def measure(fleets: dict[str, Server], args) -> dict[str, dict[str, Result | None]]:
    """Route by route, each server in turn (so the checkouts share the machine's moods)."""
    browsers = {name: Browser(server) for name, server in fleets.items()}
    runs: dict[str, dict[str, Result | None]] = {name: {} for name in fleets}
    for label, path, revalidate in ROUTES:
        for name, server in fleets.items():
            headers = browsers[name].headers_for(path, revalidate)
            if headers is None:
                runs[name][label] = None
                continue
            wrk(server, path, args, headers, duration="1s")  # warm-up
            runs[name][label] = wrk(server, path, args, headers)
    return runs


def fmt_row(result: Result | None, floor: float, floor_cpu: float) -> list[str]:
    if result is None:
        return ["—"] * 5
    return [f"{result.rps:,.0f}", f"{100 * result.rps / floor:.1f} %",
            f"{result.p50_ms:.1f} / {result.p99_ms:.1f}", f"{result.tail:.1f}×",
            f"{result.cpu_us:,.0f} ({100 * floor_cpu / result.cpu_us:.0f} %)"
            if result.cpu_us else "—"]


def table(hello: list[Result], runs: dict[str, dict[str, Result | None]], args) -> str:
    floor = statistics.mean(r.rps for r in hello)
    floor_cpu = statistics.mean(r.cpu_us for r in hello)
    floor_result = Result(floor, statistics.mean(r.p50_ms for r in hello),
                          statistics.mean(r.p99_ms for r in hello), 0, floor_cpu)
    names = list(runs)
    head = ["route"]
    for name in names:
        head += [f"{name} req/s", f"{name} share", f"{name} ms p50 / p99", f"{name} p99/p50",
                 f"{name} CPU µs/req (hello's share)"]
    lines = ["| " + " | ".join(head) + " |",
             "| --- |" + " ---: |" * (len(head) - 1)]
    cells = []
    for _ in names:
        cells += fmt_row(floor_result, floor, floor_cpu)
    lines.append("| hello-world Flask (floor) | " + " | ".join(cells) + " |")
    for label, *_ in ROUTES:
        cells = []
        for name in names:
            cells += fmt_row(runs[name][label], floor, floor_cpu)
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    errors = sum(r.errors for run in runs.values() for r in run.values() if r)
    notes = [f"hello-world before / after the routes: {hello[0].rps:,.0f} / "
             f"{hello[1].rps:,.0f} req/s (floor = mean); wrk {args.connections} connections, "
             f"{args.duration} per route, gunicorn {args.workers} sync workers, "
             f"{args.db}; {os.cpu_count()} CPUs, load average "
             f"{os.getloadavg()[0]:.1f}; errors (non-2xx/3xx, socket): {errors}. CPU µs/req: "
             "the server processes' CPU time per request (hello-world's as a share of it)."]
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
    parser.add_argument("--set", action="append", default=[], metavar="FLEET_NAME=VALUE",
                        help="a setting of the Fleet servers (e.g. FLEET_REDIS_URL=...)")
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
                env = prepare(repo, folder / name, database_url(args.db, folder, suffix),
                              args.set)
                fleets[name] = Server(name, args.port + 1 + i, repo, "wsgi:app", env,
                                      args.workers, folder / f"{name}.log")
                servers.append(fleets[name])
            for server in servers:
                server.wait()
            print(f"Measuring on {args.db}: hello-world, then "
                  f"{', '.join(fleets)} route by route ...", file=sys.stderr)
            wrk(hello, "/", args, duration="1s")
            floors = [wrk(hello, "/", args)]
            runs = measure(fleets, args)
            floors.append(wrk(hello, "/", args))
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
