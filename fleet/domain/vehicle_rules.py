"""The rules of one vehicle of a roster (车辆明细): VIN, plate, category, powertrain, date,
operator. One place, used by the roster upload, the single-vehicle form, the CLI and the API.

The rules of the return itself are in fleet.domain.rules; the checks that need the database
(a VIN already counted) are in fleet.domain.roster, which calls these.
"""

import re
import sys
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import compress
from operator import and_, eq, itemgetter, mul, ne, not_

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


# --- many vehicles at once ----------------------------------------------------------------------
#
# A roster holds up to 100,000 vehicles, and its import is measured against python-calamine
# reading the same file (bench/bench_roster.py). So the rules run a column at a time with
# the work inside C where it can be: a column of plain ASCII VINs is folded and shape-checked
# as one string and the check digits of all of them come from a few big-integer sums; the few
# distinct sectors, powertrains, dates and operators are looked up once each; no object is
# made per vehicle. The rules are still the ones above (fold, vin_problem, parse_date,
# plate_warnings): a fast path only skips work in which they would find nothing.


@dataclass
class Table:
    """Vehicles as read, column by column: the row number of each in its file (its item in a
    JSON array), and the raw values of each column of COLUMNS the file has."""

    numbers: list[int]
    columns: dict[str, Sequence]

    def __len__(self) -> int:
        return len(self.numbers)

    def column(self, name: str) -> Sequence:
        values = self.columns.get(name)
        return values if values is not None else [None] * len(self.numbers)

    def row(self, index: int) -> dict:
        return {name: values[index] for name, values in self.columns.items()}

    def rows(self) -> list[tuple[int, dict]]:
        """(row number, {column: raw value}) of every vehicle."""
        return [(number, self.row(i)) for i, number in enumerate(self.numbers)]

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[int, dict]]) -> "Table":
        rows = list(rows)
        return cls([number for number, _ in rows],
                   {name: [raw.get(name) for _, raw in rows] for name in COLUMNS})


@dataclass
class Vehicles:
    """Vehicles without errors, column by column, as they are stored (VIN and plate folded,
    the codes of sector and powertrain, dates, tidied texts), with their row numbers."""

    numbers: list[int]
    columns: dict[str, list]  # every name of COLUMNS

    @classmethod
    def empty(cls) -> "Vehicles":
        return cls([], {name: [] for name in COLUMNS})

    def __len__(self) -> int:
        return len(self.numbers)

    def __getitem__(self, index: int) -> dict:
        return {name: values[index] for name, values in self.columns.items()}

    def take(self, indexes: list[int]) -> "Vehicles":
        """Only these vehicles (positions in this list), in this order."""
        pick = itemgetter(*indexes) if len(indexes) > 1 else None

        def select(values: Sequence) -> list:
            if pick is None:
                return [values[i] for i in indexes]
            return list(pick(values))

        return Vehicles(select(self.numbers),
                        {name: select(values) for name, values in self.columns.items()})

    def counts(self) -> dict[tuple[str, str], int]:
        """{(category, powertrain): vehicles}."""
        return dict(Counter(zip(self.columns["category"], self.columns["powertrain"],
                                strict=True)))


@dataclass
class RowsChecked:
    """What check_table found: the clean vehicles, every problem (by row, then column), and
    the row numbers of each VIN and plate that is on more than one row."""

    vehicles: Vehicles
    problems: list[CellProblem]
    vin_rows: dict[str, list[int]]
    plate_rows: dict[str, list[int]]


_COLUMN_ORDER = {name: i for i, name in enumerate(COLUMNS)}
# An issue found in a column: (position in the table, column, value shown, message, warning).
Issue = tuple[int, str, str, object, bool]


def check_table(table: Table, period: str) -> RowsChecked:
    """Every rule of each vehicle that needs no database, every problem at once; the
    in-service date must fall within the return's month `period`."""
    issues: list[Issue] = []
    raw_vins = table.column("vin")
    vins = fold_all(raw_vins)
    issues += [(i, "vin", _text(raw_vins[i]), vin_problem(vins[i]), False)
               for i in invalid_vins(vins)]
    codes = {}
    for name, names, message in (
            ("category", CATEGORY_NAMES,
             _l("Unknown category: use one of the names in the template's list.")),
            ("powertrain", POWERTRAIN_NAMES,
             _l("Unknown powertrain: use one of the names in the template's list."))):
        raw = table.column(name)
        codes[name], distinct = by_value(raw, lambda v, names=names: names.get(fold(v)))
        if None in distinct:
            issues += [(i, name, _text(raw[i]), message, False)
                       for i, code in enumerate(codes[name]) if code is None]
    raw_days = table.column("in_service_date")
    days, distinct = by_value(raw_days, lambda v: _date_problem(v, period))
    if any(problem is not None for _, problem in distinct):
        issues += [(i, "in_service_date", _text(raw_days[i]), problem, False)
                   for i, (_, problem) in enumerate(days) if problem is not None]
    texts = {}
    for name in MAX_TEXT:
        tidied, distinct = by_value(table.column(name),
                                    lambda v, name=name: _tidy_text(name, v))
        texts[name] = list(map(itemgetter(0), tidied))
        if any(problem is not None for _, problem in distinct):
            issues += [(i, name, text[:100], problem, False)
                       for i, (text, problem) in enumerate(tidied) if problem is not None]
    plates = fold_all(table.column("plate"))
    issues += _plate_issues(plates, codes["powertrain"])
    columns = {"vin": vins, "plate": _at_most(plates, 16), **codes,
               "in_service_date": list(map(itemgetter(0), days)), **texts}
    return _checked(table.numbers, issues, columns, vins, plates)


