"""Errors of the API as RFC 9457 problem details, with the messages the form shows.

A request that the contract's models refuse (fleet.api.openapi) is answered with the domain's
own message for each field where there is one (fleet.domain.rules), so a city system reads
exactly what a clerk would read on the form, in the language of Accept-Language.
"""

from flask import abort, request
from flask_babel import lazy_gettext as _l

from ..domain.errors import DomainError, NotAllowed
from ..domain.returns import ValidationFailed
from ..domain.rules import NUMBER_FIELDS, parse_values
from ..web import BAD_FIGURE_PARAMETERS, problem

NOT_WHOLE = _l("Must be a whole number, 0 or more.")
UNKNOWN_FIELD = _l("Unknown field.")
REQUIRED = _l("This field is required.")
INVALID = _l("Invalid value.")
NOT_JSON = _l("Send a JSON object (Content-Type: application/json).")
BAD_BODY = _l("The request has errors; nothing was saved.")


def _flat(body) -> dict:
    """The return's fields, flattened to the form's names, for the domain's messages."""
    if not isinstance(body, dict):
        return {}
    flat = {}
    for part in ("lines", "infrastructure"):
        if isinstance(body.get(part), dict):
            flat.update(body[part])
    flat["notes"] = body.get("notes") if isinstance(body.get("notes"), str) else ""
    return flat


def _field_of(location: tuple) -> str | None:
    names = [part for part in location if isinstance(part, str)]
    if names and names[0] in ("lines", "infrastructure") and len(names) > 1:
        return names[-1]
    return names[0] if names else None


def _message(error: dict, field: str | None, known: dict):
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        return UNKNOWN_FIELD
    if kind == "missing":
        return REQUIRED
    if field in known:
        return known[field]
    if field in NUMBER_FIELDS:
        return NOT_WHOLE
    return INVALID


def validation_problem(req, resp, req_validation_error, instance, model_adapter) -> None:
    """SpecTree's `before` hook: replace its error body with problem details."""
    if req_validation_error is None:
        return
    status = resp.status_code if resp is not None else 422
    if status == 400:  # the figures' query parameters
        abort(problem(400, BAD_FIGURE_PARAMETERS,
                      [(_field_of(e.get("loc", ())), INVALID)
                       for e in req_validation_error.errors()]))
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(problem(422, NOT_JSON, [(None, NOT_JSON)]))
    known = {p.field: p.message for p in parse_values(_flat(body)).errors}
    errors = []
    for error in req_validation_error.errors():
        field = _field_of(tuple(error.get("loc", ())))
        errors.append((field, _message(error, field, known)))
    abort(problem(422, BAD_BODY, errors))


def domain_problem(error: DomainError):
    """A rule refused the action: 422 when input is at fault, 403 for rights, else 409."""
    if isinstance(error, ValidationFailed):
        return problem(422, error.message, [(p.field, p.message) for p in error.result.errors])
    if isinstance(error, NotAllowed):
        return problem(403, error.message)
    if error.field:
        return problem(422, error.message, [(error.field, error.message)])
    return problem(409, error.message)
