"""`flask fleet backup` and `flask fleet restore` (等保 8.1.4.9): a round trip into an empty
database gives back every figure and every row, on SQLite and on PostgreSQL."""

import json
import os
import tarfile
from datetime import date

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from fleet.domain import backup, demo, figures, returns
from fleet.domain.audit import Actor
from fleet.domain.cities import city_by_code
from fleet.extensions import db

PG_URL = os.environ.get("FLEET_TEST_DATABASE_URL",
                        "postgresql+psycopg://postgres@127.0.0.1:5432/test")
TODAY = date(2026, 3, 15)


def _fill(app) -> None:
    """`flask fleet init`, demo data and a real return on top, verified."""
    runner = app.test_cli_runner()
    assert runner.invoke(args=["fleet", "init"]).exit_code == 0
    demo.load_demo(db.session, Actor.system("test"), through="2026-01", today=TODAY)
    db.session.commit()
    city = city_by_code(db.session, "440300")
    returns.save_return(db.session, Actor(None, "clerk", None, "city", city.id), city,
                        "2026-02", {"bus_bev": 77, "bus_all_new": 80, "notes": "真实"}, None,
                        submit=True, today=TODAY)
    db.session.commit()
    assert runner.invoke(args=["fleet", "verify"]).exit_code == 0


def _state() -> tuple:
    """Every figure on both bases, and every table's row count."""
    progress = tuple(figures.national_progress(db.session, basis, "2026-02", today=TODAY)
                     for basis in figures.BASES)
    with db.engine.connect() as conn:
        counts = backup.table_counts(conn)
    return progress, counts


def _round_trip(make_app, tmp_path, source_url: str, target_url: str) -> None:
    source = make_app(create_tables=False, SQLALCHEMY_DATABASE_URI=source_url)
    key_file = tmp_path / "instance" / "secret_key"
    key_file.write_text("k" * 64)  # the installation's own key (the tests set theirs)
    with source.app_context():
        _fill(source)
        before = _state()
        (tmp_path / "b").mkdir()
        result = source.test_cli_runner().invoke(args=["fleet", "backup", str(tmp_path / "b")])
        assert result.exit_code == 0, result.output
    files = list((tmp_path / "b").iterdir())
    assert len(files) == 1 and files[0].name.startswith("fleet-backup-")
    path = files[0]
    assert oct(path.stat().st_mode & 0o777) == "0o600"  # it holds the secret key
    with tarfile.open(path) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())
        assert set(tar.getnames()) == {"manifest.json", "secret_key", *manifest["files"]}
    kind = make_url(source_url).get_backend_name()
    assert manifest["database"] == kind and manifest["alembic_revision"]
    assert manifest["tables"] == before[1] and manifest["tables"]["monthly_return"] > 300

    key_file.unlink()
    target = make_app(SQLALCHEMY_DATABASE_URI=target_url)
    with target.app_context():
        assert backup.rows_in(db.engine) == 0
        runner = target.test_cli_runner()
        result = runner.invoke(args=["fleet", "restore", str(path)])
        assert result.exit_code == 0, result.output
        assert "as in the backup" in result.output
        assert _state() == before
        assert key_file.read_text() == "k" * 64
        assert runner.invoke(args=["fleet", "verify"]).exit_code == 0
        # A database with data is never overwritten by accident...
        refused = runner.invoke(args=["fleet", "restore", str(path)])
        assert refused.exit_code != 0 and "--force" in refused.output
        # ...only when told to.
        forced = runner.invoke(args=["fleet", "restore", "--force", str(path)])
        assert forced.exit_code == 0, forced.output
        assert _state() == before
        db.session.remove()
        db.engine.dispose()


def test_round_trip_on_sqlite(make_app, tmp_path):
    _round_trip(make_app, tmp_path, f"sqlite:///{tmp_path}/live.sqlite",
                f"sqlite:///{tmp_path}/restored.sqlite")


def _admin_engine(url):
    return create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")


def _reachable(url: str) -> bool:
    try:
        engine = create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return True
    except Exception:  # any failure to connect means "no server here"
        return False


@pytest.mark.skipif(not _reachable(PG_URL), reason=f"no PostgreSQL server answers at {PG_URL}")
def test_round_trip_on_postgresql(make_app, tmp_path):
    target_url = make_url(PG_URL)
    target_url = target_url.set(database=f"{target_url.database}_restore")
    name = '"' + target_url.database.replace('"', '""') + '"'
    admin = _admin_engine(PG_URL)
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {name}"))
    try:
        _round_trip(make_app, tmp_path, PG_URL,
                    target_url.render_as_string(hide_password=False))
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def test_restore_refuses_what_is_not_a_backup(app, runner, tmp_path):
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not a backup")
    result = runner.invoke(args=["fleet", "restore", str(junk)])
    assert result.exit_code != 0 and "is not a Fleet backup" in result.output


def test_a_damaged_backup_is_refused_before_anything_changes(make_app, tmp_path):
    app = make_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path}/live.sqlite")
    with app.app_context():
        runner = app.test_cli_runner()
        assert runner.invoke(args=["fleet", "backup", str(tmp_path / "x.tar.gz")]).exit_code == 0
        # Same manifest, another database file: the checksum gives it away.
        with tarfile.open(tmp_path / "x.tar.gz") as tar:
            manifest = tar.extractfile("manifest.json").read()
        (tmp_path / "database.sqlite").write_bytes(b"SQLite format 3\0" + b"\0" * 100)
        with tarfile.open(tmp_path / "bad.tar.gz", "w:gz") as tar:
            (tmp_path / "manifest.json").write_bytes(manifest)
            tar.add(tmp_path / "manifest.json", arcname="manifest.json")
            tar.add(tmp_path / "database.sqlite", arcname="database.sqlite")
        result = runner.invoke(args=["fleet", "restore", "--force", str(tmp_path / "bad.tar.gz")])
        assert result.exit_code != 0 and "checksum" in result.output


def test_pg_dump_must_be_as_new_as_the_server(tmp_path):
    old = tmp_path / "pg_dump"
    old.write_text("#!/bin/sh\necho 'pg_dump (PostgreSQL) 13.1'\n")
    old.chmod(0o755)
    found = backup.pg_tool("pg_dump", 15, str(tmp_path))
    assert found != str(old)  # the machine's own pg_dump 15 is taken instead
    with pytest.raises(backup.BackupError, match="pg_dump for PostgreSQL 99 or later"):
        backup.pg_tool("pg_dump", 99, str(tmp_path))
