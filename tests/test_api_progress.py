"""GET /api/v1/progress: the same figures as the pages, within the user's rights."""

import pytest

from .progress_helpers import make_progress_fixture

Q = "?through=2025-03"


@pytest.fixture
def data(users):
    return make_progress_fixture()


def test_signed_out_gets_401_json(client, data):
    response = client.get("/api/v1/progress")
    assert response.status_code == 401 and response.mimetype == "application/problem+json"
    assert response.json["status"] == 401 and response.headers["WWW-Authenticate"]


def test_ministry_gets_national_cities_categories_and_months(client, auth, data):
    auth.login("ministry1")
    body = client.get("/api/v1/progress" + Q).json
    assert body["basis"] == "reported" and body["through"] == "2025-03"
    assert body["scope"] == "national"
    n = body["national"]
    assert (n["target"], n["nev"], n["bev"], n["phev"], n["fcev"]) == (700000, 113, 94, 12, 7)
    assert n["this_month"] == 12 and n["all_new"] == 134
    assert n["projection"]["value"] == 904 and n["on_track"] is False
    assert n["window"]["elapsed_months"] == 3 and n["window"]["elapsed_share"] == 0.125
    assert n["charging_points"] == 93
    assert n["completeness"]["late"] == 2  # Shenzhen February, Beijing March
    cities = {c["code"]: c for c in body["cities"]}
    assert "120000" not in cities and len(cities) == 24
    assert (cities["440300"]["nev"], cities["440300"]["target"]) == (47, 1000)
    assert cities["440300"]["pct_of_target"] == pytest.approx(0.047)
    assert cities["110000"]["this_month"] == 12 and cities["320200"]["target"] is None
    taxi = next(c for c in body["by_category"] if c["category"] == "taxi")
    assert (taxi["nev"], taxi["all_new"], taxi["name_zh"]) == (70, 80, "出租(含网约车)")
    assert [(m["period"], m["nev"], m["cumulative"]) for m in body["by_month"]] == [
        ("2025-01", 82, 82), ("2025-02", 19, 101), ("2025-03", 12, 113)]


def test_verified_basis_and_one_city(client, auth, data):
    auth.login("viewer1")
    body = client.get("/api/v1/progress?basis=verified&through=2025-03").json
    assert body["national"]["nev"] == 48
    one = client.get("/api/v1/progress?through=2025-03&city=110000").json
    assert one["scope"] == {"city": "110000"} and [c["code"] for c in one["cities"]] == [
        "110000"]
    assert [m["nev"] for m in one["by_month"]] == [50, 0, 12]
    assert one["national"]["nev"] == 113
    assert client.get("/api/v1/progress?city=999999").status_code == 404


def test_city_user_gets_its_city_and_the_national_headline_only(client, auth, data):
    auth.login("shenzhen")
    response = client.get("/api/v1/progress" + Q)
    body = response.json
    assert body["scope"] == {"city": "440300"}
    assert [c["code"] for c in body["cities"]] == ["440300"]
    assert body["cities"][0]["nev"] == 47
    assert [m["nev"] for m in body["by_month"]] == [32, 15, 0]
    assert body["national"]["nev"] == 113 and body["national"]["target"] == 700000
    # Nothing about another city, not even its code.
    text = response.get_data(as_text=True)
    assert "110000" not in text and "320200" not in text and "completeness" not in str(
        body["national"])
    assert client.get("/api/v1/progress?city=110000").status_code == 404


def test_bad_parameters(client, auth, data):
    auth.login("ministry1")
    for query in ("?basis=all", "?through=March", "?through=2025-00"):
        response = client.get("/api/v1/progress" + query)
        assert response.status_code == 400 and response.json["status"] == 400


def test_the_api_and_the_dashboard_agree(client, auth, data):
    auth.login("ministry1")
    body = client.get("/api/v1/progress").json  # default month
    html = client.get("/progress/").get_data(as_text=True)
    assert f'id="kpi-cumulative">{body["national"]["nev"]:,}<' in html
