"""The API's contract: the pydantic models that validate requests (and responses), and the
OpenAPI 3.1 document that SpecTree generates from them and from the routes that use them.

Field names are those of the form and the Excel template (fleet.domain.rules): `bus_bev`,
`taxi_all_new`, `charging_points`... Nothing here is hand-written YAML: every /api/v1 route
is decorated with `spec.validate(...)`, and /api/v1/openapi.json is that document.
"""

import copy
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model
from spectree import Response, SecurityScheme, SpecTree
from spectree.models import SecuritySchemeData

from ..domain.rules import COUNT_FIELDS, MAX_MONTHLY_COUNT, MAX_NOTES_LENGTH
from .problems import validation_problem

PERIOD_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"
PROBLEM_JSON = "application/problem+json"


def _count(example: int = 0):
    # strict: counts are JSON integers; true, 1.5 or "7" get the form's message
    return (int, Field(0, ge=0, le=MAX_MONTHLY_COUNT, strict=True, examples=[example]))


_EXAMPLE_LINES = {"bus_bev": 12, "bus_all_new": 12, "taxi_bev": 40, "taxi_phev": 5,
                  "taxi_all_new": 48}
ReturnLines = create_model(
    "ReturnLines",
    __config__=ConfigDict(extra="forbid",
                          json_schema_extra={"examples": [_EXAMPLE_LINES]}),
    __doc__="New NEVs by sector × powertrain (`bus_bev`, `bus_phev`, `bus_fcev`) and all "
            "new vehicles of each sector (`bus_all_new`); whole numbers 0–100,000, "
            "a missing field is 0 (like a blank cell of the template).",
    **{name: _count() for name in COUNT_FIELDS},
)


class Infrastructure(BaseModel):
    """Public charging points and battery-swap stations added this month."""

    model_config = ConfigDict(extra="forbid", strict=True)
    charging_points: int = Field(0, ge=0, le=MAX_MONTHLY_COUNT, examples=[60])
    swap_stations: int = Field(0, ge=0, le=MAX_MONTHLY_COUNT, examples=[1])


class ReturnIn(BaseModel):
    """The numbers of a month's return, as the form and the template hold them."""

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"examples": [{
        "lines": _EXAMPLE_LINES,
        "infrastructure": {"charging_points": 60, "swap_stations": 1},
        "notes": "含网约车 8 辆"}]})
    lines: ReturnLines  # type: ignore[valid-type]
    infrastructure: Infrastructure = Field(default_factory=Infrastructure)
    notes: str = Field("", max_length=MAX_NOTES_LENGTH)


class Finding(BaseModel):
    """A warning: it does not block saving or submitting, but the reviewer sees it."""

    code: str = Field(examples=["charging_ratio"])
    field: str | None = Field(examples=["charging_points"])
    message: str = Field(examples=["每新增一辆新能源汽车新增充电桩 0.10 个，"
                                   "与 1:1 的目标相差较大。"])


