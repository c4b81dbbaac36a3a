"""Backup and restore (等保 8.1.4.9): a consistent copy of the live database and the instance
secret key in one file, and its restore.

A backup is a gzipped tar file holding
  manifest.json    when, which kind of database, the Alembic revision, each table's rows,
                   and the SHA-256 of every other file
  database.sqlite  SQLite: a copy made with SQLite's online backup API (consistent while the
                   app writes)
  database.dump    PostgreSQL: `pg_dump -Fc`, taken in the same snapshot as the row counts
  secret_key       instance/secret_key, when the key lives there (not when it is set by
                   FLEET_SECRET_KEY, whose owner keeps it)

Restore refuses a database that has rows unless told to overwrite it, checks the files
against the manifest first, and the row counts against it afterwards.
"""

import hashlib
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine

FORMAT = "fleet-backup"
FORMAT_VERSION = 1
SUFFIX = ".tar.gz"
# Tables whose rows a schema has from its creation (Alembic's revision, the data version).
BOOKKEEPING = frozenset({"alembic_version", "data_version"})


class BackupError(Exception):
    """Backup or restore cannot go on; the message says why, in one line."""


@dataclass(frozen=True)
class BackupResult:
    path: Path
    manifest: dict


# --- what is in a database ---------------------------------------------------------------------

def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def table_counts(conn) -> dict[str, int]:
    """Rows of every table of the database (Alembic's included), by table name."""
    names = sorted(inspect(conn).get_table_names())
    return {name: conn.execute(text(f"SELECT COUNT(*) FROM {_quote(name)}")).scalar_one()
            for name in names}


def _alembic_revision(counts: dict, conn) -> str | None:
    if "alembic_version" not in counts:
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def default_name(now: datetime) -> str:
    return f"fleet-backup-{now:%Y%m%dT%H%M%SZ}{SUFFIX}"


# --- PostgreSQL tools --------------------------------------------------------------------------

def _pg_env(engine: Engine) -> dict:
    """libpq's environment for the engine's database (the password never on a command line)."""
    url = engine.url
    env = dict(os.environ)
    for key, value in (("PGHOST", url.query.get("host") or url.host),
                       ("PGPORT", url.port), ("PGUSER", url.username),
                       ("PGPASSWORD", url.password), ("PGDATABASE", url.database),
                       ("PGSSLMODE", url.query.get("sslmode"))):
        if value:
            env[key] = str(value)
    return env


def _major(version_text: str) -> int:
    match = re.search(r"(\d+)(?:\.\d+)?", version_text)
    return int(match.group(1)) if match else 0


def pg_tool(name: str, server_major: int, bin_dir: str | None = None) -> str:
    """The path of pg_dump or pg_restore whose major version is at least the server's (an
    older client cannot read a newer server). Looks in bin_dir, on PATH, then in Debian's
    /usr/lib/postgresql/<major>/bin."""
    candidates = [Path(bin_dir) / name] if bin_dir else []
    if shutil.which(name):
        candidates.append(Path(shutil.which(name)))
    candidates.append(Path(f"/usr/lib/postgresql/{server_major}/bin/{name}"))
    found = []
    for path in candidates:
        if not path.exists():
            continue
        out = subprocess.run([str(path), "--version"], capture_output=True, text=True)
        match = re.search(r"\(PostgreSQL\)\s+(\d+)", out.stdout)  # "pg_dump (PostgreSQL) 15.2"
        client = int(match.group(1)) if match else 0
        if client >= server_major:
            return str(path)
        found.append(f"{path} ({client})")
    raise BackupError(f"{name} for PostgreSQL {server_major} or later is needed; found "
                      f"{', '.join(found) or 'none'} (install postgresql-client-{server_major} "
                      "or set FLEET_PG_BIN_DIR).")


def _run(args: list[str], env: dict) -> None:
    done = subprocess.run(args, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupError(f"{Path(args[0]).name} failed: {done.stderr.strip()[:2000]}")


# --- backup ------------------------------------------------------------------------------------

def _sqlite_copy(engine: Engine, target: Path) -> tuple[dict, str | None]:
    """Copy the live SQLite database with the online backup API; counts from the copy."""
    source_path = engine.url.database
    if not source_path or source_path == ":memory:":
        raise BackupError("An in-memory SQLite database cannot be backed up.")
    source = sqlite3.connect(source_path)
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)
    finally:
        source.close()
        copy.close()
    from sqlalchemy import create_engine

    copy_engine = create_engine(f"sqlite:///{target}")
    try:
        with copy_engine.connect() as conn:
            counts = table_counts(conn)
            return counts, _alembic_revision(counts, conn)
    finally:
        copy_engine.dispose()


