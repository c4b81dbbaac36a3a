"""The vehicles of the rosters for machines: GET /api/v1/vehicles (JSON, paged) and
/api/v1/vehicles.csv (streamed), within the user's rights: a city user gets its own city's,
whatever ?city= says (another city's is a 404)."""

from flask import abort, jsonify, request
from flask_login import login_required

from .. import downloads
from ..domain import vehicles
from ..extensions import db
from ..web import city_scope
from . import bp
from .openapi import VehiclePage, VehicleQuery, responses, spec

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
