"""Helpers for the roster tests: VINs built from first principles, roster files in each
format and encoding."""

import codecs
import csv
import io
import random

from openpyxl import Workbook

# ISO 3779 transliteration and weights, written out here independently of the app's code.
TRANSLITERATION = dict(zip("0123456789", range(10), strict=True)) | {
    "A": 1, "B": 2, "C": 3, "D": 4, "E": 5, "F": 6, "G": 7, "H": 8, "J": 1, "K": 2, "L": 3,
    "M": 4, "N": 5, "P": 7, "R": 9, "S": 2, "T": 3, "U": 4, "V": 5, "W": 6, "X": 7, "Y": 8,
    "Z": 9}
WEIGHTS = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2]
HEADERS = ["车辆识别代号(VIN)", "号牌号码", "领域", "动力类型", "投入使用日期", "运营单位",
           "车辆型号", "生产企业"]


def with_check_digit(vin: str) -> str:
    """The VIN with position 9 set to its check digit (remainder of the weighted sum by 11)."""
    body = vin[:8] + "0" + vin[9:]
    total = sum(TRANSLITERATION[ch] * w for ch, w in zip(body, WEIGHTS, strict=True))
    digit = "X" if total % 11 == 10 else str(total % 11)
    return vin[:8] + digit + vin[9:]


def make_vin(n: int, prefix: str = "LFV2A2") -> str:
    """A valid VIN, different for each n."""
    body = f"{prefix}{'BC'}0{'S'}{n:07d}"[:17]
    return with_check_digit(body)


def wrong_check_digit(vin: str) -> str:
    right = vin[8]
    return vin[:8] + ("1" if right != "1" else "2") + vin[9:]


def row(n: int, period: str, category: str = "bus", powertrain: str = "bev", **extra) -> list:
    """One roster row: VIN, plate, category, powertrain, date, operator, model, maker."""
    plate = extra.pop("plate", f"粤B{n % 100000:05d}D" if powertrain == "bev"
                      else f"粤B{n % 100000:05d}F")
    values = {"vin": make_vin(n), "plate": plate, "category": category,
              "powertrain": powertrain, "date": f"{period}-15", "operator": "深圳巴士集团",
              "model": "BYD6122", "maker": "比亚迪"}
    values.update(extra)
    return [values[k] for k in ("vin", "plate", "category", "powertrain", "date", "operator",
                                "model", "maker")]


def rows_for(period: str, counts: dict, start: int = 0) -> list[list]:
    """Rows giving {(category, powertrain): n} vehicles, numbered from `start`."""
    out, n = [], start
    for (category, powertrain), count in counts.items():
        for _ in range(count):
            out.append(row(n, period, category, powertrain))
            n += 1
    return out


def csv_bytes(rows: list[list], encoding: str = "utf-8-sig", headers=HEADERS) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(headers)
    writer.writerows(rows)
    return text.getvalue().encode(encoding)


def xlsx_bytes(rows: list[list], headers=HEADERS) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(headers)
    for r in rows:
        sheet.append(r)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def shuffled(rows: list[list], seed: int = 1) -> list[list]:
    rows = list(rows)
    random.Random(seed).shuffle(rows)
    return rows


BOM = codecs.BOM_UTF8
