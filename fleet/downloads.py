"""The summary workbook and the flat CSV as responses, for the progress pages and /api/v1
alike: the figures of the user's scope (fleet.web.city_scope) and file names that say what
the file holds."""

from flask import Response, abort, current_app, request, stream_with_context

from . import cache
from .domain import attachments, figures, vehicles
from .domain.errors import DomainError
from .domain.excel import roster_files
from .domain.excel.flat import build_flat_csv
from .domain.excel.summary import build_summary_workbook
from .domain.programme import get_programme
from .extensions import db
from .models import Attachment, City
from .web import CSV, XLSX, attachment, basis_and_through, city_scope, lang, period_or_404


def _flat(basis: str, through: str | None, city: City | None):
    return figures.flat_rows(db.session, basis, through,
                             city_ids=None if city is None else [city.id])


def summary_response() -> Response:
    """fleet-summary-2026-03-verified.xlsx (nation) or fleet-summary-440300-2026-03-...xlsx."""
    basis, through = basis_and_through()
    city = city_scope()
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
