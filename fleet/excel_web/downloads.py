"""The summary workbook and the flat CSV as responses, for the pages and for /api/v1 alike:
which figures a user may have (the nation, or a city user's own city), and the file names."""

from flask import Response, abort
from flask_login import current_user

from .. import figures
from ..cities import city_by_code
from ..excel.flat import build_flat_csv
from ..excel.summary import build_summary_workbook
from ..extensions import db
from ..models import City
from ..periods import parse_period
from ..programme import get_programme
from ..progress import data

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV = "text/csv; charset=utf-8"


class BadParameters(ValueError):
    """basis is not reported|verified, or through/city is malformed."""


def parameters(args) -> tuple[str, str | None, str | None]:
    """(basis, through, city code) from the query string; BadParameters when malformed."""
    try:
        basis = figures.parse_basis(args.get("basis"))
        through = parse_period(args["through"]) if args.get("through") else None
    except ValueError as error:
        raise BadParameters(str(error)) from error
    code = (args.get("city") or "").strip() or None
    return basis, through, code


def scope_city(code: str | None) -> City | None:
    """The city whose files the user gets: a city user always its own (another: 404);
    the ministry side the nation, or the city asked for."""
    if current_user.role == "city":
        if code and code != current_user.city.code:
            abort(404)
        return current_user.city
    if code is None:
        return None
    city = city_by_code(db.session, code)
    if city is None:
        abort(404)
    return city


def attachment(body: bytes, mimetype: str, name: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.cache_control.private = True
    response.cache_control.no_store = True
    return response


def _flat(basis: str, through: str | None, city: City | None):
    return figures.flat_rows(db.session, basis, through,
                             city_ids=None if city is None else [city.id])


def summary_response(basis: str, through: str | None, city: City | None,
                     lang: str) -> Response:
    """fleet-summary-2026-03-verified.xlsx (nation) or fleet-summary-440300-2026-03-...xlsx."""
    progress = data.national(basis, through) if city is None else data.city(city, basis,
                                                                            through)
    body = build_summary_workbook(progress, _flat(basis, progress.window.through, city),
                                  lang)
    return attachment(body, XLSX, download_name("summary", progress.window.through, basis,
                                                 city, "xlsx"))


def flat_csv_response(basis: str, through: str | None, city: City | None,
                      lang: str) -> Response:
    """fleet-data-2026-03-reported.csv: one row per city, month, category, powertrain."""
    through = figures.window(get_programme(db.session), through).through
    body = build_flat_csv(_flat(basis, through, city), lang)
    return attachment(body, CSV, download_name("data", through, basis, city, "csv"))


def download_name(kind: str, through: str, basis: str, city: City | None, ext: str) -> str:
    """Names that say what they are: kind, city (if one), month, basis."""
    parts = ["fleet", kind, *([city.code] if city is not None else []), through, basis]
    return "-".join(parts) + "." + ext
