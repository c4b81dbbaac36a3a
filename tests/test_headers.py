"""Production start checks and security headers: a strict Content-Security-Policy that every
page of every role obeys (no inline script, handler or style), frame-ancestors 'none', HSTS
over HTTPS, on every response, errors and downloads included."""

import os
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from fleet import create_app
from fleet.config import UnsafeConfiguration
from fleet.extensions import db

from .factories import PASSWORD, make_return
from .returns_helpers import this_month

ROOT = Path(__file__).resolve().parent.parent
SAFE = {"SECRET_KEY": "k" * 32, "SESSION_COOKIE_SECURE": True, "DEBUG": False,
        "SQLALCHEMY_DATABASE_URI": "sqlite://"}


def production_app(tmp_path, monkeypatch, **overrides):
    monkeypatch.setenv("FLEET_INSTANCE_PATH", str(tmp_path / "inst"))
    return create_app({"ENV": "production", **SAFE, **overrides})


def test_production_starts_with_safe_settings(tmp_path, monkeypatch):
    assert production_app(tmp_path, monkeypatch).config["ENV"] == "production"


@pytest.mark.parametrize("overrides, words", [
    ({"DEBUG": True}, "debug mode is on"),
    ({"SECRET_KEY": "x" * 31}, "secret key is shorter than 32 bytes"),
    ({"SESSION_COOKIE_SECURE": False}, "session cookies are not Secure"),
])
def test_production_refuses_unsafe_settings(tmp_path, monkeypatch, overrides, words):
    with pytest.raises(UnsafeConfiguration) as refused:
        production_app(tmp_path, monkeypatch, **overrides)
    message = str(refused.value)
    assert message.startswith("FLEET_ENV=production refuses to start:") and words in message
    assert "\n" not in message


def test_development_starts_with_any_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("FLEET_INSTANCE_PATH", str(tmp_path / "inst"))
    create_app({"SECRET_KEY": "x", "DEBUG": True, "SQLALCHEMY_DATABASE_URI": "sqlite://"})


def test_the_command_line_refuses_with_one_line_and_a_non_zero_exit(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLEET_", "FLASK_"))}
    env.update(FLEET_ENV="production", FLEET_SECRET_KEY="x", FLEET_DEBUG="true",
               FLEET_INSTANCE_PATH=str(tmp_path / "inst"),
               FLEET_DATABASE_URL=f"sqlite:///{tmp_path}/x.sqlite")
    result = subprocess.run([sys.executable, "-m", "flask", "fleet", "init"], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("FLEET_ENV=production refuses to start:")
    assert "debug mode is on" in lines[0] and "shorter than 32 bytes" in lines[0]
    assert not (tmp_path / "x.sqlite").exists() or (tmp_path / "x.sqlite").stat().st_size == 0


class InlineCode(HTMLParser):
    """Collects what the CSP would block: inline scripts, on* handlers, style attributes."""

    def __init__(self):
        super().__init__()
        self.found: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        names = {name.lower() for name, _ in attrs}
        self.found += [f"<{tag} {name}=...>" for name in names
                       if name.startswith("on") or name == "style"]
        if tag == "style":
            self.found.append("<style> element")
        self._in_script = tag == "script"
        if tag == "script" and "src" not in names:
            self.found.append("<script> without src")

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.found.append(f"inline script: {data.strip()[:40]}")


SAMPLE_ARGS = {"code": "440300", "city": "440300", "fmt": "png", "kind": "national",
               "token_id": 1, "scan_id": 1, "notice_id": 1, "upload_id": 1,
               "job_id": 1}


def urls_of_every_page(app, ids):
    """One URL for every GET route of the app (static files aside), arguments filled in."""
    args = {**SAMPLE_ARGS, "period": this_month(), **ids}
    urls = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint.endswith("static"):
            continue
        values = {name: args[name] for name in rule.arguments}
        with app.test_request_context():
            from flask import url_for

            urls.append(url_for(rule.endpoint, **values))
    return urls


def assert_headers(response, url):
    csp = response.headers.get("Content-Security-Policy", "")
    directives = dict(part.strip().split(" ", 1) for part in csp.split(";") if part.strip())
    assert directives.get("script-src") == "'self'", (url, csp)
    assert directives.get("style-src") == "'self'", (url, csp)
    assert directives.get("frame-ancestors") == "'none'", (url, csp)
    assert response.headers.get("X-Frame-Options") == "DENY", url
    assert response.headers.get("X-Content-Type-Options") == "nosniff", url


@pytest.mark.parametrize("role", [None, "city", "ministry", "viewer", "admin"])
def test_every_page_of_every_role_obeys_the_csp(app, setup, role):
    from fleet.domain.cities import city_by_code

    submitted = make_return(city_by_code(db.session, "440300"), this_month(),
                            status="submitted", counts={"bus": {"bev": 3}})
    ids = {"return_id": submitted.id, "user_id": setup["viewer"].id}
    client = app.test_client()
    if role:
        client.post("/login", data={"username": setup[role].username, "password": PASSWORD})
    pages = 0
    for url in urls_of_every_page(app, ids) + ["/no/such/page"]:
        response = client.get(url)
        assert response.status_code < 500, url
        assert_headers(response, url)
        if response.mimetype == "text/html":
            parser = InlineCode()
            parser.feed(response.get_data(as_text=True))
            assert parser.found == [], (url, parser.found)
            pages += response.status_code == 200
    assert pages >= {None: 1, "city": 5, "ministry": 5, "viewer": 3, "admin": 8}[role]


def test_downloads_static_files_and_error_pages_carry_the_headers(app, setup, client):
    client.post("/login", data={"username": "ministry1", "password": PASSWORD})
    for url in ["/excel/summary.xlsx", "/excel/flat.csv", "/static/css/fleet.css",
                "/bootstrap/static/css/bootstrap.min.css", "/no/such/page",
                "/admin/users"]:
        response = client.get(url)
        assert_headers(response, url)
    too_big = app.test_client().post("/login", data={"username": "x" * (6 * 1024 * 1024)})
    assert too_big.status_code == 413
    assert_headers(too_big, "413")


def test_hsts_only_over_https(client, users):
    assert "Strict-Transport-Security" not in client.get("/login").headers
    secure = client.get("/login", base_url="https://localhost")
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert_headers(secure, "https /login")


def test_hsts_behind_a_trusted_proxy(make_app):
    app = make_app(TRUSTED_PROXIES=1)
    response = app.test_client().get("/login", headers={"X-Forwarded-Proto": "https",
                                                         "X-Forwarded-For": "203.0.113.9"})
    assert "Strict-Transport-Security" in response.headers
