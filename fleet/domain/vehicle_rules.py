"""The rules of one vehicle of a roster (车辆明细): VIN, plate, category, powertrain, date,
operator. One place, used by the roster upload, the single-vehicle form, the CLI and the API.

The rules of the return itself are in fleet.domain.rules; the checks that need the database
(a VIN already counted) are in fleet.domain.roster, which calls these.
"""

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from operator import mul

from flask_babel import lazy_gettext as _l

from .periods import add_months
from .reference import CATEGORIES, POWERTRAINS

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
_SMALL = re.compile(r"[DF][A-HJ-NP-Z0-9]\d{4}")
_LARGE = re.compile(r"\d{5}[DF]")
_PLATE_LETTER = re.compile(r"[A-HJ-NP-Z]")


def fold(text: object) -> str:
    """Trimmed, upper-case, full-width characters folded to ASCII (ＬＦＶ → LFV)."""
    if text is None:
        return ""
    text = text if isinstance(text, str) else str(text)
    if not text.isascii():  # NFKC only where it can change something (it is slow)
        text = unicodedata.normalize("NFKC", text)
    return text.strip().upper().replace(" ", "")


_VIN_SHAPE = re.compile(r"[0-9A-HJ-NPR-Z]{17}")


def vin_check_digit(vin17: str) -> str:
    """The check digit (position 9) of a VIN of the VIN alphabet: '0'..'9' or 'X'."""
    total = sum(map(mul, map(VIN_VALUES.__getitem__, vin17), VIN_WEIGHTS))
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
    tail = plate[2:]
    if (len(plate) != 8 or plate[0] not in PROVINCES or not _PLATE_LETTER.fullmatch(plate[1])
            or not (_SMALL.fullmatch(tail) or _LARGE.fullmatch(tail))):
        return [_l("Not a new-energy plate (8 characters: province, letter, then six with D "
                   "or F first for small vehicles or last for large ones).")]
    letter = tail[0] if tail[0] in "DF" else tail[-1]
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


@lru_cache(maxsize=1024)
def _category(raw: object) -> str | None:
    return CATEGORY_NAMES.get(fold(raw))


@lru_cache(maxsize=1024)
def _powertrain(raw: object) -> str | None:
    return POWERTRAIN_NAMES.get(fold(raw))


@lru_cache(maxsize=64)
def _month_of(day: date) -> str:
    return f"{day:%Y-%m}"


def check_row(row_number: int, raw: dict, period: str
              ) -> tuple[dict | None, list[CellProblem]]:
    """Every rule of one vehicle that needs no database; `raw` holds COLUMNS → cell value.

    Returns the clean vehicle (or None when it has an error) and its problems (errors and
    warnings). The in-service date must fall within the return's month `period`.
    Written for 100,000 rows a file: the usual, valid row takes the short paths.
    """
    problems: list[CellProblem] = []
    vin = fold(raw.get("vin"))
    if (problem := vin_problem(vin)) is not None:
        problems.append(CellProblem(row_number, "vin", _text(raw.get("vin")), problem))
    category = _category(_hashable(raw.get("category")))
    if category is None:
        problems.append(CellProblem(row_number, "category", _text(raw.get("category")), _l(
            "Unknown category: use one of the names in the template's list.")))
    powertrain = _powertrain(_hashable(raw.get("powertrain")))
    if powertrain is None:
        problems.append(CellProblem(row_number, "powertrain", _text(raw.get("powertrain")),
                                    _l("Unknown powertrain: use one of the names in the "
                                       "template's list.")))
    value = raw.get("in_service_date")
    day = value if type(value) is date else parse_date(value)
    if day is None:
        problems.append(CellProblem(row_number, "in_service_date", _text(value),
                                    _l("Not a date (write it as 2026-03-15).")))
    elif _month_of(day) != period:
        problems.append(CellProblem(
            row_number, "in_service_date", day.isoformat(),
            _l("The in-service date must fall within the return's month (%(first)s to "
               "%(last)s).", first=f"{period}-01", last=_last_day(period))))
    texts = {}
    for name, limit in MAX_TEXT.items():
        text = raw.get(name)
        text = "" if text is None else " ".join(str(text).split())
        texts[name] = text
        if len(text) > limit:
            problems.append(CellProblem(row_number, name, text[:100],
                                        _l("At most %(n)s characters.", n=limit)))
    if not texts["operator"]:
        problems.append(CellProblem(row_number, "operator", "",
                                    _l("The operator (运营单位) is missing.")))
    plate = fold(raw.get("plate"))
    for message in plate_warnings(plate, powertrain):
        problems.append(CellProblem(row_number, "plate", plate, message, True))
    if problems and any(not p.warning for p in problems):
        return None, problems
    return {"vin": vin, "plate": plate[:16], "category": category, "powertrain": powertrain,
            "in_service_date": day, **texts}, problems


def _hashable(value: object) -> object:
    return value if isinstance(value, str | int | float | type(None)) else str(value)


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
