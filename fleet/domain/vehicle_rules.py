"""The rules of one vehicle of a roster (车辆明细): VIN, plate, category, powertrain, date,
operator. One place, used by the roster upload, the single-vehicle form, the CLI and the API.

The rules of the return itself are in fleet.domain.rules; the checks that need the database
(a VIN already counted) are in fleet.domain.roster, which calls these.
"""

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from operator import mul

from flask_babel import lazy_gettext as _l

from .periods import add_months
from .reference import CATEGORIES, POWERTRAINS
from .text import CONTROL_MESSAGE, has_illegal_characters

VIN_LENGTH = 17
# ISO 3779 / GB 16735: letters I, O and Q are never used (they look like 1 and 0).
VIN_ALPHABET = frozenset("0123456789ABCDEFGHJKLMNPRSTUVWXYZ")
VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
VIN_VALUES = {**{str(d): d for d in range(10)},
              **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
              **dict(zip("JKLMN", range(1, 6), strict=True)), "P": 7, "R": 9,
              **dict(zip("STUVWXYZ", range(2, 10), strict=True))}

# The roster's columns, in the order of the template, with their Chinese headers.
COLUMNS = ("vin", "plate", "category", "powertrain", "in_service_date", "operator", "model",
           "maker")
HEADERS_ZH = ("车辆识别代号(VIN)", "号牌号码", "领域", "动力类型", "投入使用日期", "运营单位",
              "车辆型号", "生产企业")
HEADERS_EN = ("VIN", "Plate", "Category", "Powertrain", "In-service date", "Operator",
              "Model", "Maker")
MAX_TEXT = {"operator": 200, "model": 100, "maker": 200}

# Province abbreviations that begin a plate (GA 36).
PROVINCES = frozenset("京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼")
# New-energy plates: small vehicles D/F then five (the second may be a letter); large ones
# five digits then D/F.
_NEV_PLATE = re.compile(f"[{''.join(sorted(PROVINCES))}][A-HJ-NP-Z]"
                        r"(?:([DF])[A-HJ-NP-Z0-9]\d{4}|\d{5}([DF]))")


# Full-width ASCII (U+FF01..U+FF5E) and the ideographic space, as Chinese input methods type
# them, to their ASCII forms: NFKC's folding for these, at str.translate's speed.
_FOLD = {0xFF01 + i: 0x21 + i for i in range(94)} | {0x3000: 0x20}


def fold(text: object) -> str:
    """Trimmed, upper-case, spaces removed, full-width characters folded (ＬＦＶ → LFV)."""
    if text is None:
        return ""
    text = text if isinstance(text, str) else str(text)
    if not text.isascii():
        text = text.translate(_FOLD)
    return text.strip().upper().replace(" ", "")


_VIN_SHAPE = re.compile(r"[0-9A-HJ-NPR-Z]{17}")


# Each character's value is a single digit, so a VIN translates to 17 ASCII digits whose bytes
# multiply straight into the weighted sum (minus 48 × the weights' sum): all in C.
_VIN_DIGITS = str.maketrans({ch: str(v) for ch, v in VIN_VALUES.items()})
_ASCII_ZERO_SUM = ord("0") * sum(VIN_WEIGHTS)


def vin_check_digit(vin17: str) -> str:
    """The check digit (position 9) of a VIN of the VIN alphabet: '0'..'9' or 'X'."""
    total = sum(map(mul, vin17.translate(_VIN_DIGITS).encode(), VIN_WEIGHTS)) - _ASCII_ZERO_SUM
    remainder = total % 11
    return "X" if remainder == 10 else str(remainder)