def _checked(numbers: list[int], issues: list[Issue], columns: dict[str, list],
             vins: list[str], plates: list[str]) -> RowsChecked:
    """The problems in row order, the vehicles of the rows without an error, the VINs and
    plates found twice (a plate with control characters is an error, not a plate)."""
    issues.sort(key=lambda issue: (issue[0], _COLUMN_ORDER[issue[1]]))
    problems = [CellProblem(numbers[i], column, value, message, warning)
                for i, column, value, message, warning in issues]
    failed = {issue[0] for issue in issues if not issue[4]}
    vehicles = Vehicles(numbers, {name: columns[name] for name in COLUMNS})
    if failed:
        vehicles = vehicles.take([i for i in range(len(numbers)) if i not in failed])
    bad_plates = {issue[0] for issue in issues if issue[1] == "plate" and not issue[4]}
    if bad_plates:
        plates = ["" if i in bad_plates else plate for i, plate in enumerate(plates)]
    return RowsChecked(vehicles, problems, _twice(vins, numbers), _twice(plates, numbers))


def _twice(values: list[str], numbers: list[int]) -> dict[str, list[int]]:
    """{value: row numbers} of the non-empty values on more than one row."""
    present = [v for v in values if v]
    if len(set(present)) == len(present):  # the usual case: nothing twice
        return {}
    rows: dict[str, list[int]] = {}
    for value, number in zip(values, numbers, strict=True):
        if value:
            rows.setdefault(value, []).append(number)
    return {value: found for value, found in rows.items() if len(found) > 1}


def fold_all(values: Sequence) -> list[str]:
    """fold() of every value; in a few C calls on the column joined into one string when
    every value is text without whitespace (a usual column of VINs or plates): folding is
    then the full-width translation and upper-casing, character by character."""
    try:
        joined = "\n".join(values)  # only text joins
    except TypeError:
        joined = None
    if (joined is not None and values and joined.count("\n") == len(values) - 1
            and not _WHITESPACE_BUT_SEPARATOR.search(joined)):
        if not joined.isascii() and _FULL_WIDTH.search(joined):
            joined = joined.translate(_FOLD)
        return joined.upper().split("\n")
    return [fold(value) for value in values]


_FULL_WIDTH = re.compile("[\uff01-\uff5e]")
_WHITESPACE_BUT_SEPARATOR = re.compile(r"[^\S\n]")
# The VIN alphabet and the separator of a joined column, and each character's value as a byte.
_VIN_BYTES = "".join(sorted(VIN_ALPHABET)).encode() + b"\n"
_VIN_VALUE_BYTES = bytes.maketrans(
    "".join(VIN_VALUES).encode(), bytes(VIN_VALUES.values()))
# A VIN's weighted sum (at most 89 × 9) → its check digit, as a byte.
_CHECK_DIGIT_BYTES = bytes(ord("0123456789X"[total % 11]) for total in range(90 * 9))


def invalid_vins(vins: list[str]) -> list[int]:
    """Positions of the (folded) VINs that vin_problem refuses.

    The usual column, every VIN of 17 characters of the alphabet, is checked as one string;
    otherwise the VINs of that shape still are, and the others go through vin_problem."""
    if not vins:
        return []
    joined = "\n".join(vins).encode("ascii", errors="replace")
    n = len(vins)
    if (len(joined) == 18 * n - 1 and joined[17::18] == b"\n" * (n - 1)
            and not joined.translate(None, _VIN_BYTES)):
        return _wrong_check_digits(joined, n)
    shaped = [i for i, vin in enumerate(vins) if _VIN_SHAPE.fullmatch(vin)]
    misshapen = set(range(n)).difference(shaped)
    wrong = _wrong_check_digits("\n".join(vins[i] for i in shaped).encode(), len(shaped))
    return sorted([*misshapen, *(shaped[k] for k in wrong)])


