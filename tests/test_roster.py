"""The vehicle roster through HTTP: dry run, confirm, counts in the return, VINs counted once
nationwide, each encoding, the failing rows, add and remove, locks and requirements."""

import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from fleet.domain.periods import add_months
from fleet.domain.programme import get_programme
from fleet.extensions import db
from fleet.models import AuditEvent, ReturnRevision, RosterConflict, Vehicle

from .returns_helpers import form_data, the_return, this_month
from .roster_helpers import (
    HEADERS,
    csv_bytes,
    make_vin,
    row,
    rows_for,
    wrong_check_digit,
    xlsx_bytes,
)


def upload(client, data: bytes, name: str = "roster.csv", period: str | None = None):
    return client.post(f"/returns/{period or this_month()}/roster/upload",
                       data={"file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def confirm(client, page: str, period: str | None = None):
    upload_id = page.split('name="upload_id" type="hidden" value="')[1].split('"')[0]
    return client.post(f"/returns/{period or this_month()}/roster/confirm",
                       data={"upload_id": upload_id})


def vehicle_count() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count(Vehicle.id)))


def load(client, rows, period=None, name="roster.csv", data=None):
    """Upload and confirm; returns the confirmation response."""
    page = upload(client, data or csv_bytes(rows), name, period)
    assert page.status_code == 200, page.get_data(as_text=True)[:2000]
    return confirm(client, page.get_data(as_text=True), period)


def test_dry_run_changes_nothing_then_confirm_sets_the_counts(client, auth, setup):
    month = this_month()
    auth.login("shenzhen")
    rows = rows_for(month, {("bus", "bev"): 3, ("taxi", "phev"): 2})
    page = upload(client, csv_bytes(rows))
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="rows-accepted">5<' in text
    assert vehicle_count() == 0 and the_return() is None  # the dry run saved nothing
    response = confirm(client, text)
    assert response.status_code == 302
    ret = the_return()
    assert ret.status == "draft" and ret.roster_count == 5 and vehicle_count() == 5
    lines = {line.category: line for line in ret.lines}
    assert (lines["bus"].bev, lines["taxi"].phev, lines["taxi"].all_new) == (3, 2, 2)
    events = {e.action for e in db.session.scalars(select(AuditEvent))}
    assert "roster.replace" in events
    listing = client.get(f"/returns/{month}/roster").get_data(as_text=True)
    assert make_vin(0) in listing and 'id="roster-total">5<' in listing
    # Confirming again replaces the month's roster, it does not add to it.
    load(client, rows[:2])
    assert vehicle_count() == 2 and the_return().roster_count == 2


@pytest.mark.parametrize("encoding,name", [("utf-8", "r.csv"), ("utf-8-sig", "r.csv"),
                                           ("gb18030", "r.csv"), ("xlsx", "r.xlsx")])
def test_each_encoding(client, auth, setup, encoding, name):
    month = this_month()
    auth.login("shenzhen")
    rows = rows_for(month, {("sanitation", "bev"): 2})
    rows[0][5] = "深圳市环卫清洁有限公司"  # Chinese text must survive each encoding
    data = xlsx_bytes(rows) if encoding == "xlsx" else csv_bytes(rows, encoding)
    assert load(client, rows, name=name, data=data).status_code == 302
    db.session.rollback()
    operators = set(db.session.scalars(select(Vehicle.operator)))
    assert "深圳市环卫清洁有限公司" in operators and vehicle_count() == 2


def test_every_problem_at_once_with_row_and_column(client, auth, setup):
    month = this_month()
    auth.login("shenzhen")
    rows = rows_for(month, {("bus", "bev"): 3})
    rows.append(row(0, month))                                   # row 5: same VIN as row 2
    rows.append(row(9, month, category="rocket"))                # row 6: category
    bad = row(10, month)
    bad[0] = wrong_check_digit(bad[0])                           # row 7: check digit
    rows.append(bad)
    rows.append(row(11, month, date="2001-01-01", operator=""))  # row 8: date and operator
    rows.append(row(12, month, plate="粤B12345"))                # row 9: a warning only
    page = upload(client, csv_bytes(rows))
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="confirm-roster"' not in text
    assert 'id="rows-errors">5<' in text  # rows 2 and 5 (the same VIN), 6, 7, 8
    assert "2, 5" in text and "rocket" in text and 'id="rows-warnings">3<' in text  # plates
    assert vehicle_count() == 0
    upload_id = text.split("/roster/errors/")[1].split(".xlsx")[0]
    workbook = client.get(f"/returns/{month}/roster/errors/{upload_id}.xlsx")
    sheet = load_workbook(io.BytesIO(workbook.data)).active
    failing = [r[0] for r in sheet.iter_rows(min_row=2, values_only=True)]
    assert failing == [2, 5, 6, 7, 8]
    assert sheet.cell(1, 10).value == "问题" and sheet.cell(1, 2).value == HEADERS[0]


