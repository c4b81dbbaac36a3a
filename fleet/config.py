"""Settings: defaults here, then instance/config.py, then FLEET_* environment variables,
then the test mapping passed to create_app()."""

import os
import secrets
from datetime import timedelta
from pathlib import Path


class Defaults:
    # Sessions expire after this much inactivity (MLPS 2.0 assessors ask for it), and in any
    # case this long after sign-in, however busy (a stolen cookie does not live for ever).
    # Either may be given in seconds (FLEET_SESSION_ABSOLUTE_LIFETIME=28800).
    PERMANENT_SESSION_LIFETIME = timedelta(minutes=30)
    SESSION_ABSOLUTE_LIFETIME = timedelta(hours=12)
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_DURATION = timedelta(0)
    # The cookie is sent again when the session changed (the idle clock moves once a minute:
    # fleet.web.session_expiry), not on every response.
    SESSION_REFRESH_EACH_REQUEST = False

    # A database server's connections are tested after 10 s unused, not at every use
    # (fleet._ping_if_idle); {"pool_pre_ping": true} tests them at every use.
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}

    BABEL_DEFAULT_LOCALE = "zh"
    BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
    LANGUAGES = ("zh", "en")

    # Bootstrap is served by the app itself: government intranets have no internet.
    BOOTSTRAP_SERVE_LOCAL = True

    # Password policy (等保2.0: length and several character classes).
    PASSWORD_MIN_LENGTH = 10
    PASSWORD_MIN_CLASSES = 3
    LOGIN_MAX_FAILURES = 5
    LOGIN_LOCKOUT_MINUTES = 15

    # Uploads are bounded; larger bodies get 413.
    MAX_CONTENT_LENGTH = 5 * 1024 * 1024

    # Failed sign-ins allowed per client address (Flask-Limiter syntax), counted in memory, or
    # in Redis when REDIS_URL (FLEET_REDIS_URL) is set, so that every worker and node shares
    # the count. The prefix keeps this installation's keys apart in a shared Redis.
    LOGIN_THROTTLE = "10 per minute;100 per hour"
    LOGIN_THROTTLE_PREFIX = "fleet"

    # Strict-Transport-Security max-age, sent on responses served over HTTPS.
    HSTS_MAX_AGE = 365 * 24 * 3600

    # FLEET_ENV=production refuses to start with unsafe settings (see check_production).
    ENV = "development"

    # The machine API: requests per token (Flask-Limiter syntax); 429 with Retry-After above.
    API_RATE_LIMIT = "300 per minute"
    RATELIMIT_HEADERS_ENABLED = True

    # E-mail of notices (FLEET_MAIL_*): no server, no mail (notices stay in the inbox).
    MAIL_SERVER = ""
    MAIL_PORT = 25
    MAIL_USE_TLS = False
    MAIL_USERNAME = ""
    MAIL_PASSWORD = ""
    MAIL_SENDER = "fleet@localhost"
    # `flask fleet remind` chases cities this many days before the due date.
    REMIND_DAYS_BEFORE = 3
    # Where the stamped scans are kept (default: instance/attachments), never under static/.
    ATTACHMENT_DIR = ""
    # A stamped scan may be this large; the upload route allows it (other uploads keep
    # MAX_CONTENT_LENGTH).
    ATTACHMENT_MAX_BYTES = 10 * 1024 * 1024

    # Number of reverse proxies in front of the app whose X-Forwarded-For we trust.
    TRUSTED_PROXIES = 0

    # FLEET_REDIS_URL (e.g. redis://127.0.0.1:6379/0): the sign-in throttle, rate limits and
    # the figures' caches shared by every worker of every node. Unset: each process its own.
    REDIS_URL = None
    REDIS_KEY_PREFIX = "fleet:"

    # Background jobs (fleet.background): on RQ workers when REDIS_URL is set (this queue),
    # else in JOB_THREADS threads of each web process. Their files are kept for a day in
    # JOBS_DIR (default instance/jobs; storage shared by every node and worker when they are
    # on several machines). A job is stopped after JOB_TIMEOUT seconds; it reports progress
    # every JOB_PROGRESS_ROWS rows.
    JOBS_DIR = ""
    JOBS_QUEUE = "fleet"
    JOB_TIMEOUT = 3600
    JOB_THREADS = 2
    JOB_PROGRESS_ROWS = 5000
    # What goes to a job: a roster upload of more bytes than this (1 MiB: about 20,000 rows
    # of .xlsx) is checked in the background; the summary workbook of the nation once more
    # cities than this are active; a roster export of more vehicles than this is not
    # streamed straight to the browser (the page prepares it as a job instead).
    ROSTER_JOB_MIN_BYTES = 1024 * 1024
    SUMMARY_JOB_MIN_CITIES = 100
    ROSTER_DIRECT_MAX_ROWS = 50_000

    # Where `flask fleet backup` looks first for pg_dump / pg_restore (else PATH, then
    # Debian's /usr/lib/postgresql/<server major>/bin).
    PG_BIN_DIR = None


def as_timedelta(value) -> timedelta:
    """A lifetime from a setting: a timedelta, or seconds (as the environment gives it)."""
    return value if isinstance(value, timedelta) else timedelta(seconds=float(value))


class UnsafeConfiguration(RuntimeError):
    """FLEET_ENV=production with a setting that must not reach production."""


def check_production(config) -> None:
    """Refuse, with one clear line, the settings that must never serve real users: debug
    mode, a guessable secret key, session cookies sent over plain HTTP."""
    if str(config.get("ENV", "")).lower() != "production":
        return
    problems = []
    if config.get("DEBUG"):
        problems.append("debug mode is on (unset FLEET_DEBUG)")
    key = config.get("SECRET_KEY") or ""
    if len(key.encode() if isinstance(key, str) else key) < 32:
        problems.append("the secret key is shorter than 32 bytes (unset FLEET_SECRET_KEY to "
                        "use instance/secret_key, or set a longer one)")
    if config.get("SESSION_COOKIE_SECURE") is not True:
        problems.append("session cookies are not Secure (set FLEET_SESSION_COOKIE_SECURE=true "
                        "and serve over HTTPS)")
    if problems:
        raise UnsafeConfiguration("FLEET_ENV=production refuses to start: "
                                  + "; ".join(problems) + ".")


def database_url_from_env(instance_path: str) -> str:
    """The database: DATABASE_URL (or FLEET_DATABASE_URL) if set, else SQLite in instance/."""
    url = os.environ.get("FLEET_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if not url:
        return "sqlite:///" + str(Path(instance_path) / "fleet.sqlite")
    return normalise_database_url(url)


def normalise_database_url(url: str) -> str:
    """Use psycopg 3 for plain postgres:// and postgresql:// URLs."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def instance_secret_key(instance_path: str) -> str:
    """Read the secret key kept in the instance folder, creating it on first use.

    No secret lives in the repository; each installation gets its own.
    """
    path = Path(instance_path) / "secret_key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key
