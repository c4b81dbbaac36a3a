"""Who sees which vehicles: city isolation of every roster route, the ministry's national
exports and conflicts page, and the /api/v1/vehicles routes."""

import csv
import io
from datetime import datetime

from openpyxl import load_workbook

from fleet.domain.periods import add_months

from .returns_helpers import this_month
from .roster_helpers import csv_bytes, make_vin, rows_for
from .test_roster import load


def two_cities(client, auth):
    """Shenzhen reports 3 buses this month, Beijing 2 taxis last month."""
    month, earlier = this_month(), add_months(this_month(), -1)
    auth.login("shenzhen")
    load(client, rows_for(month, {("bus", "bev"): 3}))
    auth.logout()
    auth.login("beijing")
    load(client, rows_for(earlier, {("taxi", "phev"): 2}, start=100), period=earlier)
    auth.logout()
    return month, earlier


def get(client, url):
    """A streamed download, read whole inside the request (as a WSGI server does)."""
    return client.get(url, buffered=True)


def csv_rows(response) -> list[list[str]]:
    assert response.data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))


def test_city_routes_only_ever_touch_the_users_own_city(client, auth, setup):
    month, earlier = two_cities(client, auth)
    auth.login("shenzhen")
    # Its own export holds only its own vehicles, whatever the query says.
    own = csv_rows(get(client, "/returns/roster.csv?city=110000"))
    assert {r[0] for r in own[1:]} == {"440300"} and len(own) == 4
    # Beijing's month seen from Shenzhen is Shenzhen's own (empty) month.
    page = client.get(f"/returns/{earlier}/roster").get_data(as_text=True)
    assert make_vin(100) not in page
    assert client.post(f"/returns/{earlier}/roster/remove",
                       data={"vin": make_vin(100)}).status_code == 303
    # The API: own city by default, another city is a 404.
    body = client.get("/api/v1/vehicles").get_json()
    assert body["total"] == 3 and {v["city"] for v in body["vehicles"]} == {"440300"}
    assert client.get("/api/v1/vehicles?city=110000").status_code == 404
    assert client.get("/api/v1/vehicles.csv?city=110000").status_code == 404
    # The ministry's pages are not for a city.
    for url in ("/progress/roster", "/progress/roster/vehicles.csv",
                "/progress/roster/conflicts.csv"):
        assert client.get(url).status_code == 403, url
    auth.logout()
    auth.login("beijing")
    assert client.get("/api/v1/vehicles").get_json()["total"] == 2


def test_ministry_national_exports_filtered_and_streamed(client, auth, setup):
    month, earlier = two_cities(client, auth)
    auth.login("viewer1")
    everything = csv_rows(get(client, "/progress/roster/vehicles.csv"))
    assert len(everything) == 6 and everything[0][:4] == ["城市代码", "城市", "月份",
                                                           "车辆识别代号(VIN)"]
    beijing = csv_rows(get(client, f"/progress/roster/vehicles.csv?city=110000&period={earlier}"))
    assert len(beijing) == 3 and beijing[1][0] == "110000"
    assert len(csv_rows(get(client, "/progress/roster/vehicles.csv?powertrain=phev"))) == 3
    assert len(csv_rows(get(client, "/progress/roster/vehicles.csv?category=bus"))) == 4
    assert client.get("/progress/roster/vehicles.csv?category=rocket").status_code == 400
    book = load_workbook(io.BytesIO(get(client, "/progress/roster/vehicles.xlsx").data))
    sheet = book.active
    assert sheet.max_row == 6 and sheet.freeze_panes == "A2"
    assert sheet.cell(2, 8).number_format == "yyyy-mm-dd"
    assert isinstance(sheet.cell(2, 8).value, datetime)  # a date Excel sorts, not text
    body = client.get("/api/v1/vehicles?city=440300&page=1").get_json()
    assert body["total"] == 3 and body["vehicles"][0]["vin"] == sorted(
        make_vin(n) for n in range(3))[0]
    assert client.get("/api/v1/vehicles?page=0").status_code == 400
    api_csv = csv_rows(get(client, "/api/v1/vehicles.csv"))
    assert len(api_csv) == 6


def test_conflicts_page_shows_both_sides_and_downloads(client, auth, setup):
    month, _ = two_cities(client, auth)
    auth.login("beijing")
    from .test_roster import upload

    upload(client, csv_bytes(rows_for(month, {("bus", "bev"): 1})))
    auth.logout()
    auth.login("ministry1")
    page = client.get("/progress/roster").get_data(as_text=True)
    conflicts = page.split('id="conflicts"')[1]
    assert make_vin(0) in conflicts and "北京" in conflicts and "深圳" in conflicts
    assert make_vin(0) in client.get("/progress/roster?city=440300").get_data(as_text=True)
    assert make_vin(0) not in client.get("/progress/roster?city=310000").get_data(
        as_text=True).split('id="conflicts"')[1]
    rows = csv_rows(get(client, "/progress/roster/conflicts.csv"))
    assert len(rows) == 2 and rows[1][1] == make_vin(0) and rows[1][6] == "440300"


def test_vin_coverage_in_figures_and_api(client, auth, setup):
    from fleet.domain import figures
    from fleet.extensions import db

    from .factories import make_return
    from .returns_helpers import form_data, the_return

    month = this_month()
    auth.login("shenzhen")
    load(client, rows_for(month, {("bus", "bev"): 3}))
    ret = the_return()
    client.post(f"/returns/{month}", data=form_data(ret.version, "submit", bus_all_new=3,
                                                      charging_points=3))
    assert the_return().status == "submitted"
    from fleet.domain.cities import city_by_code

    make_return(city_by_code(db.session, "110000"), month, "submitted",
                counts={"taxi": {"bev": 9}})  # typed, no roster
    progress = figures.national_progress(db.session, "reported", month)
    assert progress.city("440300").vin_backed == 3
    assert progress.city("440300").vin_coverage == 1.0
    assert progress.city("110000").vin_backed == 0
    assert progress.vin_backed == 3 and progress.vin_coverage == 3 / 12
    auth.logout()
    auth.login("ministry1")
    body = client.get(f"/api/v1/progress?through={month}").get_json()
    assert body["national"]["vin_backed"] == 3
    shenzhen = next(c for c in body["cities"] if c["code"] == "440300")
    assert shenzhen["vin_coverage"] == 1.0
    page = client.get(f"/progress/?through={month}").get_data(as_text=True)
    assert 'id="vin-coverage-total"' in page and "25.0%" in page


def test_a_pending_upload_is_its_owners_only(client, auth, setup):
    from .test_roster import upload, vehicle_count

    month = this_month()
    auth.login("shenzhen")
    rows = rows_for(month, {("bus", "bev"): 2})
    rows[1][0] = "NOTAVIN"
    page = upload(client, csv_bytes(rows)).get_data(as_text=True)
    upload_id = page.split("/roster/errors/")[1].split(".xlsx")[0]
    assert client.get(f"/returns/{month}/roster/errors/{upload_id}.xlsx").status_code == 200
    auth.logout()
    auth.login("beijing")
    assert client.get(f"/returns/{month}/roster/errors/{upload_id}.xlsx").status_code == 404
    response = client.post(f"/returns/{month}/roster/confirm", data={"upload_id": upload_id})
    assert response.status_code == 302 and vehicle_count() == 0
    assert client.get("/returns/roster.xlsx", buffered=True).status_code == 200
    assert client.get("/returns/roster.pdf").status_code == 404
    assert client.get("/returns/roster.csv?period=2026-13").status_code == 404