class ReturnOut(BaseModel):
    """A city's return for one month. `status` is `empty` while nothing was saved
    (version 0, all zeros)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "city": "440300", "period": "2026-03", "status": "draft", "version": 2,
        "lines": _EXAMPLE_LINES, "infrastructure": {"charging_points": 60, "swap_stations": 1},
        "notes": "", "review_comment": "", "submitted_late": False, "warnings": []}]})
    city: str = Field(pattern=r"^\d{6}$")
    period: str = Field(pattern=PERIOD_PATTERN)
    status: Literal["empty", "draft", "submitted", "returned", "approved"]
    version: int = Field(ge=0, description="Send it back as If-Match: \"<version>\"")
    lines: ReturnLines  # type: ignore[valid-type]
    infrastructure: Infrastructure
    notes: str
    review_comment: str = Field(description="The ministry's reason when sent back")
    submitted_late: bool
    warnings: list[Finding]


class SendBackIn(BaseModel):
    """Why the return goes back to the city (required, at most 2000 characters)."""

    model_config = ConfigDict(extra="forbid", strict=True,
                              json_schema_extra={"examples": [{"reason": "出租车数量请核实。"}]})
    reason: str = Field(examples=["出租车数量请核实。"])


class Preconditions(BaseModel):
    """If-Match carries the ETag of the version the client read (`"0"` for an empty month)."""

    model_config = ConfigDict(populate_by_name=True)
    if_match: str | None = Field(None, alias="If-Match", examples=['"0"'])


class FieldError(BaseModel):
    field: str | None = Field(examples=["bus_all_new"])
    message: str = Field(examples=["新增新能源汽车（12）超过该领域全部新增车辆（10）。"])


class Problem(BaseModel):
    """RFC 9457 problem details; `errors` in the language of Accept-Language (Chinese by
    default), the same messages the form shows."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "type": "about:blank", "title": "Unprocessable Content", "status": 422,
        "detail": "月报有错误，未保存。",
        "errors": [{"field": "bus_all_new",
                    "message": "新增新能源汽车（12）超过该领域全部新增车辆（10）。"}]}]})
    type: str
    title: str
    status: int
    detail: str | None = None
    errors: list[FieldError] = Field(default_factory=list)
    current_version: int | None = Field(None, description="With 412: the version now stored")


class FigureQuery(BaseModel):
    """The figures' parameters: which returns count, through which month, which city."""

    basis: Literal["reported", "verified"] | None = Field(
        None, description="reported: submitted and approved returns; verified: approved only")
    through: str | None = Field(None, pattern=PERIOD_PATTERN, examples=["2026-03"],
                                description="The last month included (default: the last "
                                            "complete month)")
    city: str | None = Field(None, examples=["440300", "110000"],
                             description="One city's figures (a city user: its own only)")


class VehicleQuery(BaseModel):
    """Which vehicles: one city (a city user: its own only), month, sector, powertrain."""

    city: str | None = Field(None, examples=["440300"])
    period: str | None = Field(None, pattern=PERIOD_PATTERN, examples=["2026-03"])
    category: str | None = Field(None, examples=["bus"])
    powertrain: str | None = Field(None, examples=["bev"])
    page: int | None = Field(None, ge=1, le=100_000, examples=[1])


class VehiclePage(BaseModel):
    """One page of vehicles (100 a page) and the total."""

    page: int
    per_page: int
    total: int
    pages: int
    filter: dict[str, Any]
    vehicles: list[dict[str, Any]]


