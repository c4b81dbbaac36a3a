"""Each hard rule and each warning of fleet.domain.rules."""

import pytest

from fleet.domain.rules import (
    COUNT_FIELDS,
    MAX_MONTHLY_COUNT,
    NUMBER_FIELDS,
    check_return,
    field_label,
    parse_count,
)

WINDOW = dict(first_period="2025-01", last_period="2026-12", this_month="2025-10")


def raw(**values):
    data = {name: "0" for name in NUMBER_FIELDS}
    data.update({"bus_bev": "10", "bus_all_new": "12", "charging_points": "10"})
    data.update({k: str(v) for k, v in values.items()})
    return data


def check(data, period="2025-09", history=None):
    return check_return(data, period=period, history=history or {}, **WINDOW)


def codes(problems):
    return [(p.code, p.field) for p in problems]


def test_a_good_return_passes_with_its_numbers():
    result = check(raw(taxi_phev=3, taxi_all_new=5, notes="  两辆出租车  "))
    assert result.ok and result.warnings == []
    values = result.values
    assert values.lines["bus"].bev == 10 and values.lines["taxi"].phev == 3
    assert values.nev_total == 13 and values.all_new_total == 17
    assert values.notes == "两辆出租车"


@pytest.mark.parametrize("text", ["abc", "1.5", "1e3", "=SUM(A1)", "１２", "true"])
def test_not_a_whole_number(text):
    result = check(raw(bus_phev=text))
    assert codes(result.errors) == [("not_whole_number", "bus_phev")]
    assert result.values is None
    assert str(result.errors[0].message) == "Must be a whole number, 0 or more."


def test_blank_means_zero_and_separators_are_forgiven():
    assert parse_count("") == 0 and parse_count(None) == 0
    assert parse_count(" 1,234 ") == 1234 and parse_count(7.0) == 7
    assert parse_count(True) is None and parse_count(2.5) is None


def test_negative_is_an_error():
    assert codes(check(raw(charging_points=-1)).errors) == [("negative", "charging_points")]


def test_absurdly_large_is_an_error():
    result = check(raw(taxi_bev=MAX_MONTHLY_COUNT + 1, taxi_all_new=MAX_MONTHLY_COUNT + 1))
    assert ("too_large", "taxi_bev") in codes(result.errors)


def test_nevs_above_all_new_vehicles_of_the_category():
    result = check(raw(bus_bev=10, bus_phev=5, bus_all_new=12))
    assert codes(result.errors) == [("nev_above_all_new", "bus_all_new")]
    assert "15" in str(result.errors[0].message) and "12" in str(result.errors[0].message)


def test_month_outside_the_window_or_in_the_future():
    assert codes(check(raw(), period="2024-12").errors) == [("outside_window", "period")]
    assert codes(check(raw(), period="2027-01").errors) == [("outside_window", "period")]
    assert codes(check(raw(), period="2025-11").errors) == [("future_month", "period")]
    assert check(raw(), period="2025-10").ok  # the running month may be entered


def test_notes_too_long():
    assert codes(check(raw(notes="字" * 2001)).errors) == [("notes_too_long", "notes")]
    assert check(raw(notes="字" * 2000)).ok


def test_warning_far_above_usual():
    history = {"bus": [10, 12, 8]}
    result = check(raw(bus_bev=100, bus_all_new=100, charging_points=100), history=history)
    assert result.ok
    assert codes(result.warnings) == [("far_above_usual", "bus_bev")]
    # Small numbers that triple are not worth a reviewer's eye.
    small = check(raw(bus_bev=9, bus_all_new=9, charging_points=9), history={"bus": [2, 3]})
    assert small.warnings == []


def test_warning_no_vehicles_at_all():
    empty = {name: "0" for name in NUMBER_FIELDS}
    result = check(empty)
    assert result.ok and codes(result.warnings) == [("no_vehicles", None)]


def test_warning_charging_points_far_from_one_to_one():
    assert codes(check(raw(charging_points=2)).warnings) == [("charging_ratio",
                                                             "charging_points")]
    assert codes(check(raw(charging_points=30)).warnings) == [("charging_ratio",
                                                              "charging_points")]
    assert check(raw(charging_points=8)).warnings == []


def test_every_count_field_has_a_label_in_both_languages():
    assert len(COUNT_FIELDS) == 32
    assert field_label("heavy_truck_fcev", "zh") == "特定场景重型货车 · 燃料电池"
    assert field_label("bus_all_new", "en") == "City buses · All new vehicles"
    assert field_label("charging_points", "zh") == "新增公共充电桩"
