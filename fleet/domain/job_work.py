"""The work of each kind of background job (fleet.domain.jobs), writing its file into the
jobs' folder and reporting progress as it goes. Each reuses the writer of the direct
download it replaces, so the file is the same as the one streamed to the browser.

Plain functions over a session: `run` is given the job, the folder, a progress callback
(rows or steps done, total) and how often to call it; it returns the file written (or None)
and what the job's page shows besides (or None). A JobFailed says why in the user's words.
"""

from collections.abc import Callable
from datetime import date
from pathlib import Path

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete
from sqlalchemy.orm import Session

from ..models import City, Job, RosterUpload
from . import figures, jobs, roster, vehicles
from .audit import Actor
from .cities import city_by_code
from .excel import roster_files
from .excel.summary import write_summary_workbook
from .periods import parse_period

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV = "text/csv; charset=utf-8"
MIMETYPES = {"csv": CSV, "xlsx": XLSX}


def run(session: Session, job: Job, folder: Path, progress: jobs.Progress, every: int,
        today: date) -> tuple[jobs.Output | None, dict | None]:
    """Do the job's work (see the module's docstring)."""
    work: Callable = {"roster_export": roster_export, "summary": summary,
                      "roster_check": roster_check, "roster_confirm": roster_confirm}[job.kind]
    return work(session, job, folder, progress, every, today)


# --- the national (or a filtered) roster, as CSV or .xlsx -------------------------------------

def export_filter(session: Session, params: dict) -> vehicles.ExportFilter:
    """The export's filter from the job's parameters (checked again: they were stored)."""
    city_ids = None
    if params.get("city"):
        city = city_by_code(session, params["city"])
        if city is None:
            raise jobs.JobFailed(_l("No such city."))
        city_ids = [city.id]
    period = params.get("period") or None
    if period:
        period = parse_period(period)
    category, powertrain = params.get("category") or None, params.get("powertrain") or None
    if not vehicles.valid_filter_values(category, powertrain):
        raise jobs.JobFailed(_l("Unknown sector or powertrain."))
    return vehicles.ExportFilter(city_ids, period, category, powertrain)


def export_name(params: dict) -> str:
    """fleet-vehicles[-440300][-2026-03][-bus][-bev].csv, as the direct download names it."""
    parts = ["fleet-vehicles", *(params.get(k) for k in ("city", "period", "category",
                                                         "powertrain") if params.get(k))]
    return "-".join(parts) + "." + params["fmt"]


def roster_export(session: Session, job: Job, folder: Path, progress: jobs.Progress,
                  every: int, _today: date) -> tuple[jobs.Output, None]:
    fmt, lang = job.params["fmt"], job.params.get("lang", "zh")
    flt = export_filter(session, job.params)
    total = vehicles.export_count(session, flt)
    progress(0, total)
    rows = jobs.counted(vehicles.export_rows(session, flt), progress, total, every)
    body = (roster_files.export_csv(rows, lang) if fmt == "csv"
            else roster_files.export_xlsx(rows, lang))
    path = jobs.new_file(folder, job, fmt)
    with open(path, "wb") as out:
        for chunk in body:
            out.write(chunk)
    return jobs.Output(path, export_name(job.params), MIMETYPES[fmt]), None


# --- the summary workbook of the nation -------------------------------------------------------

def summary(session: Session, job: Job, folder: Path, progress: jobs.Progress, _every: int,
            today: date) -> tuple[jobs.Output, None]:
    """Three steps: the figures, the flat data, the workbook (written straight to the file)."""
    basis, through = job.params["basis"], job.params.get("through")
    lang = job.params.get("lang", "zh")
    progress(0, 3)
    national = figures.national_progress(session, basis, through, today=today)
    progress(1, 3)
    rows = figures.flat_rows(session, basis, national.window.through, today=today)
    path = jobs.new_file(folder, job, "xlsx")
    with open(path, "wb") as out:
        progress(2, 3)
        write_summary_workbook(national, rows, out, lang)
    name = f"fleet-summary-{national.window.through}-{basis}.xlsx"
    return jobs.Output(path, name, XLSX), None


# --- the dry run of a large roster upload -----------------------------------------------------

def _upload_of(session: Session, job: Job) -> tuple[str, Actor, City, str, RosterUpload]:
    """What a job on a clerk's upload works with: the language, the clerk, the city, the
    month, and the pending file (jobs.pending_upload: JobFailed once it is gone)."""
    return (job.params.get("lang", "zh"), jobs.requester(session, job),
            session.get(City, job.city_id), job.params["period"],
            jobs.pending_upload(session, job))


def roster_check(session: Session, job: Job, folder: Path, progress: jobs.Progress,
                 _every: int, _today: date) -> tuple[jobs.Output | None, dict]:
    """The dry run of fleet.domain.roster (read, every rule, VINs counted elsewhere), as the
    page would have done it: refused claims are kept for the ministry, the findings go to
    the job's page, and the failing rows (if any) are the job's file."""
    lang, actor, city, period, upload = _upload_of(session, job)
    progress(0, 3)
    file = roster.read_roster(upload.data, upload.filename)
    progress(1, 3)
    check = roster.preview(session, actor, city, period, file, lang)
    progress(2, 3)
    roster.record_conflicts(session, actor, check, "upload")
    result = roster.check_result(check, lang)
    result["upload_id"] = upload.id
    output = None
    if check.errors:
        headers, rows = roster.error_rows(check, file, lang)
        path = jobs.new_file(folder, job, "xlsx")
        path.write_bytes(roster_files.errors_workbook(headers, rows))
        output = jobs.Output(path, f"fleet-roster-errors-{city.code}-{period}.xlsx", XLSX)
    return output, result


# --- the confirmation of a large roster upload ------------------------------------------------

ALREADY_SAVED = _l("This upload has already been saved. Please upload the file again to save "
                   "it once more.")


def roster_confirm(session: Session, job: Job, _folder: Path, progress: jobs.Progress,
                   _every: int, _today: date) -> tuple[None, dict]:
    """The confirmation of a checked upload, as the page does it for a small one: the month's
    roster replaced by the file, all or nothing (fleet.domain.roster.replace_roster, audited
    as the clerk who asked), and the file let go. Rows refused since the check (a VIN another
    city counted meanwhile) fail the job, and their claims are kept for the ministry."""
    lang, actor, city, period, upload = _upload_of(session, job)
    progress(0, 2)
    file = roster.read_roster(upload.data, upload.filename)
    # The last report: from the first write on, the job's transaction holds SQLite's lock
    # until it commits, and a report would only wait for it.
    progress(1, 2)
    # The file is let go first: a second run of the same upload (a job failed as lost that
    # was still working) waits for this one's row here, then finds it gone.
    if not session.execute(delete(RosterUpload).where(RosterUpload.id == upload.id)).rowcount:
        raise jobs.JobFailed(ALREADY_SAVED)
    try:
        check, notes = roster.replace_roster(session, actor, city, period, file, lang)
    except roster.RosterHasErrors as failed:
        refused = failed.check  # (`failed` itself is gone once the except clause ends)
        first = refused.errors[0]
        raise jobs.JobFailed(
            _l("%(summary)s Row %(row)s: %(problem)s Please upload the file again to check "
               "it.", summary=failed.message, row=first.row, problem=first.message),
            keep=lambda s: roster.record_conflicts(s, actor, refused, "upload")) from None
    return None, {"period": period, "saved": len(check.vehicles), "filename": file.filename,
                  "notes": [str(note) for note in notes]}
