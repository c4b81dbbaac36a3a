"""A database server's connection left unused is tested before it is used again, so a
restart of the server costs no request an error; one in steady use is not tested (that
round trip cost a third of a cached page's time on PostgreSQL)."""

import pytest
from sqlalchemy import create_engine, text

import fleet
from fleet.extensions import db


@pytest.fixture
def server_database(app):
    if db.engine.dialect.name == "sqlite":
        pytest.skip("a database server's connections (run with FLEET_TEST_DATABASE_URL)")
    return db.engine


def _end_every_connection(engine) -> None:
    """What a restart of the server does to the app's connections."""
    admin = create_engine(engine.url)
    with admin.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
        conn.commit()
    admin.dispose()


def test_a_connection_ended_while_unused_is_replaced_not_failed(server_database, client, auth,
                                                                users, monkeypatch):
    auth.login("ministry1")
    assert client.get("/progress/").status_code == 200
    db.session.remove()
    _end_every_connection(server_database)
    monkeypatch.setattr(fleet, "IDLE_BEFORE_PING", 0.0)  # as if unused for a while
    assert client.get("/progress/").status_code == 200


def test_only_a_connection_left_unused_is_tested(server_database, client, auth, users,
                                                 monkeypatch):
    tested = []
    real = fleet.ping
    monkeypatch.setattr(fleet, "ping", lambda conn: (tested.append(conn), real(conn)))
    auth.login("ministry1")
    client.get("/progress/")
    client.get("/progress/")
    assert tested == []  # in steady use
    monkeypatch.setattr(fleet, "IDLE_BEFORE_PING", 0.0)
    client.get("/progress/")
    assert len(tested) == 1