def _wrong_check_digits(joined: bytes, n: int) -> list[int]:
    """Positions of the VINs whose 9th character is not their check digit, in `joined`: n
    VINs of the alphabet, 17 bytes each, separated by one byte.

    Each character's value (0-9) is a byte; the values at one position of every VIN, spread
    over 16-bit lanes, make one big integer, and the weighted sum of the 17 such integers
    holds every VIN's weighted sum in its own lane (at most 801: no lane carries into the
    next). One pass of Python per position, not per VIN."""
    if not n:
        return []
    values = joined.translate(_VIN_VALUE_BYTES)
    lanes = bytearray(2 * n)
    total = 0
    for position, weight in enumerate(VIN_WEIGHTS):
        if weight:
            lanes[0::2] = values[position::18]
            total += weight * int.from_bytes(lanes, "little")
    sums = array("H", total.to_bytes(2 * n, "little"))
    if sys.byteorder == "big":
        sums.byteswap()
    expected = bytes(map(_CHECK_DIGIT_BYTES.__getitem__, sums))
    found = joined[8::18]
    if expected == found:
        return []
    return [k for k, (a, b) in enumerate(zip(expected, found, strict=True)) if a != b]


def by_value(values: Sequence, convert: Callable) -> tuple[list, list]:
    """convert(value) for every value, computed once for each distinct value; and the
    distinct results (so that a column whose values all pass is not scanned again)."""
    try:
        distinct = set(values)
    except TypeError:  # an unhashable value: no file or API body gives one
        converted = [convert(value) for value in values]
        return converted, converted
    if any(type(value) in NUMBER_TYPES for value in distinct):
        # 1, 1.0 and True are one key of a set, but not the same cell.
        keys = list(zip(map(type, values), values, strict=True))
        results = {key: convert(key[1]) for key in set(keys)}
        return list(map(results.__getitem__, keys)), list(results.values())
    results = {value: convert(value) for value in distinct}
    return list(map(results.__getitem__, values)), list(results.values())


# Types whose equal values are different cells (1, 1.0 and True).
NUMBER_TYPES = frozenset((bool, int, float))


# The new-energy plate pattern on each line of a column joined by line feeds, and the letter
# each powertrain's plate carries.
_NEV_PLATE_LINES = re.compile(f"^(?:{_NEV_PLATE.pattern})$", re.MULTILINE)
_PLATE_LETTER = {"bev": "D", "phev": "F", "fcev": "F"}


def _letter(match: re.Match) -> str:
    # (A function: re expands a template such as r"\1\2" three times slower.)
    return match[1] or match[2]


def _plate_issues(plates: list[str], powertrains: list[str | None]) -> list[Issue]:
    """A plate with control characters is an error; one that is not a new-energy plate, or
    whose letter disagrees with the powertrain, a warning (plate_warnings).

    The usual plate, a new-energy plate with the right letter, is found for the whole
    column at once: each such line of the joined column becomes its letter (so it changes)
    and that letter is the powertrain's. Only the others are looked at one by one."""
    joined = "\n".join(plates)
    if joined.count("\n") == len(plates) - 1:
        letters = _NEV_PLATE_LINES.sub(_letter, joined).split("\n")
        fine = map(and_, map(eq, letters, map(_PLATE_LETTER.get, powertrains)),
                   map(ne, letters, plates))
        suspects: Iterable[int] = compress(range(len(plates)), map(not_, fine))
    else:  # a plate holds a line feed
        suspects = range(len(plates))
    issues: list[Issue] = []
    for i in suspects:
        plate = plates[i]
        if not plate:
            continue
        warnings = plate_warnings(plate, powertrains[i])
        if not warnings:
            continue
        if has_illegal_characters(plate):
            issues.append((i, "plate", plate[:100], CONTROL_MESSAGE, False))
        else:
            issues += [(i, "plate", plate, message, True) for message in warnings]
    return issues


def _at_most(values: list[str], length: int) -> list[str]:
    if max(map(len, values), default=0) <= length:
        return values
    return [value[:length] for value in values]


def _date_problem(value: object, period: str) -> tuple[date | None, object | None]:
    day = parse_date(value)
    if day is None:
        return None, _l("Not a date (write it as 2026-03-15).")
    if f"{day:%Y-%m}" != period:
        return day, _l("The in-service date must fall within the return's month "
                       "(%(first)s to %(last)s).", first=f"{period}-01",
                       last=_last_day(period))
    return day, None


def _tidy_text(name: str, value: object) -> tuple[str, object | None]:
    """Operator, model or maker with its spaces tidied, and why it is refused, if it is:
    control characters, too long, or (the operator) missing."""
    text = "" if value is None else " ".join(str(value).split())
    if has_illegal_characters(text):
        return text, CONTROL_MESSAGE
    if len(text) > MAX_TEXT[name]:
        return text, _l("At most %(n)s characters.", n=MAX_TEXT[name])
    if name == "operator" and not text:
        return text, _l("The operator (运营单位) is missing.")
    return text, None


def check_many(rows: Iterable[tuple[int, dict]], period: str) -> RowsChecked:
    """check_table on (row number, {column: raw value}) pairs."""
    return check_table(Table.from_rows(rows), period)


def check_row(row_number: int, raw: dict, period: str
              ) -> tuple[dict | None, list[CellProblem]]:
    """The rules for one vehicle: the clean vehicle (None on an error) and its problems."""
    checked = check_many([(row_number, raw)], period)
    vehicle = checked.vehicles[0] if len(checked.vehicles) else None
    return vehicle, checked.problems


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
