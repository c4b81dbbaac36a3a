"""Running the long work of fleet.domain.jobs off the request.

With FLEET_REDIS_URL set, a job is put on an RQ queue (JOBS_QUEUE, default "fleet") and run
by any RQ worker of any machine: `flask fleet worker` (the app's own settings), or
`rq worker -u $FLEET_REDIS_URL fleet` with the app's environment (the job builds the app
from it). Without Redis, it runs in a thread of the web process that took the request.

Either way the job table is the record: a runner claims the job first (so it runs once
however often it was handed out), writes its progress through a connection of its own,
and leaves the file in JOBS_DIR (default instance/jobs; shared storage when the nodes are
on several machines, like ATTACHMENT_DIR). Each start also removes the expired files.
"""

import logging
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path

from flask import Flask, current_app
from flask_babel import force_locale
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from .domain import job_work, jobs, notices
from .domain.errors import DomainError
from .domain.excel.safety import UnsafeFile
from .domain.i18n import both_languages
from .domain.programme import local_today
from .extensions import db
from .models import Job, utcnow

log = logging.getLogger(__name__)

_lock = threading.Lock()
_executors: dict[int, ThreadPoolExecutor] = {}
_futures: list[Future] = []


def folder(app: Flask | None = None) -> Path:
    """Where the jobs' files are kept (JOBS_DIR, default instance/jobs)."""
    app = app or current_app
    path = Path(app.config.get("JOBS_DIR") or Path(app.instance_path) / "jobs")
    path.mkdir(parents=True, exist_ok=True)
    return path.resolve()


# --- handing a job out ------------------------------------------------------------------------

def start(job_id: int) -> None:
    """Run the job (committed, status queued) on an RQ worker, or in a thread here."""
    app = current_app._get_current_object()
    if app.config.get("REDIS_URL"):
        import redis

        try:
            queue(app).enqueue_call(
                "fleet.worker.run_job", args=(job_id,), job_id=rq_job_id(app, job_id),
                timeout=int(app.config["JOB_TIMEOUT"]), result_ttl=0,
                failure_ttl=int(jobs.LIFETIME.total_seconds()),
                description=f"fleet job {job_id}")
            return
        except redis.RedisError:  # the job still runs, here, rather than never
            log.warning("Redis refused job %s; running it in this process", job_id)
    _submit(app, execute, app, job_id)


def queue(app: Flask):
    """The RQ queue of this installation's jobs (in the Redis of FLEET_REDIS_URL)."""
    import redis
    from rq import Queue

    connection = app.extensions.get("fleet.jobs_redis")
    if connection is None:
        connection = redis.Redis.from_url(app.config["REDIS_URL"])
        app.extensions["fleet.jobs_redis"] = connection
    return Queue(app.config["JOBS_QUEUE"], connection=connection)


def rq_job_id(app: Flask, job_id: int) -> str:
    """One RQ job per Fleet job (an enqueue of the same job replaces, never duplicates)."""
    prefix = "".join(c if c.isalnum() else "-" for c in app.config["REDIS_KEY_PREFIX"])
    return f"{prefix.strip('-') or 'fleet'}-job-{job_id}"


def _submit(app: Flask, function, *args) -> None:
    future = _executor(app).submit(function, *args)
    with _lock:
        _futures[:] = [f for f in _futures if not f.done()] + [future]


def _executor(app: Flask) -> ThreadPoolExecutor:
    with _lock:
        pool = _executors.get(id(app))
        if pool is None:
            pool = ThreadPoolExecutor(max_workers=int(app.config["JOB_THREADS"]),
                                      thread_name_prefix="fleet-job")
            _executors[id(app)] = pool
        return pool


def drain(timeout: float = 120) -> bool:
    """Wait for the jobs running in threads of this process (tests; a graceful stop)."""
    with _lock:
        pending = list(_futures)
    done, not_done = wait(pending, timeout=timeout)
    return not not_done


# --- running one ------------------------------------------------------------------------------

def execute(app: Flask, job_id: int) -> None:
    """Claim the job and do it; record its file, or why it failed. Never raises."""
    with app.app_context():
        _own_connections(app)
        try:
            if not jobs.claim(db.session, job_id):
                db.session.rollback()
                return  # another runner has it, or it was failed as lost meanwhile
            db.session.commit()
            _run(app, db.session.get(Job, job_id))
        finally:
            db.session.remove()


