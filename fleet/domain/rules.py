"""The validation rules of a monthly return: one place, used by the web form, the Excel upload
and the API alike.

Input arrives as raw values keyed by field name (see `field_name`); `parse_values` turns it into
a ReturnValues or hard errors; `check_return` adds the rules that need context (window, history).
Hard errors block saving and submitting; warnings are shown to the city and the reviewer.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from statistics import mean

from flask_babel import lazy_gettext as _l

from .errors import DomainError
from .reference import CATEGORIES, CATEGORY_CODES, POWERTRAIN_CODES
from .text import clean_text

# No city deploys this many vehicles of one kind in one month: a bigger figure is a typo.
MAX_MONTHLY_COUNT = 100_000
MAX_NOTES_LENGTH = 2000
# A reviewer's reason for sending back or reopening is bounded like the notes.
MAX_REASON_LENGTH = 2000
# A category is "far above usual" beyond this multiple of the recent monthly mean...
SPIKE_FACTOR = 3.0
# ...and by at least this many vehicles (small numbers jump about without meaning anything).
SPIKE_MIN_EXCESS = 20
HISTORY_MONTHS = 6
# Charging points per NEV outside this band is "far from the 1:1 aim"
# (reference.CHARGING_POINTS_PER_NEV_AIM).
CHARGING_RATIO_BAND = (0.5, 2.0)

NUMBER_KINDS = POWERTRAIN_CODES + ("all_new",)


def field_name(category: str, kind: str) -> str:
    """'bus_bev', 'bus_all_new': the name of one number in forms, uploads and the API."""
    return f"{category}_{kind}"


COUNT_FIELDS = tuple(field_name(c, k) for c in CATEGORY_CODES for k in NUMBER_KINDS)
INFRA_FIELDS = ("charging_points", "swap_stations")
NUMBER_FIELDS = COUNT_FIELDS + INFRA_FIELDS


@dataclass(frozen=True)
class LineValues:
    bev: int = 0
    phev: int = 0
    fcev: int = 0
    all_new: int = 0

    @property
    def nev(self) -> int:
        return self.bev + self.phev + self.fcev

    @property
    def nev_share(self) -> float | None:
        """NEVs / all new vehicles of the category (None when there are none)."""
        return self.nev / self.all_new if self.all_new else None


@dataclass(frozen=True)
class ReturnValues:
    """The numbers of one return. `lines` holds every category, in the official order."""

    lines: dict[str, LineValues]
    charging_points: int = 0
    swap_stations: int = 0
    notes: str = ""

    @property
    def nev_total(self) -> int:
        return sum(line.nev for line in self.lines.values())

    @property
    def all_new_total(self) -> int:
        return sum(line.all_new for line in self.lines.values())

    @property
    def nev_share(self) -> float | None:
        """NEVs / all new vehicles over every category (None when there are none)."""
        return self.nev_total / self.all_new_total if self.all_new_total else None

    def powertrain_total(self, powertrain: str) -> int:
        """NEVs of one powertrain ('bev', 'phev', 'fcev') over every category."""
        return sum(getattr(line, powertrain) for line in self.lines.values())

    def as_fields(self) -> dict[str, object]:
        """Back to field names (for forms, templates and revisions)."""
        out: dict[str, object] = {}
        for category, line in self.lines.items():
            for kind in NUMBER_KINDS:
                out[field_name(category, kind)] = getattr(line, kind)
        out["charging_points"] = self.charging_points
        out["swap_stations"] = self.swap_stations
        out["notes"] = self.notes
        return out

    def as_data(self) -> dict:
        """The JSON form stored in a revision."""
        return {
            "lines": {c: {k: getattr(line, k) for k in NUMBER_KINDS}
                      for c, line in self.lines.items()},
            "charging_points": self.charging_points,
            "swap_stations": self.swap_stations,
            "notes": self.notes,
        }

    @classmethod
    def from_data(cls, data: dict) -> "ReturnValues":
        lines = {c: LineValues(**{k: int(data["lines"].get(c, {}).get(k, 0))
                                  for k in NUMBER_KINDS}) for c in CATEGORY_CODES}
        return cls(lines, int(data.get("charging_points", 0)),
                   int(data.get("swap_stations", 0)), data.get("notes", "") or "")

    @classmethod
    def empty(cls) -> "ReturnValues":
        return cls({c: LineValues() for c in CATEGORY_CODES})


@dataclass(frozen=True)
class Problem:
    """One finding. `field` is a field name (or None for the return as a whole)."""

    code: str
    message: object  # a lazy translation: str() it in the user's language
    field: str | None = None
    warning: bool = False


@dataclass
class CheckResult:
    values: ReturnValues | None
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


# A whole number as people write it, in ASCII digits: '12', '-3' (refused later as negative).
# Not '--5', '1e9', '１２' or 'TRUE'; at most 18 digits, so int() never meets a huge text.
WHOLE_NUMBER = re.compile(r"-?[0-9]{1,18}")


def parse_count(raw: object) -> int | None:
    """A whole number from a form, a cell or JSON; None if it is not one.

    Blank means 0 (clerks leave empty what they have none of); thousands separators and
    surrounding spaces are forgiven; decimals, text, booleans (TRUE/FALSE in a cell),
    exponents, full-width digits and formulas are not. The one parser of whole numbers: the
    return's fields, the programme's and the cities' numbers all go through it.
    """
    if raw is None:
        return 0
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float):
        return int(raw) if raw.is_integer() else None
    if not isinstance(raw, str):
        return None
    text = raw.strip().replace(",", "").replace("，", "").replace(" ", "")
    if text == "":
        return 0
    if WHOLE_NUMBER.fullmatch(text) is None:
        return None
    return int(text)


def whole_number(raw: object, field: str, *, low: int, high: int, message,
                 optional: bool = False) -> int | None:
    """A whole number between low and high (both included) for one field of a setting, or
    DomainError(field) with `message`; blank gives None when optional, else the error."""
    if optional and (raw is None or (isinstance(raw, str) and not raw.strip())):
        return None
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raise DomainError(message, field)
    value = parse_count(raw)
    if value is None or not low <= value <= high:
        raise DomainError(message, field)
    return value


def parse_values(raw: Mapping[str, object]) -> CheckResult:
    """Turn raw input into ReturnValues, or collect the hard errors of each field."""
    numbers: dict[str, int] = {}
    errors: list[Problem] = []
    for name in NUMBER_FIELDS:
        value = parse_count(raw.get(name))
        if value is None:
            errors.append(Problem("not_whole_number",
                                  _l("Must be a whole number, 0 or more."), name))
        elif value < 0:
            errors.append(Problem("negative", _l("Must not be negative."), name))
        elif value > MAX_MONTHLY_COUNT:
            errors.append(Problem("too_large", _l("Too large for one month (at most %(n)s).",
                                                  n=f"{MAX_MONTHLY_COUNT:,}"), name))
        else:
            numbers[name] = value
    notes = ""
    try:
        notes = clean_text(raw.get("notes"), "notes", max_length=None,
                           multiline=True)
    except DomainError as error:
        errors.append(Problem("notes_characters", error.message, "notes"))
    if len(notes) > MAX_NOTES_LENGTH:
        errors.append(Problem("notes_too_long", _l("Notes are limited to %(n)s characters.",
                                                   n=MAX_NOTES_LENGTH), "notes"))
    # Every problem at once: a sector whose four numbers are readable is checked even when
    # another cell holds text, so the clerk is not sent round a second time.
    lines = {c: LineValues(**{k: numbers[field_name(c, k)] for k in NUMBER_KINDS})
             for c in CATEGORY_CODES
             if all(field_name(c, k) in numbers for k in NUMBER_KINDS)}
    for category in CATEGORIES:
        line = lines.get(category.code)
        if line is not None and line.nev > line.all_new:
            errors.append(Problem(
                "nev_above_all_new",
                _l("New NEVs (%(nev)s) exceed all new vehicles of this category (%(all)s).",
                   nev=line.nev, all=line.all_new),
                field_name(category.code, "all_new")))
    if errors:
        return CheckResult(None, errors)
    values = ReturnValues(lines, numbers["charging_points"], numbers["swap_stations"], notes)
    return CheckResult(values, errors)


def check_period(period: str, first_period: str, last_period: str,
                 this_month: str) -> list[Problem]:
    """A return must fall in the reporting window and not in the future."""
    if not first_period <= period <= last_period:
        return [Problem("outside_window", _l("This month is outside the reporting window "
                                             "(%(first)s to %(last)s).", first=first_period,
                                             last=last_period), "period")]
    if period > this_month:
        return [Problem("future_month", _l("A return cannot be made for a future month."),
                        "period")]
    return []


def warnings_for(values: ReturnValues, history: Mapping[str, list[int]]) -> list[Problem]:
    """Findings that do not block submission but that a reviewer should see.

    history: for each category, the NEV counts of the city's recent submitted months.
    """
    found: list[Problem] = []
    for category in CATEGORIES:
        previous = history.get(category.code) or []
        nev = values.lines[category.code].nev
        if previous:
            usual = mean(previous)
            if nev > SPIKE_FACTOR * usual and nev - usual >= SPIKE_MIN_EXCESS:
                found.append(Problem(
                    "far_above_usual",
                    _l("%(n)s new NEVs is far above this city's recent months "
                       "(about %(usual)s a month).", n=nev, usual=round(usual)),
                    field_name(category.code, "bev"), warning=True))
    if values.nev_total == 0 and values.all_new_total == 0:
        found.append(Problem("no_vehicles", _l("No vehicles at all this month: please "
                                               "confirm that this is right."), None, warning=True))
    if values.nev_total > 0:
        ratio = values.charging_points / values.nev_total
        low, high = CHARGING_RATIO_BAND
        if not low <= ratio <= high:
            found.append(Problem(
                "charging_ratio",
                _l("Charging points added per new NEV is %(ratio)s, far from the 1:1 aim.",
                   ratio=f"{ratio:.2f}"),
                "charging_points", warning=True))
    return found


def check_return(raw: Mapping[str, object], *, period: str, first_period: str,
                 last_period: str, this_month: str,
                 history: Mapping[str, list[int]]) -> CheckResult:
    """Every rule at once: field errors, the month's place in the window, then warnings."""
    result = parse_values(raw)
    result.errors = check_period(period, first_period, last_period, this_month) + result.errors
    if result.values is not None:
        result.warnings = warnings_for(result.values, history)
    if result.errors:
        result.values = None
    return result



def field_label(name: str, lang: str) -> str:
    """A field name as a person reads it: '城市公交 · 纯电动', 'Charging points added'."""
    from .reference import CATEGORY_BY_CODE, POWERTRAIN_BY_CODE, label

    fixed = {
        "charging_points": ("新增公共充电桩", "Public charging points added"),
        "swap_stations": ("新增换电站", "Battery-swap stations added"),
        "notes": ("备注", "Notes"),
        "period": ("月份", "Month"),
    }
    if name in fixed:
        return fixed[name][0 if lang.startswith("zh") else 1]
    category, _, kind = name.partition("_")
    if category not in CATEGORY_BY_CODE:  # heavy_truck: split at the kind instead
        for code in CATEGORY_BY_CODE:
            if name.startswith(code + "_"):
                category, kind = code, name[len(code) + 1:]
    kind_label = (label(POWERTRAIN_BY_CODE[kind], lang) if kind in POWERTRAIN_BY_CODE
                  else ("全部新增车辆" if lang.startswith("zh") else "All new vehicles"))
    return f"{label(CATEGORY_BY_CODE[category], lang)} · {kind_label}"
