"""The rules of one roster vehicle (fleet.domain.vehicle_rules): VIN check digits against
known-good and known-bad VINs, folding, plates, dates, categories, operator."""

import pytest

from fleet.domain.vehicle_rules import check_row, is_valid_vin, parse_date, plate_warnings

from .roster_helpers import make_vin, with_check_digit, wrong_check_digit

# Published examples with a correct check digit (the first is the classic textbook VIN).
KNOWN_GOOD = ["1M8GDM9AXKP042788", "11111111111111111", "1HGCM82633A004352",
              "JHMCM56557C404453"]


@pytest.mark.parametrize("vin", KNOWN_GOOD)
def test_known_good_vins(vin):
    assert is_valid_vin(vin)


@pytest.mark.parametrize("vin", [
    "1M8GDM9A1KP042788",     # check digit changed
    "1HGCM82643A004352",     # check digit changed
    "1M8GDM9AXKP04278",      # 16 characters
    "1M8GDM9AXKP0427888",    # 18 characters
    "1M8GDM9AXKP04278O",     # the letter O is not in the VIN alphabet
    "IM8GDM9AXKP042788",     # nor is I
    "1M8GDM9AXKQ042788",     # nor is Q
    "", "1M8GDM9AXKP04278*",
])
def test_known_bad_vins(vin):
    assert not is_valid_vin(vin)


def test_check_digit_from_first_principles():
    # Built by the test's own transliteration and weights; 'X' stands for remainder 10.
    for n in range(200):
        vin = make_vin(n * 7919)
        assert is_valid_vin(vin), vin
        assert not is_valid_vin(wrong_check_digit(vin)), vin
    assert with_check_digit("1M8GDM9A0KP042788") == "1M8GDM9AXKP042788"


def test_vin_is_trimmed_upper_cased_and_full_width_folded():
    assert is_valid_vin("  1m8gdm9axkp042788 ")
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in "1M8GDM9AXKP042788")
    assert is_valid_vin(full_width)
    vehicle, problems = check_row(2, {"vin": full_width, "category": "bus",
                                      "powertrain": "bev", "in_service_date": "2026-03-02",
                                      "operator": "公交"}, "2026-03")
    assert vehicle["vin"] == "1M8GDM9AXKP042788" and problems == []


@pytest.mark.parametrize("plate,powertrain,warned", [
    ("粤BD12345", "bev", False),   # small vehicle: D first
    ("粤B12345D", "bev", False),   # large vehicle: D last
    ("粤BF12345", "phev", False),  # F for non-battery-electric
    ("京AF1234G", "fcev", True),   # neither pattern
    ("粤B12345", "bev", True),     # 7 characters: an ordinary plate
    ("XXBD12345", "bev", True),    # no province
    ("粤BF12345", "bev", True),    # F plate on a battery-electric vehicle
    ("粤BD12345", "phev", True),   # D plate on a plug-in hybrid
    ("", "bev", False),            # no plate yet: nothing to say
])
def test_plate_warnings(plate, powertrain, warned):
    assert bool(plate_warnings(plate, powertrain)) is warned


def test_dates_in_every_shape():
    assert str(parse_date("2026-03-05")) == "2026-03-05"
    assert str(parse_date("2026/3/5")) == "2026-03-05"
    assert str(parse_date("2026年3月5日")) == "2026-03-05"
    assert str(parse_date(46086)) == "2026-03-05"  # an Excel serial number
    assert parse_date("2026-02-30") is None and parse_date("soon") is None


def test_every_problem_of_a_row_at_once():
    vehicle, problems = check_row(7, {"vin": "1M8GDM9A1KP042788", "category": "rocket",
                                      "powertrain": "steam", "in_service_date": "2026-04-01",
                                      "operator": " ", "plate": "粤B12345"}, "2026-03")
    assert vehicle is None
    columns = {p.column for p in problems if not p.warning}
    assert columns == {"vin", "category", "powertrain", "in_service_date", "operator"}
    assert all(p.row == 7 for p in problems)
    assert [p.column for p in problems if p.warning] == ["plate"]


def test_names_and_codes_of_categories_and_powertrains():
    for category, powertrain in (("城市公交", "纯电动"), ("bus", "bev"), ("City buses", "BEV"),
                                 ("出租(含网约车)", "插电式混合动力(含增程式)")):
        vehicle, problems = check_row(2, {"vin": "1M8GDM9AXKP042788", "category": category,
                                          "powertrain": powertrain, "operator": "x",
                                          "in_service_date": "2026-03-31"}, "2026-03")
        assert vehicle is not None, (category, powertrain, problems)


# --- the column-wise checks agree with the one-value rules --------------------------------------

def test_a_column_is_folded_as_each_value_would_be():
    from fleet.domain.vehicle_rules import fold, fold_all

    columns = [
        ["1m8gdm9axkp042788", "JHMCM56557C404453"],                    # the fast path
        ["ＬＦＶ２Ａ", "粤b12345d", "京ａｂ"],                           # full width, Chinese
        [" 1m8gdm9axkp042788 ", "a b", "x\ty", "", None, 12345, 1.5],  # spaces, others
        ["ab\ncd", "ef"], ["ab", ""], [""], [],                       # line feeds, empties
        ["ß", "\u3000x"],
    ]
    for column in columns:
        assert fold_all(column) == [fold(v) for v in column], column


def test_every_vin_of_a_column_is_judged_as_alone():
    import random

    from fleet.domain.vehicle_rules import invalid_vins, vin_problem

    rnd = random.Random(7)
    good = [make_vin(rnd.randrange(10**7)) for _ in range(300)] + KNOWN_GOOD
    bad = [wrong_check_digit(v) for v in good[:50]] + ["", "1M8GDM9AXKP04278",
                                                         "1M8GDM9AXKP04278O", "短"]
    for column in (good, good + bad, rnd.sample(good + bad, 200), bad, []):
        expected = [i for i, vin in enumerate(column) if vin_problem(vin) is not None]
        assert invalid_vins(column) == expected


def test_plates_of_a_column_are_judged_as_alone():
    from fleet.domain.vehicle_rules import _plate_issues, plate_warnings

    plates = ["粤BD12345", "粤B12345D", "粤BF12345", "京AF1234G", "粤B12345", "XXBD12345",
              "粤BF12345", "粤BD12345", "", "D", "F", "粤B\n12345D", "粤B1\x002345D"]
    powertrains = ["bev", "bev", "phev", "fcev", "bev", "bev", "bev", "phev", "bev", "bev",
                   "phev", "bev", None]
    issues = _plate_issues(plates, powertrains)
    warned = {i for i, _, _, _, warning in issues if warning}
    assert warned == {i for i, (p, t) in enumerate(zip(plates, powertrains, strict=True))
                      if p and "\x00" not in p and plate_warnings(p, t)}
    assert [(i, warning) for i, _, _, _, warning in issues if not warning] == [(12, False)]


def test_equal_values_of_different_kinds_are_not_confused():
    from fleet.domain.vehicle_rules import by_value

    values = [1, 1.0, True, "1", None, 1]
    converted, _ = by_value(values, lambda v: type(v).__name__)
    assert converted == ["int", "float", "bool", "str", "NoneType", "int"]
