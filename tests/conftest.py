"""Fixtures: an app per test on SQLite (or on PostgreSQL when FLEET_TEST_DATABASE_URL is set),
a client, a CLI runner and sign-in helpers."""

import contextvars
import os

import pytest
from flask.testing import FlaskClient
from sqlalchemy import text

from fleet import create_app
from fleet.extensions import db

from .factories import PASSWORD, load_cities, make_user

POSTGRES_URL = os.environ.get("FLEET_TEST_DATABASE_URL")


def _reset_database(create_tables: bool) -> None:
    if db.engine.dialect.name == "postgresql":
        # Fresh schema each test; DROP SCHEMA also removes Alembic's table.
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    if create_tables:
        db.create_all()


class IsolatedClient(FlaskClient):
    """Each request runs in its own app context, as in production: its own `g`, its own
    database session. The test's session is rolled back first, so it holds no lock and
    reads fresh data afterwards (the factories commit what they make)."""

    def open(self, *args, **kwargs):
        try:
            db.session.rollback()
        except RuntimeError:  # no app context in this test
            pass
        return contextvars.Context().run(super().open, *args, **kwargs)


@pytest.fixture
def make_app(tmp_path, monkeypatch):
    """Build an app with extra config; the database is fresh for each test."""
    monkeypatch.setenv("FLEET_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("FLEET_DATABASE_URL", raising=False)
    apps = []

    def factory(create_tables: bool = True, **overrides):
        """create_tables=False leaves an empty database (for the migrations)."""
        config = {
            "TESTING": True,
            "SECRET_KEY": "test-secret",
            "SQLALCHEMY_DATABASE_URI": POSTGRES_URL or f"sqlite:///{tmp_path}/test.sqlite",
            "WTF_CSRF_ENABLED": False,
        }
        config.update(overrides)
        app = create_app(config)
        app.test_client_class = IsolatedClient
        with app.app_context():
            if not apps:
                _reset_database(create_tables)
        apps.append(app)
        return app

    yield factory
    for app in apps:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def app(make_app):
    app = make_app()
    with app.app_context():
        yield app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


class AuthActions:
    """Sign in and out through the real form."""

    def __init__(self, client):
        self.client = client

    def login(self, username: str, password: str = PASSWORD, follow: bool = False):
        return self.client.post("/login", data={"username": username, "password": password},
                                follow_redirects=follow)

    def logout(self):
        return self.client.post("/logout")


@pytest.fixture
def auth(client):
    return AuthActions(client)


@pytest.fixture
def cities(app):
    """The 25 pilot cities, loaded as `flask fleet init` loads them."""
    load_cities()


@pytest.fixture
def users(app, cities):
    """One user of each role; the city user belongs to Shenzhen, another to Beijing."""
    # (The auditor is the only reader of the audit log; see tests/test_audit.py.)
    from fleet.domain.cities import city_by_code

    return {
        "admin": make_user("admin1", "admin"),
        "auditor": make_user("auditor1", "auditor"),
        "ministry": make_user("ministry1", "ministry"),
        "viewer": make_user("viewer1", "viewer"),
        "city": make_user("shenzhen", "city", city_by_code(db.session, "440300")),
        "other_city": make_user("beijing", "city", city_by_code(db.session, "110000")),
    }


@pytest.fixture
def setup(users):
    """Users of every role, and a reporting window that includes today."""
    from .returns_helpers import window_around_today

    window_around_today()
    return users