def vin_problem(vin: str) -> object | None:
    """Why a (folded) VIN is not valid, or None."""
    if _VIN_SHAPE.fullmatch(vin):  # the usual case, first and fast
        expected = vin_check_digit(vin)
        if vin[8] == expected:
            return None
        return _l("The check digit (9th character) should be %(d)s: the VIN is mistyped.",
                  d=expected)
    if not vin:
        return _l("The VIN is missing.")
    if len(vin) != VIN_LENGTH:
        return _l("A VIN has 17 characters; this one has %(n)s.", n=len(vin))
    bad = sorted(set(vin) - VIN_ALPHABET)
    if bad:
        return _l("A VIN uses digits and the letters A–Z except I, O and Q; found %(chars)s.",
                  chars=" ".join(bad))
    expected = vin_check_digit(vin)
    if vin[8] != expected:
        return _l("The check digit (9th character) should be %(d)s: the VIN is mistyped.",
                  d=expected)
    return None


def is_valid_vin(text: object) -> bool:
    return vin_problem(fold(text)) is None


def plate_warnings(plate: str, powertrain: str | None) -> list[object]:
    """Findings about a (folded) plate that do not block saving."""
    if not plate:
        return []
    match = _NEV_PLATE.fullmatch(plate)
    if match is None:
        return [_l("Not a new-energy plate (8 characters: province, letter, then six with D "
                   "or F first for small vehicles or last for large ones).")]
    letter = match.group(1) or match.group(2)
    if powertrain == "bev" and letter == "F":
        return [_l("An F plate is for non-battery-electric NEVs, but the powertrain is "
                   "battery electric.")]
    if powertrain in ("phev", "fcev") and letter == "D":
        return [_l("A D plate is for battery-electric vehicles, but the powertrain is not "
                   "battery electric.")]
    return []


def _names(items) -> dict[str, str]:
    out = {}
    for item in items:
        for name in (item.code, item.name_zh, item.name_en):
            out[fold(name)] = item.code
    return out


CATEGORY_NAMES = _names(CATEGORIES)
POWERTRAIN_NAMES = {**_names(POWERTRAINS), "纯电": "bev", "插电混动": "phev", "增程式": "phev",
                    "燃料电池汽车": "fcev", "BEV": "bev", "PHEV": "phev", "FCEV": "fcev"}

_DATE_TEXT = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?")
EXCEL_EPOCH = date(1899, 12, 30)


def parse_date(raw: object) -> date | None:
    """A date from a cell (date, datetime, Excel serial) or text (2026-03-15, 2026/3/15,
    2026年3月15日); None if it is none of these."""
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return EXCEL_EPOCH + timedelta(days=int(raw)) if 1 <= raw < 2958466 else None
    match = _DATE_TEXT.fullmatch(fold(raw).replace("00:00:00", "").strip("T "))
    if not match:
        return None
    try:
        return date(*(int(g) for g in match.groups()))
    except ValueError:
        return None


@dataclass(frozen=True)
class CellProblem:
    """One finding on one row of a roster: `column` is a name of COLUMNS (or None)."""

    row: int
    column: str | None
    value: str
    message: object
    warning: bool = False


@dataclass
class RowsChecked:
    """What check_many found: the clean vehicles (with their row numbers), every problem,
    and the row numbers of each VIN and plate (for the same value twice in one file)."""

    vehicles: list[tuple[int, dict]]
    problems: list[CellProblem]
    vin_rows: dict[str, list[int]]
    plate_rows: dict[str, list[int]]


