"""Two web nodes, one database, one Redis, one RQ worker — as Fleet scales out.

Two gunicorn processes listen on two loopback ports, with the same settings, against one
database (the PostgreSQL of FLEET_TEST_DATABASE_URL; without it, one SQLite file, which two
processes on one machine can share) and the local Redis (database 12, keys and queue of this
test's own prefix), beside a plain `rq worker` process. Everything goes through real HTTP,
with the CSRF tokens the pages give:

* a return submitted through node A is on node B's dashboard at once;
* a session signed out on A is refused on B (a copy of its cookie included);
* failed sign-ins counted on A are refused on B beyond the limit;
* a roster uploaded on A is confirmed on B; its national export, asked for on A, is run by
  the worker and downloaded from B.
"""

import csv
import html
import io
import os
import re
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests

from fleet.domain.periods import add_months

from .factories import PASSWORD
from .redis_helpers import redis_or_skip
from .returns_helpers import form_data, this_month, window_around_today
from .roster_helpers import csv_bytes, rows_for

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
REDIS_URL = "redis://127.0.0.1:6379/12"
PORTS = range(5200, 5300)  # this branch's loopback ports



def _free_ports(n: int) -> list[int]:
    found = []
    for port in PORTS:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        found.append(port)
        if len(found) == n:
            return found
    pytest.skip("no free loopback port in 5200-5299")


