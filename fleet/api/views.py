"""API views: JSON forms of fleet.domain.figures values, within the user's rights."""

from flask import jsonify
from flask_login import login_required

from .. import cache
from ..domain import figures
from ..domain.reference import CATEGORY_BY_CODE
from ..pages import cached_page
from ..web import basis_and_through, city_scope
from . import bp
from .openapi import FigureQuery, ProgressOut, responses, spec


def _completeness(c: figures.Completeness) -> dict:
    return {"expected": c.expected, "received": c.received, "on_time": c.on_time,
            "late": c.late, "missing": c.missing, "returned": c.returned,
            "completeness": c.completeness, "timeliness": c.timeliness}


def _category(c: figures.CategoryFigures) -> dict:
    ref = CATEGORY_BY_CODE[c.category]
    return {"category": c.category, "name_zh": ref.name_zh, "name_en": ref.name_en,
            "bev": c.bev, "phev": c.phev, "fcev": c.fcev, "nev": c.nev, "all_new": c.all_new,
            "nev_share": c.share, "share_aim": c.share_aim, "this_month": c.this_month}


def _month(m: figures.MonthFigures) -> dict:
    return {"period": m.period, "nev": m.nev, "bev": m.bev, "phev": m.phev, "fcev": m.fcev,
            "all_new": m.all_new, "cumulative": m.cumulative,
            "charging_points": m.charging_points, "swap_stations": m.swap_stations,
            "by_category": m.by_category}


def _city(c: figures.CityFigures) -> dict:
    return {"code": c.code, "name_zh": c.name_zh, "name_en": c.name_en,
            "province_zh": c.province_zh, "target": c.target, "nev": c.nev, "bev": c.bev,
            "phev": c.phev, "fcev": c.fcev, "all_new": c.all_new,
            "pct_of_target": c.pct_of_target, "this_month": c.this_month,
            "nev_share": c.nev_share, "charging_points": c.charging_points,
            "swap_stations": c.swap_stations, "charging_per_nev": c.charging_per_nev,
            "vin_backed": c.vin_backed, "vin_coverage": c.vin_coverage,
            "completeness": _completeness(c.completeness),
            "by_category": [_category(x) for x in c.by_category]}


def _projection(p: figures.Projection) -> dict:
    return {"value": p.value, "run_rate": p.run_rate, "months_used": p.months_used,
            "months_left": p.months_left, "on_track": p.on_track,
            "method": "cumulative through `through` + average NEVs of the last "
                      "`months_used` months × `months_left`"}


def _headline(p: figures.Progress) -> dict:
    w = p.window
    return {"target": p.target, "nev": p.nev, "bev": p.bev, "phev": p.phev, "fcev": p.fcev,
            "pct_of_target": p.pct_of_target, "this_month": p.this_month,
            "window": {"first_period": w.first_period, "last_period": w.last_period,
                       "months": w.window_months, "elapsed_months": w.elapsed_months,
                       "elapsed_share": w.elapsed_share},
            "expected_by_now": p.expected_by_now, "projection": _projection(p.projection),
            "on_track": p.on_track}


def _national_details(p: figures.Progress) -> dict:
    return {"all_new": p.all_new, "nev_share": p.nev_share,
            "charging_points": p.charging_points, "swap_stations": p.swap_stations,
            "charging_per_nev": p.charging_per_nev, "charging_aim": p.charging_aim,
            "completeness": _completeness(p.completeness),
            "city_targets_total": p.city_targets_total,
            "vin_backed": p.vin_backed, "vin_coverage": p.vin_coverage}


@bp.route("/progress")
@login_required
@cached_page
@spec.validate(query=FigureQuery, resp=responses(ProgressOut, bad_query=True),
               validation_error_status=400, tags=["figures"], operation_id="getProgress")
def progress():
    """Progress as JSON: ?basis=reported|verified&through=YYYY-MM[&city=CODE].

    The national headline always; the cities, categories and months of the nation, or of
    one city with ?city= (a city user always gets its own city, never another's).
    """
    basis, through = basis_and_through()
    city = city_scope()
    national = cache.national(basis, through)
    body = {"basis": basis, "through": national.through,
            "national": _headline(national)}
    if city is not None:
        detail = cache.city(city, basis, through)
        body["scope"] = {"city": city.code}
        body["cities"] = [_city(detail.city)]
        body["by_category"] = [_category(c) for c in detail.city.by_category]
        body["by_month"] = [_month(m) for m in detail.by_month]
        body["city_projection"] = _projection(detail.projection)
    else:
        body["scope"] = "national"
        body["national"].update(_national_details(national))
        body["cities"] = [_city(c) for c in national.cities]
        body["by_category"] = [_category(c) for c in national.by_category]
        body["by_month"] = [_month(m) for m in national.by_month]
    return jsonify(body)