def check_many(rows: list[tuple[int, dict]], period: str) -> RowsChecked:
    """Every rule of each vehicle that needs no database, on (row number, {column: value})
    pairs; the in-service date must fall within the return's month `period`.

    Written for 100,000 rows a file: one loop, the usual valid row on short paths, and the
    few distinct categories, powertrains and dates looked up once each.
    """
    problems: list[CellProblem] = []
    vehicles: list[tuple[int, dict]] = []
    vin_rows: dict[str, list[int]] = {}
    plate_rows: dict[str, list[int]] = {}
    categories: dict = {}
    powertrains: dict = {}
    dates: dict = {}
    add = problems.append
    for number, raw in rows:
        before = len(problems)
        vin = fold(raw.get("vin"))
        vin_rows.setdefault(vin, []).append(number)
        if (problem := vin_problem(vin)) is not None:
            add(CellProblem(number, "vin", _text(raw.get("vin")), problem))
        value = raw.get("category")
        key = _hashable(value)
        if key not in categories:
            categories[key] = CATEGORY_NAMES.get(fold(value))
        if (category := categories[key]) is None:
            add(CellProblem(number, "category", _text(value), _l(
                "Unknown category: use one of the names in the template's list.")))
        value = raw.get("powertrain")
        key = _hashable(value)
        if key not in powertrains:
            powertrains[key] = POWERTRAIN_NAMES.get(fold(value))
        if (powertrain := powertrains[key]) is None:
            add(CellProblem(number, "powertrain", _text(value), _l(
                "Unknown powertrain: use one of the names in the template's list.")))
        value = raw.get("in_service_date")
        key = _hashable(value)
        if key not in dates:
            dates[key] = _date_problem(value, period)
        day, problem = dates[key]
        if problem is not None:
            add(CellProblem(number, "in_service_date", _text(value), problem))
        texts = _texts(number, raw, add)
        plate = _plate(number, raw.get("plate"), powertrain, plate_rows, add)
        if len(problems) == before or all(p.warning for p in problems[before:]):
            vehicles.append((number, {"vin": vin, "plate": plate[:16], "category": category,
                                      "powertrain": powertrain, "in_service_date": day,
                                      **texts}))
    return RowsChecked(vehicles, problems, vin_rows, plate_rows)


def _plate(number: int, raw: object, powertrain: str | None, plate_rows: dict, add) -> str:
    """The folded plate, its warnings (and an error for control characters), and its row
    noted for the same plate twice."""
    plate = fold(raw)
    if has_illegal_characters(plate):
        add(CellProblem(number, "plate", plate[:100], CONTROL_MESSAGE))
    elif plate:
        plate_rows.setdefault(plate, []).append(number)
        for message in plate_warnings(plate, powertrain):
            add(CellProblem(number, "plate", plate, message, True))
    return plate


def _date_problem(value: object, period: str) -> tuple[date | None, object | None]:
    day = parse_date(value)
    if day is None:
        return None, _l("Not a date (write it as 2026-03-15).")
    if f"{day:%Y-%m}" != period:
        return day, _l("The in-service date must fall within the return's month "
                       "(%(first)s to %(last)s).", first=f"{period}-01",
                       last=_last_day(period))
    return day, None


def _texts(number: int, raw: dict, add) -> dict[str, str]:
    """Operator, model and maker with their spaces tidied; the operator is required."""
    texts = {}
    for name, limit in MAX_TEXT.items():
        text = raw.get(name)
        text = "" if text is None else " ".join(str(text).split())
        texts[name] = text
        if has_illegal_characters(text):
            add(CellProblem(number, name, text[:100], CONTROL_MESSAGE))
        elif len(text) > limit:
            add(CellProblem(number, name, text[:100], _l("At most %(n)s characters.",
                                                         n=limit)))
    if not texts["operator"]:
        add(CellProblem(number, "operator", "", _l("The operator (运营单位) is missing.")))
    return texts


def check_row(row_number: int, raw: dict, period: str
              ) -> tuple[dict | None, list[CellProblem]]:
    """check_many for one vehicle: the clean vehicle (None on an error) and its problems."""
    checked = check_many([(row_number, raw)], period)
    vehicle = checked.vehicles[0][1] if checked.vehicles else None
    return vehicle, checked.problems


_PLAIN_TYPES = frozenset((str, int, float, date, datetime, type(None)))


def _hashable(value: object) -> object:
    return value if type(value) in _PLAIN_TYPES else str(value)


def _text(value: object) -> str:
    return "" if value is None else str(value)[:100]


def _last_day(period: str) -> str:
    return (date.fromisoformat(add_months(period, 1) + "-01") - timedelta(days=1)).isoformat()


def column_label(column: str | None, lang: str) -> str:
    """The header of a column as the person reads it."""
    if column is None:
        return ""
    headers = HEADERS_ZH if lang.startswith("zh") else HEADERS_EN
    return headers[COLUMNS.index(column)]
