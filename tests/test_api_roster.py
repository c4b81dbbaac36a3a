"""A month's roster from a city's own system: PUT /api/v1/returns/{city}/{period}/vehicles,
JSON or CSV, with a dry run; the rules, the all-or-nothing replace, the lock, the city
isolation and the audit of the upload page; errors as problem details."""

from sqlalchemy import func, select

from fleet.domain.cities import city_by_code
from fleet.extensions import db
from fleet.models import AuditEvent, RosterConflict, Vehicle

from .api_helpers import bearer, token_for
from .factories import make_return
from .returns_helpers import the_return, this_month
from .roster_helpers import csv_bytes, make_vin, row, rows_for, wrong_check_digit

SZ, BJ = "440300", "110000"
KEYS = ("vin", "plate", "category", "powertrain", "in_service_date", "operator", "model",
        "maker")


def url(city=SZ, period=None, dry_run=False):
    return (f"/api/v1/returns/{city}/{period or this_month()}/vehicles"
            + ("?dry_run=1" if dry_run else ""))


def vehicles(rows: list[list]) -> list[dict]:
    """Roster rows (tests.roster_helpers.row) as the API's JSON objects."""
    return [dict(zip(KEYS, r, strict=True)) for r in rows]


def vehicle_count(code: str | None = None) -> int:
    db.session.rollback()
    stmt = select(func.count(Vehicle.id))
    if code is not None:
        stmt = stmt.where(Vehicle.city_id == city_by_code(db.session, code).id)
    return db.session.scalar(stmt)


def events(action: str) -> list[AuditEvent]:
    db.session.rollback()
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_a_city_system_replaces_its_roster_with_json(client, setup):
    secret = token_for(setup["city"])
    month = this_month()
    sent = vehicles(rows_for(month, {("bus", "bev"): 3, ("taxi", "phev"): 2}))
    sent[0]["category"], sent[0]["powertrain"] = "城市公交", "纯电动"  # names or codes
    saved = client.put(url(), headers=bearer(secret), json=sent)
    assert saved.status_code == 200, saved.json
    body = saved.json
    assert body["saved"] is True and body["dry_run"] is False
    assert (body["rows"], body["accepted"], body["errors"]) == (5, 5, [])
    assert body["counts"]["bus"] == {"bev": 3, "phev": 0, "fcev": 0}
    assert body["return_counts"]["taxi"]["phev"] == 2 and body["status"] == "draft"
    assert saved.headers["ETag"] == f'"{body["version"]}"' and "Set-Cookie" not in saved.headers
    ret = the_return()
    assert ret.roster_count == 5 and ret.version == body["version"] and vehicle_count() == 5
    [event] = events("roster.replace")
    assert event.username == "shenzhen" and event.after["source"] == "api"
    # The whole roster is replaced, not added to.
    again = client.put(url(), headers=bearer(secret), json=sent[:2])
    assert again.status_code == 200 and vehicle_count() == 2
    assert the_return().roster_count == 2


def test_csv_with_chinese_or_english_headers(client, setup):
    secret = token_for(setup["city"])
    month = this_month()
    rows = rows_for(month, {("sanitation", "bev"): 2})
    for data in (csv_bytes(rows), csv_bytes(rows, "gb18030"),
                 csv_bytes(rows, headers=list(KEYS))):
        saved = client.put(url(), headers={**bearer(secret), "Content-Type": "text/csv"},
                           data=data)
        assert saved.status_code == 200, saved.json
        assert saved.json["counts"]["sanitation"]["bev"] == 2
    db.session.rollback()
    assert set(db.session.scalars(select(Vehicle.operator))) == {"深圳巴士集团"}
    assert vehicle_count() == 2


def test_a_dry_run_reports_and_writes_nothing(client, setup):
    secret = token_for(setup["city"])
    sent = vehicles(rows_for(this_month(), {("bus", "bev"): 2}))
    sent[1]["plate"] = "粤B12345"  # a warning, not an error
    report = client.put(url(dry_run=True), headers=bearer(secret), json=sent)
    assert report.status_code == 200, report.json
    body = report.json
    assert body["dry_run"] is True and body["saved"] is False and body["accepted"] == 2
    assert body["counts"]["bus"]["bev"] == 2 and body["return_counts"]["bus"]["bev"] == 0
    assert [(w["row"], w["field"]) for w in body["warnings"]] == [(2, "plate")]
    assert body["status"] == "empty" and report.headers["ETag"] == '"0"'
    assert vehicle_count() == 0 and the_return() is None
    assert events("roster.replace") == [] and events("return.create") == []


