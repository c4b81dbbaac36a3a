"""Background jobs (后台任务): long work taken off the request — the national roster export, the
check of a large roster upload and its saving, the summary workbook of many cities — with its
progress, its error in the user's words and its file, kept for a day.

The job table is the one record every web node and worker reads. A request key (kind, scope,
parameters, the data version, and for a user's own upload the user) makes a request
idempotent: while a job of that key runs, or its file is still fresh, asking again returns
the same job (`active_key` is unique, so two nodes taking the same click at once make one).
A job runs once: a runner must first claim it (queued → running in one UPDATE).

Plain functions over a session; the caller commits. Running the work is fleet.background's.
"""

import hashlib
import json
import os
import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..models import City, Job, RosterUpload, User, utcnow
from .audit import Actor, record_event
from .errors import DomainError

# The kinds of job, and what their page calls them.
KINDS = {
    "roster_export": _l("Vehicle roster export"),
    "roster_check": _l("Check of a roster upload"),
    "roster_confirm": _l("Saving a roster upload"),
    "summary": _l("Summary workbook"),
}
ACTIVE = ("queued", "running")
# The kinds that work on a user's own upload: nobody else sees them, not even the ministry.
OWN_UPLOAD = ("roster_check", "roster_confirm")
# A job's file is kept this long after it was made.
LIFETIME = timedelta(days=1)
# A running job that has not reported progress for this long, or a queued one that no
# runner took for STALE_QUEUED, was lost (a web process or worker stopped): it is failed, so
# the same request can be made again.
STALE_RUNNING = timedelta(minutes=15)
STALE_QUEUED = timedelta(hours=1)
# The roles that read the nation's files.
MINISTRY_SIDE = ("ministry", "viewer", "admin")

INTERRUPTED = _l("The job was interrupted (the server restarted or stopped). Please start it "
                 "again.")
UNEXPECTED = _l("The job failed because of an error on the server; it has been logged. Please "
                "try again later, or tell the administrator.")


class JobFailed(DomainError):
    """The work cannot be done; the message says why, in the user's words.

    `keep`, when given, writes what must be kept even so (the refused claims of a roster):
    the runner calls it after rolling the work back, in the transaction that records the
    failure, so it survives and the work leaves nothing behind.
    """

    def __init__(self, message, keep: Callable[[Session], object] | None = None):
        super().__init__(message)
        self.keep = keep


# --- asking for a job -------------------------------------------------------------------------

