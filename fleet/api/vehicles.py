"""The vehicles of the rosters for machines: GET /api/v1/vehicles (JSON, paged) and
/api/v1/vehicles.csv (streamed), within the user's rights: a city user gets its own city's,
whatever ?city= says (another city's is a 404); and PUT /api/v1/returns/{city}/{period}/
vehicles, a month's whole roster from the city's own system (JSON or CSV, with a dry run)."""

from flask import abort, jsonify, request
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from pydantic import ValidationError
from werkzeug.exceptions import RequestEntityTooLarge

from .. import downloads
from ..domain import returns, roster, vehicles
from ..domain.errors import DomainError, StaleData
from ..domain.excel.safety import UnsafeFile
from ..domain.reference import CATEGORIES, POWERTRAIN_CODES
from ..extensions import db
from ..web import (
    allow_roster_uploads,
    city_scope,
    current_actor,
    lang,
    problem,
    too_large_message,
)
from . import bp
from .openapi import (
    Preconditions,
    RosterIn,
    RosterQuery,
    RosterReport,
    VehiclePage,
    VehicleQuery,
    responses,
    spec,
)
from .problems import domain_problem
from .returns import _expected_version, _stale, _target

PER_PAGE = 100


def _filter() -> vehicles.ExportFilter:
    city = city_scope()
    return downloads.roster_filter(None if city is None else [city.id])


@bp.route("/vehicles")
@login_required
@spec.validate(query=VehicleQuery, resp=responses(VehiclePage, bad_query=True),
               validation_error_status=400, tags=["vehicles"], operation_id="listVehicles")
