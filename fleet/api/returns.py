"""A city's monthly return through the API: read, save (draft), submit; the ministry's
approve and send back. Every write goes through fleet.domain.returns (the rules, audit and
optimistic locking of the form); the version travels as the ETag and comes back as If-Match.
"""

from flask import abort, jsonify, request
from flask_babel import lazy_gettext as _l
from flask_login import login_required

from ..domain import returns
from ..domain.errors import DomainError, StaleData
from ..domain.rules import COUNT_FIELDS, INFRA_FIELDS
from ..extensions import db
from ..models import City
from ..web import current_actor, period_or_404, problem, visible_city
from . import bp
from .openapi import Preconditions, ReturnIn, ReturnOut, SendBackIn, responses, spec
from .problems import NOT_JSON, domain_problem

URL = "/returns/<city>/<period>"
PRECONDITION_REQUIRED = _l("Send If-Match with the ETag of the version you read "
                           "(\"0\" for a month without a return).")
STALE = _l("Someone else changed this return while you were editing it. "
           "Your changes were not saved; the current numbers are shown.")
NOTHING_TO_SUBMIT = _l("There is no saved return for this month yet.")


def _body(city: City, period: str, ret, warnings=()) -> dict:
    values = returns.values_of(ret).as_fields()
    return {
        "city": city.code, "period": period,
        "status": ret.status if ret is not None else "empty",
        "version": ret.version if ret is not None else 0,
        "lines": {name: values[name] for name in COUNT_FIELDS},
        "infrastructure": {name: values[name] for name in INFRA_FIELDS},
        "notes": values["notes"],
        "review_comment": (ret.review_comment or "") if ret is not None else "",
        "submitted_late": bool(ret is not None and ret.submitted_late),
        "warnings": [{"code": w.code, "field": w.field, "message": str(w.message)}
                     for w in warnings],
    }


def _respond(body: dict):
    response = jsonify(body)
    response.set_etag(str(body["version"]))
    response.cache_control.private = True
    response.cache_control.no_cache = True
    return response


def _expected_version() -> int:
    """The version named by If-Match: 428 without one; a tag that names no version can
    match nothing, so it is treated as stale (412)."""
    header = request.headers.get("If-Match")
    if not header:
        abort(problem(428, PRECONDITION_REQUIRED))
    tag = header.strip()
    tag = tag[2:] if tag.startswith("W/") else tag
    tag = tag.strip('"')
    return int(tag) if tag.isdigit() and len(tag) < 10 else -1


def _stale(city: City, period: str):
    """412 with the version now stored, so the client can read it again."""
    db.session.rollback()
    ret = returns.find_return(db.session, city, period)
    version = ret.version if ret is not None else 0
    response = problem(412, STALE, current_version=version)
    response.set_etag(str(version))
    return response


def _target(city_code: str, period_text: str) -> tuple[City, str]:
    period = period_or_404(period_text)
    return visible_city(city_code), period  # 404 for a city the user may not see


@bp.route(URL, methods=["GET"])
@login_required
@spec.validate(resp=responses(ReturnOut), tags=["returns"], operation_id="getReturn")
def get_return(city: str, period: str):
    """A city's return for one month, with its status, version (ETag) and warnings."""
    city_obj, period = _target(city, period)
    ret = returns.find_return(db.session, city_obj, period)
    warnings = returns.current_warnings(db.session, ret) if ret is not None else []
    return _respond(_body(city_obj, period, ret, warnings))


@bp.route(URL, methods=["PUT"])
@login_required
@spec.validate(json=ReturnIn, headers=Preconditions, resp=responses(ReturnOut, write=True),
               tags=["returns"], operation_id="putReturn")
def put_return(city: str, period: str):
    """Save the month's numbers as a draft (the city's own token only), If-Match required."""
    city_obj, period = _target(city, period)
    payload = request.context.json
    if payload is None:
        return problem(415, NOT_JSON, [(None, NOT_JSON)])
    raw = {**payload.lines.model_dump(), **payload.infrastructure.model_dump(),
           "notes": payload.notes}
    expected = _expected_version()
    try:
        ret, warnings = returns.save_return(db.session, current_actor(), city_obj, period,
                                            raw, expected)
    except StaleData:
        return _stale(city_obj, period)
    except DomainError as error:
        db.session.rollback()
        return domain_problem(error)
    body = _body(city_obj, period, ret, warnings)
    db.session.commit()
    return _respond(body)


def _transition(city_code: str, period_text: str, action) -> object:
    """Submit, approve or send back the stored return, If-Match required."""
    city_obj, period = _target(city_code, period_text)
    expected = _expected_version()
    ret = returns.find_return(db.session, city_obj, period)
    if ret is None:
        return problem(409, NOTHING_TO_SUBMIT)
    try:
        warnings = action(ret, expected) or []
    except StaleData:
        return _stale(city_obj, period)
    except DomainError as error:
        db.session.rollback()
        return domain_problem(error)
    body = _body(city_obj, period, ret, warnings)
    db.session.commit()
    return _respond(body)


@bp.route(URL + "/submit", methods=["POST"])
@login_required
@spec.validate(headers=Preconditions, resp=responses(ReturnOut, write=True), tags=["returns"],
               operation_id="submitReturn")
def submit_return(city: str, period: str):
    """Submit the saved return to the ministry (the city's own token only)."""
    return _transition(city, period, lambda ret, expected: returns.submit_saved(
        db.session, current_actor(), ret, expected))


@bp.route(URL + "/approve", methods=["POST"])
@login_required
@spec.validate(headers=Preconditions, resp=responses(ReturnOut, write=True), tags=["review"],
               operation_id="approveReturn")
def approve_return(city: str, period: str):
    """The ministry approves a submitted return (which locks it)."""
    return _transition(city, period, lambda ret, expected: returns.approve_return(
        db.session, current_actor(), ret, expected))


@bp.route(URL + "/send-back", methods=["POST"])
@login_required
@spec.validate(json=SendBackIn, headers=Preconditions, resp=responses(ReturnOut, write=True),
               tags=["review"], operation_id="sendBackReturn")
def send_back_return(city: str, period: str):
    """The ministry sends a submitted return back to the city, with the reason."""
    payload = request.context.json
    if payload is None:
        return problem(415, NOT_JSON, [(None, NOT_JSON)])
    return _transition(city, period, lambda ret, expected: returns.send_back(
        db.session, current_actor(), ret, payload.reason, expected))