def test_a_vin_is_counted_once_nationwide(client, auth, setup):
    month = this_month()
    auth.login("shenzhen")
    load(client, rows_for(month, {("bus", "bev"): 2}))
    auth.logout()
    auth.login("beijing")
    page = upload(client, csv_bytes(rows_for(month, {("bus", "bev"): 1}))).get_data(
        as_text=True)
    assert "已被其他城市计入" in page
    assert "深圳" not in page.split('id="error-list"')[1]  # the other city is not named
    db.session.rollback()
    conflict = db.session.scalar(select(RosterConflict))
    assert conflict.vin == make_vin(0) and conflict.city.code == "110000"
    assert conflict.holder_city.code == "440300" and conflict.holder_period == month
    assert conflict.username == "beijing"
    # Checking the same file again does not record the same claim twice.
    upload(client, csv_bytes(rows_for(month, {("bus", "bev"): 1})))
    db.session.rollback()
    assert db.session.scalar(select(func.count(RosterConflict.id))) == 1


def test_same_city_earlier_month_is_named(client, auth, setup):
    month, earlier = this_month(), add_months(this_month(), -1)
    auth.login("shenzhen")
    load(client, rows_for(earlier, {("bus", "bev"): 1}), period=earlier)
    page = upload(client, csv_bytes([row(0, month)])).get_data(as_text=True)
    year, number = earlier.split("-")
    assert f"已在本市 {year}年{int(number)}月 月报中登记" in page


def test_single_vehicle_add_and_remove(client, auth, setup):
    month = this_month()
    auth.login("shenzhen")
    vin = make_vin(77)
    response = client.post(f"/returns/{month}/roster/add", data={
        "vin": vin.lower(), "plate": "粤BD12345", "category": "taxi", "powertrain": "bev",
        "in_service_date": f"{month}-02", "operator": "出租公司", "model": "", "maker": ""})
    assert response.status_code == 302
    ret = the_return()
    assert ret.roster_count == 1 and {line.category: line.bev for line in ret.lines}["taxi"] == 1
    refused = client.post(f"/returns/{month}/roster/add", data={
        "vin": wrong_check_digit(vin), "category": "taxi", "powertrain": "bev",
        "in_service_date": f"{month}-02", "operator": "x"})
    assert refused.status_code == 422 and vehicle_count() == 1  # shown again, as typed
    client.post(f"/returns/{month}/roster/remove", data={"vin": vin})
    ret = the_return()
    assert ret.roster_count == 0 and vehicle_count() == 0
    assert {line.category: line.bev for line in ret.lines}["taxi"] == 0


def test_roster_counts_override_the_form_and_lock_with_submission(client, auth, setup):
    month = this_month()
    auth.login("shenzhen")
    load(client, rows_for(month, {("bus", "bev"): 2}))
    ret = the_return()
    form = client.get(f"/returns/{month}").get_data(as_text=True)
    bus_bev = form.split('name="bus_bev"')[0].rsplit("<input", 1)[1] + form.split(
        'name="bus_bev"')[1].split(">")[0]
    assert "readonly" in bus_bev and 'id="roster-link"' in form
    # The form cannot change the roster's NEV counts, whatever it posts.
    client.post(f"/returns/{month}", data=form_data(ret.version, "submit", bus_bev=50,
                                                      bus_all_new=60, charging_points=2))
    ret = the_return()
    assert ret.status == "submitted"
    assert {line.category: (line.bev, line.all_new) for line in ret.lines}["bus"] == (2, 60)
    digest = db.session.scalar(select(ReturnRevision.roster_sha256))
    assert digest and len(digest) == 64
    page = client.get(f"/returns/{month}/roster").get_data(as_text=True)
    assert 'id="roster-locked"' in page and 'id="roster-upload-form"' not in page
    assert upload(client, csv_bytes(rows_for(month, {("bus", "bev"): 3}))).status_code == 400
    assert vehicle_count() == 2


def test_roster_required_from_blocks_submission(client, auth, setup):
    month = this_month()
    programme = get_programme(db.session)
    programme.roster_required_from = month
    db.session.commit()
    auth.login("shenzhen")
    client.post(f"/returns/{month}", data=form_data(0, "submit", bus_bev=1, bus_all_new=1,
                                                      charging_points=1))
    assert the_return() is None or the_return().status != "submitted"
    load(client, rows_for(month, {("bus", "bev"): 1}))
    ret = the_return()
    client.post(f"/returns/{month}", data=form_data(ret.version, "submit", bus_all_new=1,
                                                      charging_points=1))
    assert the_return().status == "submitted"