def request_key(kind: str, city_id: int | None, params: dict, version: str,
                user_id: int | None = None) -> str:
    """The identity of a request: the same kind, scope and parameters on the same data (and,
    for a user's own upload, the same user) give the same key."""
    text = json.dumps([kind, city_id, params, str(version), user_id], sort_keys=True,
                      ensure_ascii=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def reusable(session: Session, key: str, now: datetime | None = None,
             folder: Path | None = None) -> Job | None:
    """The job of this key that may be handed out again: queued or running (and alive), or
    done with its file still fresh (and, given the jobs' folder, still there). A lost or
    expired one is released (its key freed)."""
    now = now or utcnow()
    job = session.scalar(select(Job).where(Job.active_key == key))
    if job is None:
        return None
    if job.status in ACTIVE and not _stale(job, now):
        return job
    if (job.status == "done" and job.expires_at > now
            and (folder is None or not job.file_name or file_of(folder, job) is not None)):
        return job
    if job.status in ACTIVE:
        _fail(job, _texts(INTERRUPTED), now)
    job.active_key = None
    session.flush()
    return None


def create(session: Session, actor: Actor, kind: str, city_id: int | None, params: dict,
           key: str, now: datetime | None = None) -> tuple[Job, bool]:
    """A new queued job for this key, audited; or, when another request made one a moment
    ago (the unique key refuses the second), that one. Returns (job, created)."""
    if kind not in KINDS:
        raise ValueError(kind)
    now = now or utcnow()
    job = Job(kind=kind, user_id=actor.user_id, username=actor.username or "", city_id=city_id,
              params=params, key=key, active_key=key, status="queued", done=0,
              created_at=now, expires_at=now + LIFETIME)
    try:
        with session.begin_nested():
            session.add(job)
            session.flush()
    except IntegrityError:
        other = session.scalar(select(Job).where(Job.active_key == key))
        if other is None:
            raise
        return other, False
    record_event(session, actor, "job.request", "job", job.id,
                 after={"kind": kind, **{k: v for k, v in params.items() if v is not None}},
                 detail=describe(session, job))
    return job, True


def request_job(session: Session, actor: Actor, kind: str, city_id: int | None, params: dict,
                version: str, *, per_user: bool = False,
                folder: Path | None = None) -> tuple[Job, bool]:
    """The job for this request: the running or fresh one of the same key, or a new one.
    Returns (job, created); start it after the commit only when created."""
    key = request_key(kind, city_id, params, version, actor.user_id if per_user else None)
    job = reusable(session, key, folder=folder)
    if job is not None:
        return job, False
    return create(session, actor, kind, city_id, params, key)


def describe(session: Session, job: Job) -> str:
    """One line for the audit log: kind and scope ('roster_export 440300' or '... national')."""
    scope = "national"
    if job.city_id is not None:
        city = session.get(City, job.city_id)
        scope = city.code if city is not None else str(job.city_id)
    return f"{job.kind} {scope}"


# --- who may see a job ------------------------------------------------------------------------

def may_see(actor: Actor, job: Job) -> bool:
    """The requester always; a user's own upload (its check, its saving), nobody else; a
    file of the nation, the ministry's side (ministry, viewer, admin); a city's file, that
    city's users and the ministry's side. A city never reaches another city's job."""
    if actor.user_id is not None and job.user_id == actor.user_id:
        return True
    if job.kind in OWN_UPLOAD:
        return False
    if job.city_id is None:
        return actor.role in MINISTRY_SIDE
    if actor.role == "city":
        return actor.city_id == job.city_id
    return actor.role in MINISTRY_SIDE


def recent_jobs(session: Session, actor: Actor, limit: int = 50) -> list[Job]:
    """The user's own jobs of the last day or so, newest first."""
    since = utcnow() - LIFETIME - timedelta(hours=1)
    return list(session.scalars(select(Job).where(Job.user_id == actor.user_id,
                                                  Job.created_at >= since)
                                .order_by(Job.id.desc()).limit(limit)))


# --- running ----------------------------------------------------------------------------------

def claim(session: Session, job_id: int, now: datetime | None = None) -> bool:
    """Take a queued job to run it: True for exactly one runner, however often it was handed
    out (a second enqueue, a worker and a thread, two workers)."""
    now = now or utcnow()
    result = session.execute(update(Job).where(Job.id == job_id, Job.status == "queued")
                             .values(status="running", started_at=now, heartbeat_at=now))
    return result.rowcount == 1


def report_progress(session: Session, job_id: int, done: int, total: int | None) -> None:
    """Rows (or steps) done so far; also the job's heartbeat."""
    session.execute(update(Job).where(Job.id == job_id, Job.status == "running")
                    .values(done=done, total=total, heartbeat_at=utcnow()))


def finish(session: Session, job: Job, output: "Output | None", result: dict | None = None,
           now: datetime | None = None) -> None:
    """The job is done: its file (if any) is kept for LIFETIME from now."""
    now = now or utcnow()
    session.refresh(job, ["done", "total"])  # written meanwhile by report_progress
    job.status = "done"
    job.finished_at = job.heartbeat_at = now
    job.expires_at = now + LIFETIME
    job.result = result
    if job.total is not None:
        job.done = job.total
    if output is not None:
        job.file_name = output.path.name
        job.download_name = output.download_name
        job.mimetype = output.mimetype
        job.file_size = output.path.stat().st_size


def fail(session: Session, job_id: int, error: dict[str, str],
         now: datetime | None = None) -> None:
    """The job failed: why, in both languages; its key is freed, so it may be asked again."""
    job = session.get(Job, job_id)
    if job is not None:
        _fail(job, error, now or utcnow())


def _fail(job: Job, error: dict[str, str], now: datetime) -> None:
    job.status = "failed"
    job.error = error
    job.finished_at = now
    job.active_key = None


def _stale(job: Job, now: datetime) -> bool:
    if job.status == "running":
        return (job.heartbeat_at or job.created_at) < now - STALE_RUNNING
    return job.status == "queued" and job.created_at < now - STALE_QUEUED


def mark_if_stale(session: Session, job: Job, now: datetime | None = None) -> bool:
    """Fail a job that was lost (see STALE_RUNNING); True when it was."""
    now = now or utcnow()
    if job.status in ACTIVE and _stale(job, now):
        _fail(job, _texts(INTERRUPTED), now)
        return True
    return False


def _texts(message) -> dict[str, str]:
    """A message for the job's record, in both languages (rendered by fleet.background when
    there is an app; the English source text otherwise)."""
    from .i18n import both_languages

    return both_languages(message)


# --- files ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Output:
    """The file a job wrote: where it is, its name for the user, its type."""

    path: Path
    download_name: str
    mimetype: str


def new_file(folder: Path, job: Job, ext: str) -> Path:
    """A fresh, unguessable name in the jobs' folder for the job's file."""
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"job-{job.id}-{secrets.token_hex(8)}.{ext}"


def file_of(folder: Path, job: Job) -> Path | None:
    """The job's file, if it is done, not expired and the file is still there."""
    if job.status != "done" or not job.file_name or job.expires_at <= utcnow():
        return None
    path = folder / job.file_name
    if path.parent != folder or not path.is_file():
        return None
    return path


def cleanup(session: Session, folder: Path, now: datetime | None = None) -> int:
    """Expire the jobs whose day is over and remove their files; fail the lost ones; remove
    files no job owns any more (a job that failed half-way). Returns the files removed."""
    now = now or utcnow()
    removed = 0
    expired_ids = set()
    for job in session.scalars(select(Job).where(
            or_(Job.status.in_(ACTIVE), (Job.status == "done") & (Job.expires_at <= now)))):
        if job.status in ACTIVE:
            mark_if_stale(session, job, now)
            continue
        job.status = "expired"
        job.active_key = None
        expired_ids.add(job.id)
    session.flush()
    if not folder.is_dir():
        return 0
    kept = set(session.scalars(select(Job.file_name).where(Job.status == "done",
                                                           Job.file_name.is_not(None))))
    running = {f"job-{i}-" for i in session.scalars(select(Job.id).where(
        Job.status.in_(ACTIVE)))}
    # A file younger than that is left alone: its job may have been claimed since the
    # lists above were read.
    recent = (now - STALE_RUNNING).timestamp()
    for path in folder.glob("job-*"):
        if path.name in kept or any(path.name.startswith(p) for p in running):
            continue
        try:
            if path.stat().st_mtime > recent and job_id_of(path) not in expired_ids:
                continue
            os.unlink(path)
            removed += 1
        except FileNotFoundError:
            pass
    return removed


def job_id_of(path: Path) -> int | None:
    """The job a file of the folder belongs to (job-<id>-<random>.<ext>)."""
    parts = path.name.split("-")
    return int(parts[1]) if len(parts) > 2 and parts[1].isdigit() else None


# --- helpers for the work of each kind --------------------------------------------------------

Progress = Callable[[int, int | None], None]


def counted(rows: Iterable, progress: Progress, total: int | None, every: int) -> Iterator:
    """`rows` as they are, reporting how many went by every `every` rows."""
    n = 0
    for row in rows:
        yield row
        n += 1
        if n % every == 0:
            progress(n, total)
    progress(n, total)


def requester(session: Session, job: Job) -> Actor:
    """The user who asked, acting again (for the checks that depend on who acts)."""
    user = session.get(User, job.user_id) if job.user_id is not None else None
    if user is None or not user.active:
        raise JobFailed(_l("The account that asked for this job no longer exists or is "
                           "disabled."))
    return Actor.of(user)


def pending_upload(session: Session, job: Job) -> RosterUpload:
    """The roster file a check or saving job reads (kept in the database, so any worker
    reads it): the user's own, of the job's month, and the very file asked about (an id of
    a file let go may be given to a later one on SQLite)."""
    upload = session.get(RosterUpload, int(job.params.get("upload_id") or 0))
    if (upload is None or upload.user_id != job.user_id or upload.city_id != job.city_id
            or upload.period != job.params.get("period")
            or upload.sha256 != job.params.get("sha256", upload.sha256)):
        raise JobFailed(_l("This check of the upload has expired. Please upload the file "
                           "again."))
    return upload


def saving_of_upload(session: Session, actor: Actor, period: str,
                     upload_id: int) -> Job | None:
    """The user's job saving this upload that is still held (queued, running, or done
    within the day), newest first: asked again once the upload is gone (a second click
    that came late, the browser's back), the answer is that job, not a second run."""
    for job in session.scalars(select(Job).where(
            Job.kind == "roster_confirm", Job.user_id == actor.user_id,
            Job.active_key.is_not(None), Job.expires_at > utcnow())
            .order_by(Job.id.desc())):
        if job.params.get("upload_id") == upload_id and job.params.get("period") == period:
            return job
    return None