def _run(app: Flask, job: Job) -> None:
    store = folder(app)
    try:
        jobs.cleanup(db.session, store)
        db.session.commit()
        with force_locale(job.params.get("lang", "zh")):
            output, result = job_work.run(db.session, job, store, _progress(app, job.id),
                                          int(app.config["JOB_PROGRESS_ROWS"]),
                                          local_today())
        jobs.finish(db.session, job, output, result)
        db.session.commit()
    except (DomainError, UnsafeFile) as refused:
        _failed(job.id, both_languages(refused.message), getattr(refused, "keep", None))
    except Exception:  # the job's page says it failed; the log has the traceback
        log.exception("background job %s (%s) failed", job.id, job.kind)
        _failed(job.id, both_languages(jobs.UNEXPECTED))


def _failed(job_id: int, error: dict[str, str], keep=None) -> None:
    """The work's writes rolled back; what the failure keeps (jobs.JobFailed.keep) and the
    failure itself committed together."""
    db.session.rollback()
    if keep is not None:
        try:
            keep(db.session)
        except Exception:  # the failure is still recorded, and says why
            log.exception("job %s: what its failure keeps could not be written", job_id)
            db.session.rollback()
    jobs.fail(db.session, job_id, error)
    db.session.commit()


def _progress(app: Flask, job_id: int):
    """Progress is written through a session of its own, so the job's session (maybe in the
    middle of a server-side cursor) is never committed by it."""

    def report(done: int, total: int | None) -> None:
        try:
            with Session(db.engine) as own:
                jobs.report_progress(own, job_id, done, total)
                own.commit()
        except OperationalError:  # (SQLite busy) progress is shown, never worth a failure
            log.warning("progress of job %s not recorded this time", job_id)

    return report


def _own_connections(app: Flask) -> None:
    """A forked RQ work horse must not use the pooled connections of its parent."""
    pid = app.extensions.get("fleet.jobs_pid")
    if pid is not None and pid != os.getpid():
        db.engine.dispose(close=False)
    app.extensions["fleet.jobs_pid"] = os.getpid()


# --- the outbox's mail --------------------------------------------------------------------------

def send_mail_later(app: Flask, ids: list[int]) -> None:
    """Send the mail just committed to the outbox (fleet.domain.notices) off the request: on
    a worker with Redis, else in a thread here. A slow or absent mail server never holds a
    page; what is not sent stays in the outbox for `flask fleet remind`."""
    if app.config.get("REDIS_URL"):
        import redis

        try:
            queue(app).enqueue_call("fleet.worker.send_mail", args=(list(ids),), timeout=300,
                                    result_ttl=0, failure_ttl=int(
                                        jobs.LIFETIME.total_seconds()),
                                    description=f"fleet mail {len(ids)}")
            return
        except redis.RedisError:
            log.warning("Redis refused the mail job; sending from this process instead")
    _submit(app, send_mail, app, list(ids))


def send_mail(app: Flask, ids: list[int]) -> None:
    """Deliver these outbox rows (those still unsent). Never raises."""
    with app.app_context():
        _own_connections(app)
        try:
            notices.deliver(db.session, notices.MailSettings.from_config(app.config), ids)
            db.session.commit()
        except Exception:  # the mail stays in the outbox; `flask fleet remind` retries it
            log.exception("sending %d queued mail(s) failed; they stay in the outbox",
                          len(ids))
            db.session.rollback()
        finally:
            db.session.remove()


def work(app: Flask, burst: bool = False, simple: bool = False) -> bool:
    """`flask fleet worker`: an RQ worker on this installation's queue, with the app's
    settings. Each job runs in a forked work horse (or in this process with `simple`)."""
    from rq import SimpleWorker, Worker

    jobs_queue = queue(app)
    db.engine.dispose()  # no pooled connection is inherited by a work horse
    app.extensions["fleet.jobs_pid"] = os.getpid()
    cls = SimpleWorker if simple else Worker
    worker = cls([jobs_queue], connection=jobs_queue.connection)
    return worker.work(burst=burst, logging_level="INFO")


def stale_check(job: Job) -> None:
    """A job page's look at a job that may have been lost (its runner stopped)."""
    if jobs.mark_if_stale(db.session, job, utcnow()):
        db.session.commit()
