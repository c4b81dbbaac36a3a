"""The machine API's returns: a city system saves, reads back and submits a month with a
token; stale writes get 412; errors are the form's messages; every route keeps its roles and
its city."""

import threading

from flask_babel import force_locale
from sqlalchemy import select

from fleet.domain.rules import parse_values
from fleet.extensions import db
from fleet.models import AuditEvent

from .api_helpers import bearer, body, token_for
from .factories import make_return
from .returns_helpers import the_return, this_month

SZ, BJ = "440300", "110000"


def url(city=SZ, period=None, action=""):
    return f"/api/v1/returns/{city}/{period or this_month()}" + (f"/{action}" if action else "")


def test_a_city_system_saves_reads_back_and_submits_a_month(client, setup):
    secret = token_for(setup["city"])
    empty = client.get(url(), headers=bearer(secret))
    assert empty.status_code == 200 and empty.headers["ETag"] == '"0"'
    assert empty.json["status"] == "empty" and empty.json["version"] == 0
    assert set(empty.json["lines"].values()) == {0} and "bus_all_new" in empty.json["lines"]

    saved = client.put(url(), headers=bearer(secret, 0),
                       json=body(bus_bev=12, bus_all_new=15, charging_points=1, notes="试"))
    assert saved.status_code == 200, saved.json
    assert saved.json["status"] == "draft" and saved.headers["ETag"] == '"1"'
    # 1 charging point for 12 NEVs: the form's warning comes back too.
    assert [w["code"] for w in saved.json["warnings"]] == ["charging_ratio"]
    assert "Set-Cookie" not in saved.headers

    read = client.get(url(), headers=bearer(secret)).json
    assert read["lines"]["bus_bev"] == 12 and read["lines"]["bus_all_new"] == 15
    assert read["infrastructure"] == {"charging_points": 1, "swap_stations": 0}
    assert read["notes"] == "试" and read["version"] == 1

    submitted = client.post(url(action="submit"), headers=bearer(secret, 1))
    assert submitted.status_code == 200 and submitted.json["status"] == "submitted"
    assert the_return().status == "submitted"
    actions = db.session.scalars(select(AuditEvent.action).where(
        AuditEvent.username == "shenzhen").order_by(AuditEvent.id)).all()
    assert actions[-2:] == ["return.create", "return.submit"]


def test_if_match_is_required_and_stale_versions_get_412(client, setup):
    secret = token_for(setup["city"])
    missing = client.put(url(), headers=bearer(secret), json=body(bus_bev=1, bus_all_new=1))
    assert missing.status_code == 428
    assert missing.mimetype == "application/problem+json" and the_return() is None
    assert client.put(url(), headers=bearer(secret, 0), json=body()).status_code == 200
    stale = client.put(url(), headers=bearer(secret, 0), json=body(bus_bev=1, bus_all_new=1))
    assert stale.status_code == 412
    assert stale.json["current_version"] == 1 and stale.headers["ETag"] == '"1"'
    assert the_return().lines[1].bev == 0  # nothing changed
    assert client.post(url(action="submit"), headers=bearer(secret)).status_code == 428
    assert client.post(url(action="submit"), headers=bearer(secret, 7)).status_code == 412
    assert client.post(url(action="submit"),
                       headers={**bearer(secret), "If-Match": "nonsense"}).status_code == 412