def test_every_error_with_row_field_value_and_message(client, setup):
    secret = token_for(setup["city"])
    month = this_month()
    rows = rows_for(month, {("bus", "bev"): 2})
    rows.append(row(0, month))                                  # 3: the VIN of row 1
    rows.append(row(5, month, category="rocket"))               # 4
    bad = row(6, month)
    bad[0] = wrong_check_digit(bad[0])                          # 5
    rows.append(bad)
    rows.append(row(7, month, date="2001-01-01", operator=""))  # 6: two errors
    sent = vehicles(rows)
    report = client.put(url(dry_run=True), headers=bearer(secret, lang="en"), json=sent)
    assert report.status_code == 200
    errors = report.json["errors"]
    assert [(e["row"], e["field"]) for e in errors] == [
        (1, "vin"), (3, "vin"), (4, "category"), (5, "vin"), (6, "in_service_date"),
        (6, "operator")]
    assert errors[3]["value"] == bad[0] and "check digit" in errors[3]["message"]
    assert errors[2]["value"] == "rocket" and "1, 3" in errors[0]["message"]
    assert report.json["accepted"] == 1
    # In Chinese by default, and refused as a whole when it is to be saved.
    refused = client.put(url(), headers=bearer(secret), json=sent)
    assert refused.status_code == 422 and refused.mimetype == "application/problem+json"
    problem = refused.json
    assert problem["status"] == 422 and "5" in problem["detail"]
    assert [(e["row"], e["field"]) for e in problem["errors"]] == [
        (e["row"], e["field"]) for e in errors]
    assert "校验位" in problem["errors"][3]["message"]
    assert problem["rows"] == 6 and problem["accepted"] == 1
    assert vehicle_count() == 0 and the_return() is None


def test_a_vin_counted_by_another_city_is_refused(client, setup):
    month = this_month()
    beijing = token_for(setup["other_city"])
    assert client.put(url(BJ), headers=bearer(beijing),
                      json=vehicles(rows_for(month, {("taxi", "bev"): 1}))).status_code == 200
    shenzhen = token_for(setup["city"])
    refused = client.put(url(), headers=bearer(shenzhen),
                         json=vehicles(rows_for(month, {("bus", "bev"): 2})))
    assert refused.status_code == 422
    [error] = refused.json["errors"]
    assert (error["row"], error["field"], error["value"]) == (1, "vin", make_vin(0))
    assert "已被其他城市计入" in error["message"] and "北京" not in refused.get_data(as_text=True)
    assert vehicle_count(SZ) == 0 and vehicle_count(BJ) == 1
    conflict = db.session.scalar(select(RosterConflict))
    assert conflict.source == "api" and conflict.holder_city.code == BJ
    # With another error too, both are listed at once.
    sent = vehicles(rows_for(month, {("bus", "bev"): 2}, start=0))
    sent[1]["category"] = "rocket"
    refused = client.put(url(), headers=bearer(shenzhen), json=sent)
    assert [(e["row"], e["field"]) for e in refused.json["errors"]] == [(1, "vin"),
                                                                        (2, "category")]


def test_a_city_token_reaches_its_own_city_only(client, setup):
    month = this_month()
    make_return(city_by_code(db.session, BJ), month)
    before = the_return(BJ).version
    secret = token_for(setup["city"])
    sent = vehicles(rows_for(month, {("bus", "bev"): 1}))
    for dry_run in (False, True):
        refused = client.put(url(BJ, dry_run=dry_run), headers=bearer(secret), json=sent)
        assert refused.status_code == 404 and refused.mimetype == "application/problem+json"
    assert vehicle_count() == 0 and the_return(BJ).version == before
    assert events("access.denied")
    # The ministry reads every city but writes no roster.
    ministry = token_for(setup["ministry"])
    assert client.put(url(), headers=bearer(ministry), json=sent).status_code == 403
    assert client.put(url("999999"), headers=bearer(secret), json=sent).status_code == 404
    assert client.put(url(period="2026-13"), headers=bearer(secret), json=sent
                      ).status_code == 404


def test_a_submitted_return_locks_its_roster(client, setup):
    month = this_month()
    secret = token_for(setup["city"])
    assert client.put(url(), headers=bearer(secret), json=vehicles(
        rows_for(month, {("bus", "bev"): 1}))).status_code == 200
    ret = the_return()
    ret.status = "submitted"
    db.session.commit()
    for dry_run in (False, True):
        locked = client.put(url(dry_run=dry_run), headers=bearer(secret),
                            json=vehicles(rows_for(month, {("bus", "bev"): 3})))
        assert locked.status_code == 409 and locked.mimetype == "application/problem+json"
        assert "locked" in client.put(url(), headers=bearer(secret, lang="en"),
                                      json=[]).json["detail"]
    assert vehicle_count() == 1 and the_return().roster_count == 1


