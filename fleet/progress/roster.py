"""The ministry's side of the vehicle rosters: the national roster's exports (filtered by city,
month, category, powertrain; streamed) and the refused claims of already-counted VINs."""

import codecs
import csv
import io

from flask import abort, current_app, render_template, request

from .. import downloads
from ..domain import vehicles
from ..domain.cities import all_cities, city_by_code
from ..domain.excel.safety import neutral_csv_text
from ..domain.reference import CATEGORIES, POWERTRAINS
from ..domain.vehicle_rules import fold
from ..extensions import db
from ..web import CSV, MINISTRY_SIDE, attachment, lang, period_or_404, roles_required
from . import bp


def _city_ids():
    code = (request.args.get("city") or "").strip()
    if not code:
        return None
    city = city_by_code(db.session, code)
    return [city.id] if city is not None else [-1]  # an unknown city matches nothing


@bp.route("/progress/roster")
@roles_required(*MINISTRY_SIDE)
def roster():
    """The national roster: filters, downloads, and the refused claims (conflicts)."""
    ids = _city_ids()
    period = request.args.get("period") or None
    if period:
        period = period_or_404(period)
    found = vehicles.conflicts(db.session, city_id=ids[0] if ids else None, period=period,
                               vin=fold(request.args.get("vin")) or None)
    return render_template("progress/roster.html", conflicts=found,
                           cities=all_cities(db.session), categories=CATEGORIES,
                           powertrains=POWERTRAINS, args=request.args,
                           direct_max=int(current_app.config["ROSTER_DIRECT_MAX_ROWS"]))


@bp.route("/progress/roster/vehicles.<fmt>")
@roles_required(*MINISTRY_SIDE)
def roster_export(fmt: str):
    """The national roster (?city=&period=&category=&powertrain=) as CSV or .xlsx, streamed;
    above ROSTER_DIRECT_MAX_ROWS vehicles, back to the page that prepares it as a job."""
    code = (request.args.get("city") or "").strip()
    flt = downloads.roster_filter(_city_ids())
    if fmt in ("csv", "xlsx") and downloads.roster_too_large(flt):
        return downloads.redirect_to_job_flow("progress.roster", **_filter_args(flt, code))
    return downloads.roster_download(flt, fmt, "fleet-vehicles" + (f"-{code}" if code else ""))


@bp.route("/progress/roster/vehicles.<fmt>/prepare", methods=["POST"])
@roles_required(*MINISTRY_SIDE)
def roster_prepare(fmt: str):
    """Prepare the national roster (the filters of the query string) as a background job,
    and go to its page: progress, then the file, kept for a day."""
    code = (request.args.get("city") or "").strip()
    if code and city_by_code(db.session, code) is None:
        abort(404)
    flt = downloads.roster_filter(_city_ids())
    return downloads.job_response("roster_export", None,
                                  downloads.roster_export_params(fmt, flt, code or None))


def _filter_args(flt, code: str) -> dict:
    return {k: v for k, v in (("city", code), ("period", flt.period),
                              ("category", flt.category), ("powertrain", flt.powertrain)) if v}


@bp.route("/progress/roster/conflicts.csv")
@roles_required(*MINISTRY_SIDE)
def conflicts_csv():
    """Every refused claim matching the filters, as CSV (UTF-8 with BOM)."""
    ids = _city_ids()
    period = request.args.get("period") or None
    if period:
        period = period_or_404(period)
    rows = vehicles.conflicts(db.session, city_id=ids[0] if ids else None, period=period,
                              vin=fold(request.args.get("vin")) or None, limit=None)
    zh = lang() == "zh"
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["时间(UTC)", "VIN", "用户", "申报城市代码", "申报城市", "申报月份",
                     "已计入城市代码", "已计入城市", "已计入月份", "来源"] if zh else
                    ["At (UTC)", "VIN", "User", "Claiming city code", "Claiming city",
                     "Claimed month", "Holder city code", "Holder city", "Holder month",
                     "Source"])
    for r in rows:
        writer.writerow([neutral_csv_text(v) for v in (
            r.at.strftime("%Y-%m-%d %H:%M:%S"), r.vin, r.username, r.city_code,
            r.city_zh if zh else r.city_en, r.period, r.holder_code,
            r.holder_zh if zh else r.holder_en, r.holder_period, r.source)])
    return attachment(codecs.BOM_UTF8 + out.getvalue().encode(), CSV,
                      "fleet-roster-conflicts.csv")
