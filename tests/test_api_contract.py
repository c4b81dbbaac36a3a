"""The API's contract: the OpenAPI document covers every /api/v1 route, the reference page is
served with its own assets, and Schemathesis fuzzes the live app with a city token and a
ministry token (stateless and stateful phases): no 5xx, every response conforms to the
document, and the city token never reaches another city."""

import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from fleet.extensions import db

from .api_helpers import token_for
from .factories import make_return
from .returns_helpers import the_return, this_month

ROOT = Path(__file__).resolve().parent.parent
META = {"/api/v1/openapi.json", "/api/v1/docs"}  # the contract itself and its page


def test_every_api_route_is_in_the_document(app, client):
    document = client.get("/api/v1/openapi.json").json
    assert document["openapi"].startswith("3.1")
    documented = {(path, method.upper()) for path, operations in document["paths"].items()
                  for method in operations}
    routes = {(re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule), method)
              for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/v1")
              and rule.rule not in META
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert routes and routes <= documented, routes - documented
    put = document["paths"]["/api/v1/returns/{city}/{period}"]["put"]
    assert put["responses"]["412"]["content"]["application/problem+json"]
    schemas = document["components"]["schemas"]
    assert any("examples" in schema for schema in schemas.values())
    assert "bus_all_new" in str(schemas)  # the form's and the template's field names


def test_the_reference_page_is_served_with_its_own_assets(client):
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "http://" not in html and "https://" not in html
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    assert len(assets) == 3
    for asset in assets:
        assert client.get(asset).status_code == 200, asset


@pytest.fixture
def live(make_app, setup):
    """The app on a loopback port, in a thread, as a city system would reach it."""
    app = make_app()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.port}"
    server.shutdown()
    thread.join()


def _schemathesis(base: str, token: str, own_city: str | None,
                  log: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.schemathesis_hooks",
           "PYTHONPATH": str(ROOT), "FLEET_OWN_CITY": own_city or "",
           "FLEET_CHECK_LOG": str(log)}
    command = [
        sys.executable, "-m", "schemathesis.cli", "run", f"{base}/api/v1/openapi.json",
        "--header", f"Authorization: Bearer {token}",
        "--phases", "examples,coverage,fuzzing,stateful",
        # Everything, but "a schema-valid request must succeed": the API rightly refuses
        # some (a stale If-Match, another city, a rule of the form).
        "--checks", "all", "--exclude-checks", "positive_data_acceptance",
        "--max-examples", "8", "--workers", "1", "--seed", "2026",
        "--suppress-health-check", "all", "--no-color",
    ]
    return subprocess.run(command, cwd=log.parent, env=env, capture_output=True, text=True,
                          timeout=600)


@pytest.mark.parametrize("role", ["city", "ministry"])
def test_schemathesis_fuzzes_the_live_api(live, setup, role, tmp_path):
    other = make_return(setup["other_city"].city, this_month(), status="submitted",
                        counts={"bus": {"bev": 5}})
    before = (other.status, other.version)
    token = token_for(setup[role], "schemathesis")
    log = tmp_path / "checked.txt"
    run = _schemathesis(live, token, "440300" if role == "city" else None, log)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    checked = log.read_text().splitlines()
    assert len(checked) > 100 and any(" 200" in line for line in checked)
    assert any("/returns/110000/" in line for line in checked) or role == "ministry"
    if role == "city":  # whatever it sent, Beijing's return is as it was
        db.session.rollback()
        ret = the_return("110000")
        assert (ret.status, ret.version) == before