def test_hostile_and_wrong_files_are_refused_cleanly(client, auth, setup):
    auth.login("shenzhen")
    for data, name in ((b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"0" * 100, "r.xls"),
                       (b"PK\x03\x04garbage", "r.xlsx"), (b"", "r.csv"),
                       (b"a,b\n1,2\n", "r.csv"), (b"\xff\xfe\x00\x00bad", "r.csv"),
                       (b"%PDF-1.4", "r.pdf")):
        response = upload(client, data, name)
        assert response.status_code == 400, (name, response.status_code)
    assert vehicle_count() == 0


def test_the_roster_route_accepts_more_than_the_app_limit(make_app):
    app = make_app(MAX_CONTENT_LENGTH=1000)
    client = app.test_client()
    big = b"x" * 5000
    response = client.post("/returns/2026-01/roster/upload",
                           data={"file": (io.BytesIO(big), "r.csv")})
    assert response.status_code != 413  # not signed in: sent to sign-in, not refused as large
    response = client.post("/login", data={"username": "x" * 5000, "password": "y"})
    assert response.status_code == 413


def test_an_oversized_roster_workbook_is_refused_as_a_roster(client, auth, setup):
    """The archive checks speak of a vehicle roster here, not of the return template."""
    import html

    from .excel_helpers import rezip

    auth.login("shenzhen")
    good = xlsx_bytes(rows_for(this_month(), {("bus", "bev"): 1}))
    # 2 MiB of zeros: compressed far beyond what XML does.
    dense = rezip(good, add={"xl/media/zeros.bin": bytes(2 * 1024 * 1024)})
    many = rezip(good, add={f"xl/media/x{i}.bin": b"x" for i in range(400)})
    for data, message in ((dense, "解压后的数据量远超车辆明细（部件 xl/media/zeros.bin）"),
                          (many, "部件过多，不像车辆明细")):
        response = upload(client, data, "r.xlsx")
        text = html.unescape(response.get_data(as_text=True))
        assert response.status_code == 400 and message in text and "月报模板" not in text
    assert vehicle_count() == 0


def test_text_is_stored_as_typed_and_rows_in_any_order(client, auth, setup):
    """Backslashes and tabs survive the bulk write (COPY's text format escapes them on
    PostgreSQL), and a file in no particular order is saved whole."""
    from .roster_helpers import shuffled

    month = this_month()
    auth.login("shenzhen")
    rows = shuffled(rows_for(month, {("bus", "bev"): 5, ("taxi", "phev"): 3}))
    rows[0][5] = "运营\\公司 C:\\temp"
    rows[1][1] = "粤B\t1234"
    rows[2][6] = "型号\\N"
    assert load(client, rows).status_code == 302
    db.session.rollback()
    stored = {v.vin: v for v in db.session.scalars(select(Vehicle))}
    assert len(stored) == 8
    assert stored[rows[0][0]].operator == "运营\\公司 C:\\temp"
    assert stored[rows[1][0]].plate == "粤B\t1234"
    assert stored[rows[2][0]].model == "型号\\N"


def test_the_database_keeps_a_vehicle_in_its_returns_city_and_month(app):
    """One foreign key on (return, city, month): a vehicle filed under another city or month
    than its return's is refused by the database itself, whatever code writes it; deleting
    the return takes its vehicles along."""
    from datetime import date

    from sqlalchemy.exc import IntegrityError

    from .factories import make_city, make_return

    shenzhen, wuxi = make_city(), make_city("320200", "无锡市", "Wuxi")
    ret = make_return(shenzhen, "2025-03")

    def vehicle(n: int, city_id: int, period: str) -> Vehicle:
        return Vehicle(vin=make_vin(n), return_id=ret.id, city_id=city_id, period=period,
                       category="bus", powertrain="bev", in_service_date=date(2025, 3, 1),
                       operator="公交集团")

    for wrong in (vehicle(1, wuxi.id, "2025-03"), vehicle(2, shenzhen.id, "2025-04")):
        db.session.add(wrong)
        with pytest.raises(IntegrityError):
            db.session.flush()
        db.session.rollback()
    db.session.add(vehicle(3, shenzhen.id, "2025-03"))
    db.session.commit()
    assert vehicle_count() == 1
    db.session.delete(db.session.get(type(ret), ret.id))
    db.session.commit()
    assert vehicle_count() == 0