class ProgressOut(BaseModel):
    """National progress, and the cities, sectors and months in scope (see README)."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [{
        "basis": "reported", "through": "2026-03", "scope": "national",
        "national": {"target": 700000, "nev": 312345, "pct_of_target": 0.446},
        "cities": [], "by_category": [], "by_month": []}]})
    basis: Literal["reported", "verified"]
    through: str = Field(pattern=PERIOD_PATTERN)
    scope: Literal["national"] | dict[str, str]
    national: dict[str, Any]
    cities: list[dict[str, Any]]
    by_category: list[dict[str, Any]]
    by_month: list[dict[str, Any]]
    city_projection: dict[str, Any] | None = None


spec = SpecTree(
    "flask",
    title="Fleet API",
    version="1",
    description="The machine API of Fleet: the same rules, roles and city isolation as the "
                "web form. Send `Authorization: Bearer <token>` (create a token under 账户 → "
                "API 令牌 / Account → API tokens, or `flask fleet create-token`).",
    mode="strict",  # only the routes decorated below, all of them under /api/v1
    path="api/v1/openapi",  # SpecTree leaves routes under its own path out: openapi.json
    page_templates={},  # the reference page is served by the app (api.docs), not a CDN
    annotations=False,
    validation_error_status=422,
    before=validation_problem,
    validation_error_model=Problem,
    security_schemes=[SecurityScheme(name="bearer",
                                     data=SecuritySchemeData(type="http", scheme="bearer"))],
    security={"bearer": []},
)

# 400: any request may carry a character no field accepts (fleet.web.refuse_illegal_input).
ERRORS = {"HTTP_400": Problem, "HTTP_401": Problem, "HTTP_403": Problem, "HTTP_404": Problem,
          "HTTP_429": Problem}
WRITE_ERRORS = {**ERRORS, "HTTP_409": Problem, "HTTP_412": Problem, "HTTP_415": Problem,
                "HTTP_422": Problem, "HTTP_428": Problem}
FILE_TYPES = {
    "/api/v1/summary.xlsx":
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "/api/v1/flat.csv": "text/csv",
    "/api/v1/vehicles.csv": "text/csv",
}


def responses(model=None, *, write: bool = False, bad_query: bool = False) -> Response:
    codes = dict(WRITE_ERRORS if write else ERRORS)
    if bad_query:
        codes["HTTP_400"] = Problem
    return Response(HTTP_200=model, **codes)


_document: dict | None = None


def document() -> dict:
    """The OpenAPI document: SpecTree's, with what it cannot say by itself — errors are
    problem+json, files are files, ETag and Retry-After headers."""
    global _document
    if _document is None:
        doc = copy.deepcopy(spec.spec)
        for path, operations in doc["paths"].items():
            for method, operation in operations.items():
                _operation_ids[(path, method)] = operation["operationId"]
        for path, operations in doc["paths"].items():
            for method, operation in operations.items():
                _refine(path, method, operation)
                if path.startswith(RETURN_PATH):
                    operation["responses"]["200"]["links"] = _links(path, method)
        _document = doc
    return _document


RETURN_PATH = "/api/v1/returns/{city}/{period}"
# What a client does next with a return it has read or written: the same city and month,
# and the ETag as If-Match (OpenAPI links, which the stateful fuzzing follows too).
_NEXT = {"get": ("put", "submit"), "put": ("get", "put", "submit"),
         "submit": ("get", "approve", "send-back"), "approve": ("get",),
         "send-back": ("get", "put")}


def _links(path: str, method: str) -> dict:
    action = path.rsplit("/", 1)[-1] if path != RETURN_PATH else method
    links = {}
    for target in _NEXT.get(action, ()):
        target_path = RETURN_PATH if target in ("get", "put") else f"{RETURN_PATH}/{target}"
        target_method = target if target in ("get", "put") else "post"
        links[f"then-{target}"] = {
            "operationId": _operation_ids[(target_path, target_method)],
            "parameters": {"path.city": "$response.body#/city",
                           "path.period": "$response.body#/period",
                           **({"header.If-Match": "$response.header.ETag"}
                              if target != "get" else {})}}
    return links


_operation_ids: dict = {}


def _refine(path: str, method: str, operation: dict) -> None:
    for parameter in operation.get("parameters", []):
        if parameter.get("in") == "path" and parameter["name"] == "period":
            parameter["schema"] = {"type": "string", "pattern": PERIOD_PATTERN,
                                   "examples": ["2026-03"]}
        elif parameter.get("in") == "path" and parameter["name"] == "city":
            parameter["schema"] = {"type": "string", "pattern": r"^\d{6}$",
                                   "examples": ["440300", "110000"]}
    for code, response in operation.get("responses", {}).items():
        content = response.get("content") or {}
        if int(code) >= 400 and "application/json" in content:
            response["content"] = {PROBLEM_JSON: content["application/json"]}
        if code == "429":
            response["headers"] = {"Retry-After": {
                "description": "Seconds to wait", "schema": {"type": "string"}}}
        if code in ("200", "412") and "/returns/" in path:
            response["headers"] = {"ETag": {
                "description": "The return's version, for If-Match", "required": True,
                "schema": {"type": "string"}}}
        if code == "200" and path in FILE_TYPES:
            response["content"] = {FILE_TYPES[path]: {
                "schema": {"type": "string", "contentMediaType": FILE_TYPES[path]}}}
