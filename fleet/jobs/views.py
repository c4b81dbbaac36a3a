"""Views of background jobs: a job's page (progress bar, then the download or the reason it
failed), its status as JSON, its file, one's recent jobs. Only those who may see a job reach
it (fleet.domain.jobs.may_see); anyone else gets 404, audited."""

from flask import abort, jsonify, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import login_required
from werkzeug.wsgi import FileWrapper

from .. import background
from ..domain import jobs
from ..domain.cities import city_by_code
from ..extensions import db
from ..models import Job
from ..web import attachment, current_actor, lang, refuse
from . import bp

CHUNK = 256 * 1024


def _visible(job_id: int) -> Job:
    """The job if the user may see it; 404 otherwise (audited when it exists)."""
    job = db.session.get(Job, job_id)
    if job is None:
        abort(404)
    if not jobs.may_see(current_actor(), job):
        refuse(404)
    background.stale_check(job)
    return job


def _status(job: Job) -> dict:
    """What the page shows, as JSON for its script."""
    percent = None
    if job.total:
        percent = min(100, round(100 * job.done / job.total))
    elif job.status == "done":
        percent = 100
    error = (job.error or {}).get(lang()) if job.status == "failed" else None
    return {
        "id": job.id, "kind": job.kind, "status": job.status, "done": job.done,
        "total": job.total, "percent": percent, "error": error,
        "status_text": status_text(job.status),
        "progress_text": progress_text(job),
        "download_url": (url_for("jobs.download", job_id=job.id)
                         if job.status == "done" and job.file_name else None),
        "page_url": url_for("jobs.show", job_id=job.id),
    }


def status_text(status: str) -> str:
    return {"queued": _("Waiting to start"), "running": _("Running"), "done": _("Ready"),
            "failed": _("Failed"), "expired": _("Expired")}.get(status, status)


def progress_text(job: Job) -> str:
    if job.total:
        return _("%(done)s of %(total)s", done=f"{job.done:,}", total=f"{job.total:,}")
    if job.status == "running":
        return _("%(done)s done", done=f"{job.done:,}")
    return ""


@bp.route("/")
@login_required
def index():
    """The user's own jobs of the last day, newest first."""
    items = jobs.recent_jobs(db.session, current_actor())
    return render_template("jobs/index.html", items=items, kinds=jobs.KINDS,
                           status_text=status_text)


@bp.route("/<int:job_id>")
@login_required
def show(job_id: int):
    """A job's page: its progress (the page's script follows it; without script, the
    refresh link), then its file, or why it failed. A roster check goes on to its findings;
    a roster's saving says how many vehicles it saved, with the way back to the roster."""
    job = _visible(job_id)
    if job.kind == "roster_check" and job.status == "done":
        return redirect(url_for("returns.roster_check", period=job.params["period"],
                                job_id=job.id))
    city = city_by_code(db.session, job.params["city"]) if job.params.get("city") else None
    roster_url = (url_for("returns.roster_page", period=job.params["period"])
                  if job.kind == "roster_confirm" else None)
    return render_template("jobs/show.html", job=job, info=_status(job),
                           title=jobs.KINDS[job.kind], active=job.status in jobs.ACTIVE,
                           city_name=city.name(lang()) if city is not None else None,
                           roster_url=roster_url)


@bp.route("/<int:job_id>/status")
@login_required
def status(job_id: int):
    """The job's status as JSON: status, done, total, percent, error, download_url."""
    response = jsonify(_status(_visible(job_id)))
    response.cache_control.no_store = True
    return response


@bp.route("/<int:job_id>/download")
@login_required
def download(job_id: int):
    """The job's file, while it is kept; every download audited."""
    job = _visible(job_id)
    path = jobs.file_of(background.folder(), job)
    if path is None:
        abort(404)
    try:
        handle = open(path, "rb")  # noqa: SIM115 (closed by the response's FileWrapper)
    except FileNotFoundError:
        abort(404)
    size = path.stat().st_size
    response = attachment(FileWrapper(handle, CHUNK), job.mimetype or "application/octet-stream",
                          job.download_name or path.name, record=("job", job.id))
    response.headers["Content-Length"] = str(size)
    return response