def vehicle_list():
    """?city=CODE&period=YYYY-MM&category=&powertrain=&page=N: 100 vehicles a page, ordered
    by city code, month and VIN, with the total count."""
    page = request.args.get("page", 1, type=int)
    if page < 1:
        abort(400)
    flt = _filter()
    rows, total = vehicles.export_page(db.session, flt, page, PER_PAGE)
    return jsonify({
        "page": page, "per_page": PER_PAGE, "total": total,
        "pages": max(1, -(-total // PER_PAGE)),
        "filter": {"city": request.args.get("city") or None, "period": flt.period,
                   "category": flt.category, "powertrain": flt.powertrain},
        "vehicles": [{"vin": r.vin, "plate": r.plate, "city": r.city_code, "period": r.period,
                      "category": r.category, "powertrain": r.powertrain,
                      "in_service_date": r.in_service_date.isoformat(),
                      "operator": r.operator, "model": r.model, "maker": r.maker}
                     for r in rows]})


@bp.route("/vehicles.csv")
@login_required
@spec.validate(query=VehicleQuery, resp=responses(bad_query=True), validation_error_status=400,
               tags=["vehicles"], operation_id="getVehiclesCsv")
def vehicle_csv():
    """The same vehicles as CSV (UTF-8 with BOM), every page at once, streamed."""
    city = city_scope()
    stem = "fleet-vehicles" + (f"-{city.code}" if city is not None else "")
    return downloads.roster_download(_filter(), "csv", stem)


# --- a month's roster from the city's own system --------------------------------------------

ROSTER_URL = "/returns/<city>/<period>/vehicles"
NOT_A_ROSTER = _l("Send the vehicles as JSON (Content-Type: application/json) or as CSV "
                  "(Content-Type: text/csv).")
BAD_DRY_RUN = _l("dry_run is 1 (check only) or 0.")


@bp.record_once
def _raise_upload_limit(state) -> None:
    """A roster may be larger than MAX_CONTENT_LENGTH (5 MiB)."""
    allow_roster_uploads(state.app, "api.put_roster")


# SpecTree documents the body, query and header; it does not validate them here, because the
# rules do it (fleet.domain.vehicle_rules): every problem of every row at once, with its row,
# for a CSV body as for JSON, and without a second pass over 100,000 vehicles.
@bp.route(ROSTER_URL, methods=["PUT"])
@login_required
@spec.validate(query=RosterQuery, json=RosterIn, headers=Preconditions,
               resp=responses(RosterReport, write=True, upload=True), skip_validation=True,
               tags=["vehicles"], operation_id="putRoster")
def put_roster(city: str, period: str):
    """Replace the month's roster with the body's vehicles, all or nothing (the city's own
    token only): a JSON array, or CSV with the template's headers. ?dry_run=1 reports
    without writing. If-Match is optional: when sent, the return must still be that
    version."""
    city_obj, period = _target(city, period)
    dry_run, kind, data = _roster_request()
    expected = _expected_version() if request.headers.get("If-Match") else None
    actor = current_actor()
    try:
        file = roster.read_roster(data, f"api.{kind}", kind)
        # A body that breaks the contract (not an object, an unknown field, a number for
        # text) is refused with 422 even in a dry run, whatever If-Match says; the rules'
        # findings are reported with it.
        strict = not dry_run or bool(file.problems)
        if file.problems:
            check, notes = roster.preview(db.session, actor, city_obj, period, file,
                                          lang()), []
        elif dry_run:
            check, notes = roster.preview(db.session, actor, city_obj, period, file, lang(),
                                          expected), []
        else:
            check, notes = roster.replace_roster(db.session, actor, city_obj, period, file,
                                                 lang(), "api", expected)
    except StaleData:
        return _stale(city_obj, period)
    except roster.RosterHasErrors as failed:
        check, notes = failed.check, []
    except (DomainError, UnsafeFile) as error:
        db.session.rollback()
        return _refused(error)
    return _roster_answer(actor, check, notes, dry_run, strict)


def _roster_request() -> tuple[bool, str, bytes]:
    """?dry_run, the body's format and the body: 400, 415 or 413 when they will not do."""
    try:
        dry_run = RosterQuery.model_validate(request.args.to_dict()).dry_run
    except ValidationError:
        abort(problem(400, BAD_DRY_RUN, [("dry_run", BAD_DRY_RUN)]))
    mimetype = request.mimetype
    if mimetype == "application/json" or mimetype.endswith("+json"):
        kind = "json"
    elif mimetype == "text/csv":
        kind = "csv"
    else:
        abort(problem(415, NOT_A_ROSTER, [(None, NOT_A_ROSTER)]))
    try:
        return dry_run, kind, request.get_data(cache=False)
    except RequestEntityTooLarge:  # a chunked body beyond the limit (a longer
        abort(problem(413, too_large_message()))  # Content-Length never reaches the view)


def _refused(error: DomainError):
    """A body that cannot be read as a roster: 400 not JSON at all, 422 not a roster (or an
    unsafe one); the rules' refusals as everywhere in the API."""
    if isinstance(error, roster.NotJson):
        return problem(400, error.message, [(None, error.message)])
    if isinstance(error, roster.RosterRejected | UnsafeFile):
        return problem(422, error.message, [(None, error.message)])
    return domain_problem(error)


def _roster_answer(actor, check: roster.RosterCheck, notes: list, dry_run: bool,
                   strict: bool):
    """200 with the report (a dry run, or the roster saved), or 422 with every error when
    the roster was to be saved (or broke the contract) and has errors; refused claims of
    VINs counted elsewhere are kept for the ministry either way."""
    saved = not dry_run and check.ok
    if not saved:
        db.session.rollback()
    roster.record_conflicts(db.session, actor, check, "api")
    if strict and not check.ok:
        db.session.commit()
        return problem(422, roster.RosterHasErrors(check).message,
                       [_finding(p) for p in check.errors],
                       rows=check.total_rows, accepted=check.accepted)
    ret = returns.find_return(db.session, check.city, check.period)
    body = _report(check, ret, notes, dry_run, saved)
    db.session.commit()
    response = jsonify(body)
    response.set_etag(str(body["version"]))
    response.cache_control.private = True
    response.cache_control.no_cache = True
    return response


def _finding(p) -> dict:
    """A problem of a row as the API says it: row, field (the column), value, message."""
    return {"row": p.row, "field": p.column, "value": p.value, "message": str(p.message)}


def _counts(count) -> dict:
    return {c.code: {p: count(c.code, p) for p in POWERTRAIN_CODES} for c in CATEGORIES}


def _report(check: roster.RosterCheck, ret, notes: list, dry_run: bool, saved: bool) -> dict:
    values = returns.values_of(ret)
    return {
        "city": check.city.code, "period": check.period, "dry_run": dry_run, "saved": saved,
        "rows": check.total_rows, "accepted": check.accepted,
        "errors": [_finding(p) for p in check.errors],
        "warnings": [_finding(p) for p in check.warnings],
        "counts": _counts(check.count),
        "return_counts": _counts(lambda c, p: getattr(values.lines[c], p)),
        "notes": [str(n) for n in notes],
        "status": ret.status if ret is not None else "empty",
        "version": ret.version if ret is not None else 0,
    }
