"""The API's contract: the pydantic models that validate requests (and responses), and the
OpenAPI 3.1 document that SpecTree generates from them and from the routes that use them.

Field names are those of the form and the Excel template (fleet.domain.rules): `bus_bev`,
`taxi_all_new`, `charging_points`... Nothing here is hand-written YAML: every /api/v1 route
is decorated with `spec.validate(...)`, and /api/v1/openapi.json is that document.
"""

import copy
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel, create_model
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
    row: int | None = Field(None, description="A roster's errors: the vehicle's row (the "
                                              "CSV's line, the JSON array's item from 1)")
    value: str | None = Field(None, description="A roster's errors: the value as sent")


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


_EXAMPLE_VEHICLE = {"vin": "LFV2A2BC0S0000013", "plate": "粤B00013D", "category": "bus",
                    "powertrain": "bev", "in_service_date": "2026-03-15",
                    "operator": "深圳巴士集团", "model": "BYD6122LGEV", "maker": "比亚迪"}


def _text(description: str, example: str | None = None):
    return (str | None, Field(None, description=description,
                              examples=[example] if example else None))


# Every field is text or null and none is required by the contract: what a vehicle needs (a
# VIN with its check digit, a known sector...) is the rules' to say, for every row at once,
# with the row and the message the upload page shows (fleet.domain.vehicle_rules).
VehicleIn = create_model(
    "VehicleIn",
    __config__=ConfigDict(extra="forbid", json_schema_extra={"examples": [_EXAMPLE_VEHICLE]}),
    __doc__="One vehicle of a roster, as a row of the roster template: text or null in "
            "each field.",
    vin=_text("17 characters, check digit in position 9 (GB 16735 / ISO 3779); required",
              _EXAMPLE_VEHICLE["vin"]),
    plate=_text("The new-energy plate (a warning, not an error, when it is not one)"),
    category=_text("The sector: its code (`bus`) or Chinese name (城市公交); required", "bus"),
    powertrain=_text("`bev`, `phev`, `fcev` or the Chinese name (纯电动); required", "bev"),
    in_service_date=_text("YYYY-MM-DD, within the return's month; required", "2026-03-15"),
    operator=_text("运营单位, at most 200 characters; required"),
    model=_text("车辆型号, at most 100 characters"),
    maker=_text("生产企业, at most 200 characters"),
)


class RosterIn(RootModel[list[VehicleIn]]):  # type: ignore[valid-type]
    """The month's whole roster, at most 100,000 vehicles (or the same as CSV, `text/csv`,
    with the template's headers in Chinese or English)."""

    root: list[VehicleIn] = Field(max_length=100_000,  # type: ignore[valid-type]
                                  examples=[[_EXAMPLE_VEHICLE]])


class RosterQuery(BaseModel):
    """?dry_run=1: check the roster and report, write nothing."""

    dry_run: bool = Field(False, description="Check and report only; nothing is written")


class RosterFinding(BaseModel):
    """One problem of one vehicle: its row, the field (column), the value sent, why."""

    row: int = Field(examples=[2])
    field: str | None = Field(examples=["vin"])
    value: str = Field(examples=["LFV2A2BC1S0000013"])
    message: str = Field(examples=["校验位（第 9 位）应为 0：VIN 有误。"])


class RosterReport(BaseModel):
    """What a roster gives (a dry run, or the roster just saved): vehicles accepted, every
    error and warning, and the NEVs by sector × powertrain of the roster beside the
    return's. `version` is the return's, as its ETag."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "city": "440300", "period": "2026-03", "dry_run": True, "saved": False, "rows": 1,
        "accepted": 1, "errors": [], "warnings": [],
        "counts": {"bus": {"bev": 1, "phev": 0, "fcev": 0}},
        "return_counts": {"bus": {"bev": 0, "phev": 0, "fcev": 0}},
        "notes": [], "status": "empty", "version": 0}]})
    city: str = Field(pattern=r"^\d{6}$")
    period: str = Field(pattern=PERIOD_PATTERN)
    dry_run: bool
    saved: bool
    rows: int = Field(ge=0, description="Vehicles sent")
    accepted: int = Field(ge=0, description="Vehicles without errors")
    errors: list[RosterFinding]
    warnings: list[RosterFinding]
    counts: dict[str, dict[str, int]] = Field(
        description="The roster's NEVs by sector × powertrain (vehicles without errors)")
    return_counts: dict[str, dict[str, int]] = Field(
        description="The return's NEV counts: as they stand (dry run), or as the roster "
                    "set them")
    notes: list[str] = Field(description="Changes to the return beyond the NEV counts "
                                         "(all-new counts raised to the roster's NEVs)")
    status: Literal["empty", "draft", "submitted", "returned", "approved"]
    version: int = Field(ge=0, description="The return's version: its ETag")


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


def responses(model=None, *, write: bool = False, bad_query: bool = False,
              upload: bool = False) -> Response:
    codes = dict(WRITE_ERRORS if write else ERRORS)
    if bad_query:
        codes["HTTP_400"] = Problem
    if upload:  # a body larger than the upload limit
        codes["HTTP_413"] = Problem
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
ROSTER_PATH = RETURN_PATH + "/vehicles"
# The roster's body: the JSON array SpecTree documents (RosterIn), or the same as CSV.
ROSTER_CSV = {"schema": {"type": "string", "contentMediaType": "text/csv"},
              "example": "vin,plate,category,powertrain,in_service_date,operator,model,maker\n"
                         "LFV2A2BC0S0000013,粤B00013D,bus,bev,2026-03-15,深圳巴士集团,"
                         "BYD6122LGEV,比亚迪\n"}
# What a client does next with a return it has read or written: the same city and month,
# and the ETag as If-Match (OpenAPI links, which the stateful fuzzing follows too).
_NEXT = {"get": ("put", "vehicles", "submit"), "put": ("get", "put", "vehicles", "submit"),
         "vehicles": ("get", "submit"), "submit": ("get", "approve", "send-back"),
         "approve": ("get",), "send-back": ("get", "put", "vehicles")}
_TARGETS = {"get": (RETURN_PATH, "get"), "put": (RETURN_PATH, "put"),
            "vehicles": (ROSTER_PATH, "put")}


def _links(path: str, method: str) -> dict:
    action = path.rsplit("/", 1)[-1] if path != RETURN_PATH else method
    links = {}
    for target in _NEXT.get(action, ()):
        target_path, target_method = _TARGETS.get(target, (f"{RETURN_PATH}/{target}", "post"))
        links[f"then-{target}"] = {
            "operationId": _operation_ids[(target_path, target_method)],
            "parameters": {"path.city": "$response.body#/city",
                           "path.period": "$response.body#/period",
                           **({"header.If-Match": "$response.header.ETag"}
                              if target != "get" else {})}}
    return links


_operation_ids: dict = {}


def _refine(path: str, method: str, operation: dict) -> None:
    if path == ROSTER_PATH and "requestBody" in operation:
        operation["requestBody"]["content"]["text/csv"] = ROSTER_CSV
        operation["requestBody"]["required"] = True
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
        if code == "413":
            response["description"] = "The body is larger than the upload limit"
        if code == "200" and path in FILE_TYPES:
            response["content"] = {FILE_TYPES[path]: {
                "schema": {"type": "string", "contentMediaType": FILE_TYPES[path]}}}