def _wait_until_up(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{url} exited: {log.read_text()[-3000:]}")
        try:
            if requests.get(url + "/login", timeout=10).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within 60 s: {log.read_text()[-3000:]}")


@pytest.fixture
def cluster(app, setup, tmp_path):
    """Node A, node B and a worker, sharing the test's database, Redis and instance folder."""
    redis_client = redis_or_skip(REDIS_URL)
    tag = uuid.uuid4().hex[:12]
    env = {
        **os.environ,
        "FLEET_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "FLEET_SECRET_KEY": "two-nodes-" + uuid.uuid4().hex,
        "FLEET_INSTANCE_PATH": str(tmp_path / "instance"),
        "FLEET_REDIS_URL": REDIS_URL,
        "FLEET_REDIS_KEY_PREFIX": f"fleet-2n-{tag}:",
        "FLEET_LOGIN_THROTTLE_PREFIX": f"fleet-2n-{tag}",
        "FLEET_LOGIN_THROTTLE": "4 per minute",
        "FLEET_JOBS_QUEUE": f"fleet-2n-{tag}",
        "FLEET_JOB_PROGRESS_ROWS": "2",
    }
    env.pop("FLEET_TEST_DATABASE_URL", None)
    processes, logs = [], []

    def spawn(name: str, args: list[str]) -> subprocess.Popen:
        log = tmp_path / f"{name}.log"
        logs.append(log)
        process = subprocess.Popen(args, cwd=REPO, env=env, stdout=log.open("wb"),
                                   stderr=subprocess.STDOUT)
        processes.append(process)
        return process

    nodes = []
    try:
        for name, port in zip("ab", _free_ports(2), strict=True):
            process = spawn(f"node-{name}", [str(BIN / "gunicorn"), "--workers", "2",
                                             "--bind", f"127.0.0.1:{port}", "wsgi:app"])
            url = f"http://127.0.0.1:{port}"
            _wait_until_up(url, process, logs[-1])
            nodes.append(url)
        spawn("worker", [str(BIN / "rq"), "worker", "--url", REDIS_URL, "--name",
                         f"fleet-2n-{tag}", env["FLEET_JOBS_QUEUE"]])
        yield nodes[0], nodes[1], logs
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        redis_client.srem("rq:queues", f"rq:queue:{env['FLEET_JOBS_QUEUE']}")
        redis_client.srem("rq:workers", f"rq:worker:fleet-2n-{tag}")
        for name in redis_client.scan_iter(match=f"*fleet-2n-{tag}*"):
            redis_client.delete(name)


def hidden_fields(page: str) -> dict[str, str]:
    """The hidden inputs of a page (the CSRF token, a form's version, an upload's id)."""
    fields = {}
    for tag in re.findall(r"<input[^>]*>", page):
        if 'type="hidden"' in tag:
            name = re.search(r'name="([^"]+)"', tag)
            value = re.search(r'value="([^"]*)"', tag)
            if name:
                fields[name.group(1)] = html.unescape(value.group(1)) if value else ""
    return fields


def csrf(http, url: str) -> str:
    return hidden_fields(http.get(url).text)["csrf_token"]


def sign_in(node: str, username: str, http=None):
    http = http or requests.Session()
    response = http.post(node + "/login", data={
        "username": username, "password": PASSWORD, "csrf_token": csrf(http, node + "/login")},
        allow_redirects=False)
    assert response.status_code == 302, (username, response.status_code)
    return http


def kpi_cumulative(page: str) -> str:
    return re.search(r'id="kpi-cumulative">([^<]*)<', page).group(1).strip()


def test_two_nodes_share_data_sessions_throttles_and_jobs(cluster):
    node_a, node_b, logs = cluster
    window_around_today()
    month = add_months(this_month(), -1)  # the dashboard's default month

    # A return submitted through A is on B's dashboard at once (B's figures were cached).
    reviewer_on_b = sign_in(node_b, "ministry1")
    dashboard = reviewer_on_b.get(f"{node_b}/progress/?through={month}")
    assert dashboard.status_code == 200 and kpi_cumulative(dashboard.text) == "0"
    clerk_on_a = sign_in(node_a, "shenzhen")
    form = hidden_fields(clerk_on_a.get(f"{node_a}/returns/{month}").text)
    submitted = clerk_on_a.post(f"{node_a}/returns/{month}", data={
        **form_data(form["version"], "submit", bus_bev=4321, bus_all_new=4400,
                    charging_points=4321), "csrf_token": form["csrf_token"]})
    assert submitted.status_code == 200, submitted.text[:500]
    dashboard = reviewer_on_b.get(f"{node_b}/progress/?through={month}")
    assert kpi_cumulative(dashboard.text) == "4,321"
    progress = reviewer_on_b.get(f"{node_b}/api/v1/progress?through={month}").json()
    assert progress["national"]["nev"] == 4321

    # A session signed out on A is refused on B, and so is any copy of its cookie.
    viewer_on_a = sign_in(node_a, "viewer1")
    copy = requests.Session()
    copy.cookies.update(viewer_on_a.cookies)
    assert copy.get(f"{node_b}/progress/", allow_redirects=False).status_code == 200
    viewer_on_a.post(f"{node_a}/logout", data={"csrf_token": csrf(viewer_on_a,
                                                                  f"{node_a}/progress/")})
    refused = copy.get(f"{node_b}/progress/", allow_redirects=False)
    assert refused.status_code == 302 and "/login" in refused.headers["Location"]

    # A roster uploaded on A is confirmed on B (the pending file is in the database).
    rows = rows_for(this_month(), {("bus", "bev"): 5, ("taxi", "phev"): 2})
    preview = clerk_on_a.post(f"{node_a}/returns/{this_month()}/roster/upload",
                              data={"csrf_token": csrf(clerk_on_a, f"{node_a}/returns/"
                                                                   f"{this_month()}/roster")},
                              files={"file": ("roster.csv", csv_bytes(rows), "text/csv")})
    assert preview.status_code == 200 and 'id="confirm-roster"' in preview.text
    confirm = hidden_fields(preview.text)
    saved = clerk_on_a.post(f"{node_b}/returns/{this_month()}/roster/confirm",
                            data={"csrf_token": confirm["csrf_token"],
                                  "upload_id": confirm["upload_id"]})
    assert saved.status_code == 200 and "7" in saved.text  # "… saved: 7 vehicles"

    # A job asked for on A is run by the worker and downloaded from B.
    token = hidden_fields(reviewer_on_b.get(f"{node_b}/progress/roster").text)["csrf_token"]
    asked = reviewer_on_b.post(f"{node_a}/progress/roster/vehicles.csv/prepare",
                               data={"csrf_token": token}, allow_redirects=False)
    assert asked.status_code == 303, asked.text[:500]
    job_url = asked.headers["Location"]
    job_id = int(re.search(r"/jobs/(\d+)$", job_url).group(1))
    deadline, status = time.monotonic() + 120, {}
    while time.monotonic() < deadline:
        status = reviewer_on_b.get(f"{node_b}/jobs/{job_id}/status").json()
        if status["status"] not in ("queued", "running"):
            break
        time.sleep(0.5)
    assert status["status"] == "done", (status, logs[-1].read_text()[-3000:])
    assert (status["done"], status["total"]) == (7, 7)
    download = reviewer_on_b.get(node_b + status["download_url"])
    assert download.status_code == 200
    table = list(csv.reader(io.StringIO(download.content.decode("utf-8-sig"))))
    assert len(table) == 8 and {r[0] for r in table[1:]} == {"440300"}
    # Asked again on either node: the same job, not a second run.
    again = reviewer_on_b.post(f"{node_b}/progress/roster/vehicles.csv/prepare",
                               data={"csrf_token": token}, allow_redirects=False)
    assert again.headers["Location"].endswith(f"/jobs/{job_id}")

    # Failed sign-ins counted on A are refused on B beyond the limit (4 a minute).
    stranger = requests.Session()
    for node in (node_a, node_a, node_b, node_a):
        answer = stranger.post(node + "/login", data={
            "username": "ministry1", "password": "wrong", "csrf_token": csrf(stranger,
                                                                            node + "/login")})
        assert answer.status_code == 401
    throttled = stranger.post(node_b + "/login", data={
        "username": "nobody", "password": "wrong", "csrf_token": csrf(stranger,
                                                                     node_b + "/login")})
    assert throttled.status_code == 429
