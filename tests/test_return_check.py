"""The rules' check before saving (issue 11, items 2 and 3): one JSON endpoint that runs
fleet.domain.returns.check on the values of the page, every problem at once."""

from .returns_helpers import form_data, the_return, this_month


def check(client, **values):
    data = {k: v for k, v in form_data(0, **values).items() if k not in ("save", "submit")}
    return client.post(f"/returns/{this_month()}/check", data=data)


def test_the_check_lists_errors_and_warnings_with_fields_in_chinese(client, auth, setup):
    auth.login("shenzhen")
    response = check(client, bus_bev="290", bus_all_new="300", charging_points="5000")
    assert response.status_code == 200
    body = response.get_json()
    assert body["errors"] == []
    (warning,) = body["warnings"]
    assert warning["field"] == "charging_points" and warning["label"] == "新增公共充电桩"
    assert "充电桩" in warning["message"] and "17.24" in warning["message"]
    assert the_return() is None  # a check saves nothing


def test_every_error_at_once_in_english(client, auth, setup):
    auth.login("shenzhen")
    client.get("/lang/en")
    body = check(client, bus_bev="abc", taxi_bev="30", taxi_all_new="20").get_json()
    fields = {p["field"]: p["message"] for p in body["errors"]}
    assert set(fields) == {"bus_bev", "taxi_all_new"}  # not one round per error
    assert "whole number" in fields["bus_bev"]
    assert "exceed all new vehicles" in fields["taxi_all_new"]


def test_only_a_city_checks_its_return(client, auth, setup):
    auth.login("ministry1")
    assert check(client).status_code == 403