def test_two_puts_with_the_same_if_match_one_wins(make_app, setup):
    """Two clients read version 0 and both write: one 200, the other 412, in any order."""
    app = make_app()
    secret = token_for(setup["city"])
    results = []

    def put(n):
        results.append(app.test_client().put(url(), headers=bearer(secret, 0),
                                             json=body(bus_bev=n, bus_all_new=n)).status_code)

    threads = [threading.Thread(target=put, args=(n,)) for n in (3, 4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [200, 412]
    assert the_return().version == 1


def test_errors_are_the_forms_messages_in_the_readers_language(client, setup):
    secret = token_for(setup["city"])
    bad = body(bus_bev=12, bus_all_new=10)
    with force_locale("zh"):
        zh = str(parse_values({"bus_bev": 12, "bus_all_new": 10}).errors[0].message)
    with force_locale("en"):
        en = str(parse_values({"bus_bev": 12, "bus_all_new": 10}).errors[0].message)
    response = client.put(url(), headers=bearer(secret, 0), json=bad)
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    assert response.json["errors"] == [{"field": "bus_all_new", "message": zh}]
    english = client.put(url(), headers=bearer(secret, 0, "en-GB,en;q=0.9"), json=bad)
    assert english.json["errors"] == [{"field": "bus_all_new", "message": en}]
    assert zh != en

    negative = client.put(url(), headers=bearer(secret, 0, "en"),
                          json=body(taxi_phev=-1, unknown_thing=2, notes="x" * 2001))
    errors = {e["field"]: e["message"] for e in negative.json["errors"]}
    assert errors["taxi_phev"] == "Must not be negative."
    assert errors["unknown_thing"] == "Unknown field."
    assert errors["notes"] == "Notes are limited to 2000 characters."
    for text in ("not json", "[1, 2]"):
        response = client.put(url(), headers={**bearer(secret, 0), "Content-Type":
                                              "application/json"}, data=text)
        assert response.status_code == 422 and response.json["errors"]
    form = client.put(url(), headers=bearer(secret, 0), data={"bus_bev": "1"})
    assert form.status_code == 415
    assert the_return() is None  # nothing of any of these was saved


def test_months_outside_the_window_and_bad_months(client, setup):
    secret = token_for(setup["city"])
    response = client.put(url(period="2019-01"), headers=bearer(secret, 0), json=body())
    assert response.status_code == 422 and response.json["errors"][0]["field"] == "period"
    assert client.get(url(period="2025-13"), headers=bearer(secret)).status_code == 404
    assert client.get(url(period="latest"), headers=bearer(secret)).status_code == 404


def test_a_city_token_never_reaches_another_city(client, setup):
    secret = token_for(setup["city"])
    make_return(setup["other_city"].city, this_month(), status="submitted",
                counts={"bus": {"bev": 5}})
    for method, action, payload in (("get", "", None), ("put", "", body()),
                                    ("post", "submit", None), ("post", "approve", None),
                                    ("post", "send-back", {"reason": "x"})):
        response = getattr(client, method)(url(BJ, action=action),
                                           headers=bearer(secret, 1), json=payload)
        assert response.status_code == 404, (method, action)
        assert response.mimetype == "application/problem+json"
    ret = the_return(BJ)
    assert ret.status == "submitted" and ret.version == 1 and ret.lines[1].bev == 5
    denied = db.session.scalars(select(AuditEvent).where(
        AuditEvent.action == "access.denied", AuditEvent.username == "shenzhen")).all()
    assert len(denied) == 5


def test_roles_on_every_route(client, setup):
    tokens = {role: token_for(setup[role]) for role in ("city", "ministry", "viewer", "admin")}
    # Only the city's own bureau writes its numbers.
    for role in ("ministry", "viewer", "admin"):
        assert client.put(url(), headers=bearer(tokens[role], 0),
                          json=body()).status_code == 403, role
        assert client.get(url(), headers=bearer(tokens[role])).status_code == 200, role
    assert the_return() is None
    city = tokens["city"]
    client.put(url(), headers=bearer(city, 0), json=body(bus_bev=1, bus_all_new=1))
    client.post(url(action="submit"), headers=bearer(city, 1))
    # Only the ministry reviews.
    for role in ("city", "viewer", "admin"):
        assert client.post(url(action="approve"),
                           headers=bearer(tokens[role], 2)).status_code == 403, role
        assert client.post(url(action="send-back"), headers=bearer(tokens[role], 2),
                           json={"reason": "x"}).status_code == 403, role
    ministry = tokens["ministry"]
    no_reason = client.post(url(action="send-back"), headers=bearer(ministry, 2),
                            json={"reason": " "})
    assert no_reason.status_code == 422 and no_reason.json["errors"][0]["field"] == "reason"
    sent = client.post(url(action="send-back"), headers=bearer(ministry, 2),
                       json={"reason": "请核实公交车数量。"})
    assert sent.status_code == 200 and sent.json["status"] == "returned"
    assert client.get(url(), headers=bearer(city)).json["review_comment"] == "请核实公交车数量。"
    client.post(url(action="submit"), headers=bearer(city, 3))
    approved = client.post(url(action="approve"), headers=bearer(ministry, 4))
    assert approved.status_code == 200 and approved.json["status"] == "approved"
    # Locked: the city cannot change it, and a second approval is a conflict.
    assert client.put(url(), headers=bearer(city, 5), json=body()).status_code == 409
    assert client.post(url(action="approve"), headers=bearer(ministry, 5)).status_code == 409


def test_submitting_a_month_with_nothing_saved_is_a_conflict(client, setup):
    secret = token_for(setup["city"])
    response = client.post(url(action="submit"), headers=bearer(secret, 0))
    assert response.status_code == 409 and response.json["detail"]
    assert the_return() is None


def test_the_progress_and_file_routes_take_tokens_too(client, setup):
    secret = token_for(setup["city"])
    progress = client.get("/api/v1/progress", headers=bearer(secret))
    assert progress.status_code == 200 and progress.json["scope"] == {"city": SZ}
    assert client.get("/api/v1/progress?city=110000", headers=bearer(secret)).status_code == 404
    assert client.get("/api/v1/flat.csv", headers=bearer(secret)).status_code == 200
    assert client.get("/api/v1/flat.csv?city=110000",
                      headers=bearer(secret)).status_code == 404
    assert client.get("/api/v1/summary.xlsx", headers=bearer(secret)).status_code == 200
    bad = client.get("/api/v1/progress?basis=everything", headers=bearer(secret))
    assert bad.status_code == 400 and bad.mimetype == "application/problem+json"