def test_if_match_when_sent_must_be_the_current_version(client, setup):
    secret = token_for(setup["city"])
    sent = vehicles(rows_for(this_month(), {("bus", "bev"): 1}))
    assert client.put(url(), headers=bearer(secret, 3), json=sent).status_code == 412
    saved = client.put(url(), headers=bearer(secret, 0), json=sent)
    assert saved.status_code == 200
    stale = client.put(url(), headers=bearer(secret, 0), json=sent[:0])
    assert stale.status_code == 412 and stale.json["current_version"] == saved.json["version"]
    assert stale.headers["ETag"] == saved.headers["ETag"] and vehicle_count() == 1
    # The ETag is the return's: the return's own PUT and submit take it.
    submitted = client.post(f"/api/v1/returns/{SZ}/{this_month()}/submit",
                            headers={**bearer(secret), "If-Match": saved.headers["ETag"]})
    assert submitted.status_code in (200, 422), submitted.json


def test_bodies_that_are_not_a_roster(client, setup):
    secret = token_for(setup["city"])
    headers = {**bearer(secret, lang="en"), "Content-Type": "application/json"}
    bad = client.put(url(), headers=headers, data=b'[{"vin": "LFV",]')
    assert bad.status_code == 400 and bad.mimetype == "application/problem+json"
    assert "line 1" in bad.json["detail"]
    assert client.put(url(), headers=headers, data=b"\xff\xfe[").status_code == 400
    assert client.put(url(), headers=headers, data=b"[" * 100_000).status_code == 400
    not_a_list = client.put(url(), headers=headers, data=b'{"vin": "x"}')
    assert not_a_list.status_code == 422
    assert client.put(url(), headers={**bearer(secret), "Content-Type": "text/plain"},
                      data=b"vin\n").status_code == 415
    assert client.put(url(), headers=bearer(secret), data=b"vin\n").status_code == 415
    assert client.put(url() + "?dry_run=perhaps", headers=bearer(secret),
                      json=[]).status_code == 400
    no_header = client.put(url(), headers={**bearer(secret), "Content-Type": "text/csv"},
                           data=b"a,b\n1,2\n")
    assert no_header.status_code == 422 and "车辆识别代号" in no_header.json["detail"]
    assert vehicle_count() == 0 and the_return() is None


def test_a_body_that_breaks_the_contract_is_refused_even_in_a_dry_run(client, setup):
    secret = token_for(setup["city"])
    sent = vehicles(rows_for(this_month(), {("bus", "bev"): 3}))
    sent[0]["colour"] = "red"
    sent[1]["model"] = 6122
    sent.append("LFV2A2BC0S0000013")
    sent[2]["operator"] = "运营\x00公司"  # NUL: no database should be asked to store it
    for dry_run in (True, False):
        refused = client.put(url(dry_run=dry_run), headers=bearer(secret, lang="en"),
                             json=sent)
        assert refused.status_code == 422, refused.json
        found = [(e["row"], e["field"], e["value"]) for e in refused.json["errors"]]
        assert found == [(1, None, "colour"), (2, "model", "6122"),
                         (3, "operator", "运营\x00公司"), (4, None, '"LFV2A2BC0S0000013"')]
    assert vehicle_count() == 0 and the_return() is None


def test_a_large_roster_fits_the_roster_limit_not_the_app_limit(make_app, setup):
    app = make_app(MAX_CONTENT_LENGTH=1000, ROSTER_MAX_CONTENT_LENGTH=1024 * 1024)
    client = app.test_client()
    secret = token_for(setup["city"])
    padded = b"[" + b" " * 50_000 + b"]"  # an empty roster, larger than MAX_CONTENT_LENGTH
    assert client.put(url(dry_run=True), headers=bearer(secret), data=padded,
                      content_type="application/json").status_code == 200
    too_large = client.put(url(), headers=bearer(secret, lang="en"),
                           data=b"[" + b" " * 1_100_000 + b"]",
                           content_type="application/json")
    assert too_large.status_code == 413 and too_large.mimetype == "application/problem+json"
    assert "larger than the limit of 1 MiB" in too_large.json["detail"] and the_return() is None