def _postgres_dump(engine: Engine, target: Path, bin_dir: str | None) -> tuple[dict, str | None,
                                                                                 str]:
    """pg_dump -Fc in a snapshot exported by the transaction that counts the rows, so the
    manifest describes exactly the dump."""
    with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
        server = ".".join(map(str, conn.dialect.server_version_info or ()))
        pg_dump = pg_tool("pg_dump", _major(server), bin_dir)
        snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
        counts = table_counts(conn)
        revision = _alembic_revision(counts, conn)
        _run([pg_dump, "-Fc", "--no-owner", "--no-privileges", f"--snapshot={snapshot}",
              "-f", str(target)], _pg_env(engine))
        conn.rollback()
    return counts, revision, server


def backup(engine: Engine, path: Path, secret_key_file: Path | None, *,
           pg_bin_dir: str | None = None, now: datetime | None = None) -> BackupResult:
    """Write the backup file at `path` (a folder gets a file named by the time), readable by
    its owner only. Returns the file's path and its manifest."""
    now = now or datetime.now(timezone.utc)
    path = Path(path)
    if path.is_dir() or str(path).endswith(os.sep):
        path = path / default_name(now)
    if path.exists():
        raise BackupError(f"{path} exists already; give another name.")
    path.parent.mkdir(parents=True, exist_ok=True)
    kind = engine.dialect.name
    with tempfile.TemporaryDirectory(prefix="fleet-backup-") as work:
        work_dir = Path(work)
        server = None
        if kind == "sqlite":
            db_file = work_dir / "database.sqlite"
            counts, revision = _sqlite_copy(engine, db_file)
        elif kind == "postgresql":
            db_file = work_dir / "database.dump"
            counts, revision, server = _postgres_dump(engine, db_file, pg_bin_dir)
        else:
            raise BackupError(f"Backups of {kind} databases are not supported.")
        files = [db_file]
        if secret_key_file is not None and secret_key_file.exists():
            shutil.copyfile(secret_key_file, work_dir / "secret_key")
            files.append(work_dir / "secret_key")
        manifest = {
            "format": FORMAT, "format_version": FORMAT_VERSION,
            "created_at": now.astimezone(timezone.utc).isoformat(timespec="seconds"),
            "database": kind, "server_version": server, "alembic_revision": revision,
            "tables": counts, "rows": sum(counts.values()),
            "secret_key": (work_dir / "secret_key") in files,
            "files": {f.name: {"sha256": _sha256(f), "bytes": f.stat().st_size}
                      for f in files},
        }
        partial = path.with_name(path.name + ".partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
            data = json.dumps(manifest, indent=2, ensure_ascii=False).encode()
            info = tarfile.TarInfo("manifest.json")
            info.size, info.mtime, info.mode = len(data), int(now.timestamp()), 0o600
            tar.addfile(info, io.BytesIO(data))
            for f in files:
                tar.add(f, arcname=f.name)
        # Renamed only when complete, so a cron job never leaves a half file under the name.
        os.replace(partial, path)
    return BackupResult(path, manifest)


# --- restore -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class RestoreResult:
    manifest: dict
    counts: dict[str, int]
    secret_key_written: bool


def read_manifest(path: Path) -> dict:
    """The manifest of a backup file; BackupError when it is not one of ours."""
    try:
        with tarfile.open(path, "r:gz") as tar:
            member = tar.extractfile("manifest.json")
            manifest = json.loads(member.read()) if member else None
    except (OSError, tarfile.TarError, KeyError, ValueError) as error:
        raise BackupError(f"{path} is not a Fleet backup ({error}).") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{path} is not a Fleet backup (no Fleet manifest).")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise BackupError(f"{path} has backup format {manifest.get('format_version')}; this "
                          f"version of Fleet reads format {FORMAT_VERSION}.")
    return manifest


