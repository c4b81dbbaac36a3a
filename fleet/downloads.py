"""The summary workbook and the flat CSV as responses, for the progress pages and /api/v1
alike: the figures of the user's scope (fleet.web.city_scope) and file names that say what
the file holds."""

from flask import (
    Response,
    abort,
    current_app,
    flash,
    redirect,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from sqlalchemy import func, select

from . import background, cache
from .domain import attachments, figures, jobs, vehicles
from .domain.errors import DomainError
from .domain.excel import roster_files
from .domain.excel.flat import build_flat_csv
from .domain.excel.summary import build_summary_workbook
from .domain.programme import get_programme
from .extensions import db
from .models import Attachment, City
from .web import (
    CSV,
    XLSX,
    attachment,
    basis_and_through,
    city_scope,
    current_actor,
    lang,
    period_or_404,
)


def _flat(basis: str, through: str | None, city: City | None):
    return figures.flat_rows(db.session, basis, through,
                             city_ids=None if city is None else [city.id])


def summary_response() -> Response:
    """fleet-summary-2026-03-verified.xlsx (nation) or fleet-summary-440300-2026-03-...xlsx.
    The nation's of many cities is a background job: back to the dashboard, which offers it
    (the API, for machines that wait, always answers with the file)."""
    basis, through = basis_and_through()
    city = city_scope()
    if not request.path.startswith("/api/") and summary_in_background(city):
        return redirect_to_job_flow("progress.dashboard", basis=basis, through=through)
    progress = cache.national(basis, through) if city is None else cache.city(city, basis,
                                                                              through)
    body = build_summary_workbook(progress, _flat(basis, progress.window.through, city),
                                  lang())
    return attachment(body, XLSX, download_name("summary", progress.window.through, basis,
                                                 city, "xlsx"), record=_record(city))


def flat_csv_response() -> Response:
    """fleet-data-2026-03-reported.csv: one row per city, month, category, powertrain."""
    basis, through = basis_and_through()
    city = city_scope()
    through = figures.window(get_programme(db.session), through).through
    body = build_flat_csv(_flat(basis, through, city), lang())
    return attachment(body, CSV, download_name("data", through, basis, city, "csv"),
                      record=_record(city))


def _record(city: City | None) -> tuple[str, str] | None:
    """What the audit log says the file is about: the city, or (national) the file itself."""
    return ("city", city.code) if city is not None else None


def download_name(kind: str, through: str, basis: str, city: City | None, ext: str) -> str:
    """Names that say what they are: kind, city (if one), month, basis."""
    parts = ["fleet", kind, *([city.code] if city is not None else []), through, basis]
    return "-".join(parts) + "." + ext


def scan_store():
    """The folder of the stamped scans (ATTACHMENT_DIR, default instance/attachments)."""
    return attachments.folder(current_app.config["ATTACHMENT_DIR"], current_app.instance_path)


def scan_response(scan: Attachment, city: City, period: str) -> Response:
    """A stamped scan, always as an attachment with the app's own name, never sniffed."""
    try:
        data = attachments.read_scan(scan_store(), scan)
    except (OSError, DomainError):
        abort(404)
    response = attachment(data, attachments.KINDS[scan.kind],
                          attachments.download_name(scan, city, period))
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# --- vehicle rosters ----------------------------------------------------------------------------

def roster_filter(city_ids) -> vehicles.ExportFilter:
    """An export's filters from ?period=&category=&powertrain=, within `city_ids` (None: every
    city); 404 for a malformed month, 400 for an unknown category or powertrain."""
    period = request.args.get("period") or None
    if period:
        period = period_or_404(period)
    category = request.args.get("category") or None
    powertrain = request.args.get("powertrain") or None
    if not vehicles.valid_filter_values(category, powertrain):
        abort(400)
    return vehicles.ExportFilter(city_ids, period, category, powertrain)


def roster_download(flt: vehicles.ExportFilter, fmt: str, stem: str) -> Response:
    """The filter's vehicles as CSV (UTF-8 with BOM) or .xlsx, streamed: the first bytes
    leave at once and memory does not grow with the rows."""
    if fmt not in ("csv", "xlsx"):
        abort(404)
    language = lang()
    rows = vehicles.export_rows(db.session, flt)
    body = (roster_files.export_csv(rows, language) if fmt == "csv"
            else roster_files.export_xlsx(rows, language))
    name = "-".join([stem, *(x for x in (flt.period, flt.category, flt.powertrain) if x)])
    # (attachment() records who took the file before the first byte leaves)
    return attachment(stream_with_context(body), CSV if fmt == "csv" else XLSX,
                      f"{name}.{fmt}")


# --- background jobs ----------------------------------------------------------------------------

def job_response(kind: str, city: City | None, params: dict) -> Response:
    """Ask for a background job (the running or fresh one of the same request, else a new
    one, started after the commit) and go to its page."""
    job, created = jobs.request_job(db.session, current_actor(), kind,
                                    None if city is None else city.id, params,
                                    cache.data_version(), folder=background.folder())
    db.session.commit()
    if created:
        background.start(job.id)
    return redirect(url_for("jobs.show", job_id=job.id), 303)


def roster_export_params(fmt: str, flt: vehicles.ExportFilter, city_code: str | None) -> dict:
    if fmt not in ("csv", "xlsx"):
        abort(404)
    return {"fmt": fmt, "city": city_code, "period": flt.period, "category": flt.category,
            "powertrain": flt.powertrain, "lang": lang()}


def roster_too_large(flt: vehicles.ExportFilter) -> bool:
    """More vehicles than are streamed straight to a browser (ROSTER_DIRECT_MAX_ROWS)."""
    limit = int(current_app.config["ROSTER_DIRECT_MAX_ROWS"])
    return vehicles.export_count(db.session, flt) > limit


def summary_in_background(city: City | None, active_cities: int | None = None) -> bool:
    """The nation's summary workbook is made by a job once more than SUMMARY_JOB_MIN_CITIES
    cities are active; a city's own, and the nation's of the 25 pilot cities, at once.
    `active_cities`: the count when the caller has it (the dashboard's figures)."""
    if city is not None:
        return False
    if active_cities is None:
        active_cities = db.session.scalar(select(func.count(City.id)).where(City.active)) or 0
    return active_cities > int(current_app.config["SUMMARY_JOB_MIN_CITIES"])


def summary_job_response() -> Response:
    """The summary workbook of the nation as a background job (?basis=&through=)."""
    basis, through = basis_and_through()
    through = figures.window(get_programme(db.session), through).through
    return job_response("summary", None, {"basis": basis, "through": through, "lang": lang()})


def redirect_to_job_flow(endpoint: str, **values) -> Response:
    """A direct download too large to stream: back to the page that prepares it as a job."""
    flash(_("This file is large: it is prepared in the background. Press “Prepare” and "
            "follow its progress; it stays available for a day."), "info")
    return redirect(url_for(endpoint, **values), 303)
