"""The factory and its configuration layers."""

import importlib
import subprocess
import sys
from pathlib import Path

from flask import Flask

from fleet import create_app
from fleet.config import normalise_database_url

ROOT = Path(__file__).resolve().parent.parent


def test_defaults_use_sqlite_in_instance_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("FLEET_INSTANCE_PATH", str(tmp_path / "inst"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("FLEET_DATABASE_URL", raising=False)
    app = create_app()
    expected = f"sqlite:///{tmp_path / 'inst' / 'fleet.sqlite'}"
    assert app.config["SQLALCHEMY_DATABASE_URI"] == expected
    assert app.config["BABEL_DEFAULT_LOCALE"] == "zh"
    assert app.config["BOOTSTRAP_SERVE_LOCAL"] is True


def test_secret_key_generated_once_into_instance(tmp_path, monkeypatch):
    monkeypatch.setenv("FLEET_INSTANCE_PATH", str(tmp_path / "inst"))
    monkeypatch.delenv("FLEET_SECRET_KEY", raising=False)
    first = create_app().config["SECRET_KEY"]
    second = create_app().config["SECRET_KEY"]
    assert len(first) == 64 and first == second
    key_file = tmp_path / "inst" / "secret_key"
    assert key_file.read_text() == first
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"


def test_layers_instance_then_environment_then_test_mapping(tmp_path, monkeypatch):
    instance = tmp_path / "inst"
    instance.mkdir()
    (instance / "config.py").write_text(
        "LOGIN_MAX_FAILURES = 7\nPASSWORD_MIN_LENGTH = 12\nLOGIN_LOCKOUT_MINUTES = 20\n")
    monkeypatch.setenv("FLEET_INSTANCE_PATH", str(instance))
    monkeypatch.setenv("FLEET_PASSWORD_MIN_LENGTH", "14")
    monkeypatch.setenv("FLEET_LOGIN_LOCKOUT_MINUTES", "30")
    app = create_app({"LOGIN_LOCKOUT_MINUTES": 45})
    assert app.config["LOGIN_MAX_FAILURES"] == 7  # instance file over defaults
    assert app.config["PASSWORD_MIN_LENGTH"] == 14  # environment over instance file
    assert app.config["LOGIN_LOCKOUT_MINUTES"] == 45  # test mapping over environment


def test_database_url_from_environment_uses_psycopg(tmp_path, monkeypatch):
    monkeypatch.setenv("FLEET_INSTANCE_PATH", str(tmp_path / "inst"))
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@127.0.0.1:5432/fleet")
    app = create_app()
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@127.0.0.1:5432/fleet"
    assert normalise_database_url("postgres://x/y") == "postgresql+psycopg://x/y"
    assert normalise_database_url("sqlite:///a.db") == "sqlite:///a.db"


def test_wsgi_module_serves_the_app(tmp_path, monkeypatch):
    """gunicorn's `wsgi:app` is a working application (the sign-in page answers)."""
    monkeypatch.setenv("FLEET_INSTANCE_PATH", str(tmp_path / "inst"))
    monkeypatch.setenv("FLEET_DATABASE_URL", f"sqlite:///{tmp_path / 'wsgi.sqlite'}")
    monkeypatch.syspath_prepend(str(ROOT))
    sys.modules.pop("wsgi", None)
    wsgi = importlib.import_module("wsgi")
    try:
        assert isinstance(wsgi.app, Flask)
        response = wsgi.app.test_client().get("/login")
        assert response.status_code == 200 and 'name="username"' in response.get_data(as_text=True)
    finally:
        sys.modules.pop("wsgi", None)


def test_the_generated_secret_key_is_never_committed(tmp_path):
    """The key the app writes into the repository's instance/ folder is ignored by git, and
    no tracked file of instance/ holds one (checked on git's view, so it holds on a fresh
    clone too)."""
    tracked = subprocess.run(["git", "ls-files", "instance"], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout.split()
    assert tracked == ["instance/.gitkeep"]
    for name in ("instance/secret_key", "instance/fleet.sqlite", "instance/config.py"):
        ignored = subprocess.run(["git", "check-ignore", "-q", name], cwd=ROOT)
        assert ignored.returncode == 0, f"{name} would be committed"