def _extract(path: Path, manifest: dict, work_dir: Path) -> None:
    """Unpack the files the manifest names (nothing else) and check their hashes."""
    with tarfile.open(path, "r:gz") as tar:
        for name, expected in manifest["files"].items():
            if "/" in name or name.startswith("."):
                raise BackupError(f"{path}: unexpected file name {name!r} in the manifest.")
            member = tar.extractfile(name)
            if member is None:
                raise BackupError(f"{path}: {name} is missing.")
            with open(work_dir / name, "wb") as out:
                shutil.copyfileobj(member, out)
            if _sha256(work_dir / name) != expected["sha256"]:
                raise BackupError(f"{path}: {name} does not match its checksum; the file "
                                  "is damaged.")


def rows_in(engine: Engine) -> int:
    """How many rows the database holds (0 for an empty one: the bookkeeping rows of a
    freshly migrated schema are no data)."""
    with engine.connect() as conn:
        return sum(n for name, n in table_counts(conn).items() if name not in BOOKKEEPING)


def _restore_sqlite(engine: Engine, copy: Path) -> None:
    """Copy the backup over the target page by page (the online backup API, in reverse)."""
    target_path = engine.url.database
    if not target_path or target_path == ":memory:":
        raise BackupError("Cannot restore into an in-memory SQLite database.")
    engine.dispose()
    Path(target_path).parent.mkdir(parents=True, exist_ok=True)
    source, target = sqlite3.connect(copy), sqlite3.connect(target_path)
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()


def _restore_postgres(engine: Engine, dump: Path, bin_dir: str | None) -> None:
    """Drop the tables there, then pg_restore in one transaction (all or nothing)."""
    with engine.begin() as conn:
        server = ".".join(map(str, conn.dialect.server_version_info or ()))
        for name in inspect(conn).get_table_names():
            conn.execute(text(f"DROP TABLE IF EXISTS {_quote(name)} CASCADE"))
    pg_restore = pg_tool("pg_restore", _major(server), bin_dir)
    env = _pg_env(engine)
    listing = subprocess.run([pg_restore, "-l", str(dump)], env=env, capture_output=True,
                             text=True)
    if listing.returncode != 0:
        raise BackupError(f"pg_restore cannot read the dump: {listing.stderr.strip()}")
    # The target has its own schema public (a dump of a recreated one would create it again).
    entries = [line for line in listing.stdout.splitlines()
               if not re.search(r"\b(SCHEMA - public|COMMENT - SCHEMA public)\b", line)]
    list_file = dump.with_suffix(".list")
    list_file.write_text("\n".join(entries) + "\n")
    engine.dispose()
    _run([pg_restore, "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
          "-L", str(list_file), "-d", env.get("PGDATABASE", ""), str(dump)], env)


def restore(engine: Engine, path: Path, secret_key_file: Path | None, *, force: bool = False,
            pg_bin_dir: str | None = None) -> RestoreResult:
    """Restore the backup at `path` into the engine's database and the secret key into
    `secret_key_file`. Refuses a database with rows unless `force`; checks the row counts
    against the manifest afterwards."""
    path = Path(path)
    manifest = read_manifest(path)
    kind = engine.dialect.name
    if manifest["database"] != kind:
        raise BackupError(f"This backup is of a {manifest['database']} database; the "
                          f"configured database is {kind}.")
    existing = rows_in(engine)
    if existing and not force:
        raise BackupError(f"The database {engine.url.render_as_string(hide_password=True)} "
                          f"has data ({existing} rows); restoring would replace it. Use "
                          "--force to replace it.")
    with tempfile.TemporaryDirectory(prefix="fleet-restore-") as work:
        work_dir = Path(work)
        _extract(path, manifest, work_dir)
        if kind == "sqlite":
            _restore_sqlite(engine, work_dir / "database.sqlite")
        else:
            _restore_postgres(engine, work_dir / "database.dump", pg_bin_dir)
        with engine.connect() as conn:
            counts = table_counts(conn)
        if counts != manifest["tables"]:
            raise BackupError(f"After the restore the row counts differ from the backup's: "
                              f"{counts} vs {manifest['tables']}.")
        if "data_version" in counts:
            # A new generation, so no cache (Redis is shared) serves figures of the data
            # that was here before under the restored data's counter.
            with engine.begin() as conn:
                conn.execute(text("UPDATE data_version SET generation = :g"),
                             {"g": uuid.uuid4().hex})
        written = False
        if manifest.get("secret_key") and secret_key_file is not None:
            secret_key_file.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(secret_key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write((work_dir / "secret_key").read_bytes())
            written = True
    return RestoreResult(manifest, counts, written)
