"""Tamper evidence: hashed, chained revisions and `flask fleet verify` (等保 8.1.4.7)."""

import hashlib
import json
from datetime import datetime

from sqlalchemy import select, text

from fleet.domain import demo, figures, integrity, returns
from fleet.domain.audit import Actor
from fleet.domain.cities import city_by_code
from fleet.domain.integrity import mismatch_field_label
from fleet.domain.reference import CATEGORY_CODES
from fleet.extensions import db
from fleet.models import (
    LINE_MEASURES,
    AuditEvent,
    IntegrityCheck,
    MonthlyReturn,
    ReturnRevision,
    line_copy,
)

from .returns_helpers import this_month

MINISTRY = Actor(None, "reviewer", None, "ministry")
# The copy of the bus line's BEVs that the figures read (fleet.models.LINE_COPIES).
BUS_BEV = line_copy(CATEGORY_CODES.index("bus"), "bev")


def _approved_return(period: str, bus_bev: int = 12) -> MonthlyReturn:
    """Shenzhen's return: submitted, sent back, corrected, submitted again and approved."""
    city = city_by_code(db.session, "440300")
    clerk = Actor(None, "clerk", None, "city", city.id)
    ret, _ = returns.save_return(db.session, clerk, city, period,
                                 {"bus_bev": bus_bev + 3, "bus_all_new": bus_bev + 5,
                                  "charging_points": 10, "notes": "初报"}, 0, submit=True)
    db.session.commit()
    returns.send_back(db.session, MINISTRY, ret, "公交数量有误", ret.version)
    db.session.commit()
    returns.save_return(db.session, clerk, city, period,
                        {"bus_bev": bus_bev, "bus_all_new": bus_bev + 5,
                         "charging_points": 10, "notes": "更正"}, ret.version, submit=True)
    db.session.commit()
    returns.approve_return(db.session, MINISTRY, ret, ret.version)
    db.session.commit()
    return ret


def test_the_hash_is_sha256_of_the_documented_canonical_form():
    data = {"lines": {"bus": {"bev": 12, "phev": 1, "fcev": 0, "all_new": 15}},
            "charging_points": 10, "swap_stations": 0, "notes": "含网约车"}
    at = datetime(2026, 10, 5, 1, 2, 3)
    zero = {"bev": 0, "phev": 0, "fcev": 0, "all_new": 0}
    lines = {c: dict(zero) for c in ("official", "bus", "sanitation", "taxi", "postal",
                                     "logistics", "airport", "heavy_truck")}
    lines["bus"] = {"bev": 12, "phev": 1, "fcev": 0, "all_new": 15}
    # Written out by hand from the module's docstring: sorted keys, no spaces, UTF-8.
    document = {"v": 1, "city": "440300", "period": "2026-09", "revision": 2,
                "created_at": "2026-10-05T01:02:03", "created_by": 7, "late": False,
                "lines": lines, "charging_points": 10, "swap_stations": 0, "notes": "含网约车",
                "previous": "ab" * 32}
    expected = hashlib.sha256(json.dumps(document, sort_keys=True, separators=(",", ":"),
                                         ensure_ascii=False).encode("utf-8")).hexdigest()
    kwargs = dict(city_code="440300", period="2026-09", number=2, created_at=at,
                  created_by_id=7, late=False, data=data, previous="ab" * 32)
    assert integrity.revision_hash(**kwargs) == expected
    # Every field counts: another city, month, number or predecessor gives another hash.
    for change in ({"city_code": "110000"}, {"period": "2026-08"}, {"number": 3},
                   {"previous": "cd" * 32}, {"late": True}):
        assert integrity.revision_hash(**{**kwargs, **change}) != expected


def test_every_revision_is_hashed_and_chained(app, setup):
    ret = _approved_return(this_month())
    revisions = db.session.scalars(select(ReturnRevision).where(
        ReturnRevision.return_id == ret.id).order_by(ReturnRevision.number)).all()
    assert [r.number for r in revisions] == [1, 2]
    assert all(len(r.hash) == 64 for r in revisions)
    second = revisions[1]
    assert second.hash == integrity.revision_hash(
        city_code="440300", period=ret.period, number=2, created_at=second.created_at,
        created_by_id=second.created_by_id, late=second.late, data=second.data,
        previous=revisions[0].hash)


def test_verify_passes_on_untouched_data(app, runner, setup):
    demo.load_demo(db.session, Actor.system("test"), through="2025-06")
    db.session.commit()
    _approved_return(this_month())
    total = db.session.scalar(select(db.func.count(MonthlyReturn.id)))
    result = runner.invoke(args=["fleet", "verify"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"all {total} returns verified")
    assert len(result.output.strip().splitlines()) == 1


def test_a_line_changed_in_the_database_is_listed_and_fails(app, runner, setup):
    ret = _approved_return(this_month(), bus_bev=12)
    before = figures.national_progress(db.session, "verified", this_month()).nev
    # Someone with database access adds 5,000 vehicles to an approved line, and to the copy
    # of it that the figures read.
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE return_line SET bev = bev + 5000 "
                          "WHERE return_id = :id AND category = 'bus'"), {"id": ret.id})
        conn.execute(text(f"UPDATE monthly_return SET {BUS_BEV} = {BUS_BEV} + 5000 "
                          "WHERE id = :id"), {"id": ret.id})
    db.session.expire_all()
    assert figures.national_progress(db.session, "verified", this_month()).nev == before + 5000
    result = runner.invoke(args=["fleet", "verify", "--by", "cron"])
    assert result.exit_code == 1
    assert (f"440300 深圳市 {this_month()} bus_bev: stored 5012, revision 2 say 12"
            in result.output)
    assert "1 mismatch in 1 of 1 returns" in result.output
    stored = db.session.scalar(select(IntegrityCheck).order_by(IntegrityCheck.id.desc()))
    assert stored.by == "cron" and stored.mismatch_count == 1
    assert stored.mismatches[0]["field"] == "bus_bev"
    assert stored.mismatches[0]["stored"] == 5012 and stored.mismatches[0]["expected"] == 12
    audit = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "integrity.verify"))
    assert audit.after["mismatches"] == 1


def test_a_copy_that_disagrees_with_its_line_is_listed(app, runner, setup):
    """The figures read each return's copies of its lines: a line changed without its copy
    (or the other way round) is listed too."""
    ret = _approved_return(this_month(), bus_bev=12)
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE return_line SET bev = 7 "
                          "WHERE return_id = :id AND category = 'bus'"), {"id": ret.id})
    result = runner.invoke(args=["fleet", "verify"])
    assert result.exit_code == 1
    assert f"440300 深圳市 {this_month()} copy:bus_bev: stored 12, its lines say 7" in result.output
    assert f"440300 深圳市 {this_month()} bus_bev: stored 7, revision 2 say 12" in result.output
    assert mismatch_field_label("copy:bus_bev", "zh") == "统计用副本：城市公交 · 纯电动"


def test_the_copies_follow_every_save(app, setup):
    ret = _approved_return(this_month(), bus_bev=12)
    assert getattr(ret, BUS_BEV) == 12
    line = next(line for line in ret.lines if line.category == "bus")
    line.bev = 30
    ret.lines.remove(next(line for line in ret.lines if line.category == "taxi"))
    db.session.commit()
    assert getattr(ret, BUS_BEV) == 30
    taxi = CATEGORY_CODES.index("taxi")
    assert all(getattr(ret, line_copy(taxi, m)) == 0 for m in LINE_MEASURES)


def test_a_tampered_revision_breaks_the_chain(app, runner, setup):
    ret = _approved_return(this_month())
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE return_revision SET hash = :h "
                          "WHERE return_id = :id AND number = 1"), {"h": "0" * 64, "id": ret.id})
    result = runner.invoke(args=["fleet", "verify"])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if " hash: " in line]
    # Revision 1's stored hash is not its own; revision 2 was chained to the real one.
    assert [line.split()[3] for line in lines] == ["hash:", "hash:"]
    assert "stored '" + "0" * 64 in lines[0]
    assert len(lines) == 2


def test_changed_revision_numbers_are_listed(app, runner, setup):
    ret = _approved_return(this_month())
    with db.engine.begin() as conn:  # the first submission's numbers quietly rewritten
        data = conn.execute(text("SELECT data FROM return_revision WHERE return_id = :id "
                                 "AND number = 1"), {"id": ret.id}).scalar_one()
        data = json.loads(data) if isinstance(data, str) else data
        data["lines"]["bus"]["bev"] = 1
        conn.execute(text("UPDATE return_revision SET data = :d WHERE return_id = :id "
                          "AND number = 1"), {"d": json.dumps(data), "id": ret.id})
    result = runner.invoke(args=["fleet", "verify"])
    assert result.exit_code == 1
    assert f"440300 深圳市 {this_month()} hash: stored" in result.output


def test_a_locked_return_without_revision_is_listed(app, runner, setup):
    from .factories import make_return

    make_return(city_by_code(db.session, "110000"), this_month(), "approved",
                {"bus": {"bev": 500}})  # written straight into the tables
    result = runner.invoke(args=["fleet", "verify"])
    assert result.exit_code == 1
    assert f"110000 北京市 {this_month()} revision" in result.output


def test_the_admin_page_shows_the_last_verification(client, auth, runner, setup):
    ret = _approved_return(this_month())
    auth.login("admin1")
    page = client.get("/admin/integrity").get_data(as_text=True)
    assert "尚未进行过校验" in page
    with db.engine.begin() as conn:  # the line and the copy of it that the figures read
        conn.execute(text("UPDATE return_line SET bev = bev + 5000 "
                          "WHERE return_id = :id AND category = 'bus'"), {"id": ret.id})
        conn.execute(text(f"UPDATE monthly_return SET {BUS_BEV} = {BUS_BEV} + 5000 "
                          "WHERE id = :id"), {"id": ret.id})
    assert runner.invoke(args=["fleet", "verify", "--by", "cron"]).exit_code == 1
    page = client.get("/admin/integrity").get_data(as_text=True)
    assert "发现不一致" in page and "执行者 cron" in page
    assert "城市公交 · 纯电动" in page and "5,012" in page and "深圳市" in page
    # The button verifies again, recorded under the admin's name.
    response = client.post("/admin/integrity/verify", follow_redirects=True)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "发现 1 处不一致" in page and "执行者 admin1" in page
    for role in ("ministry1", "viewer1", "shenzhen"):
        auth.logout()
        auth.login(role)
        assert client.get("/admin/integrity").status_code == 403
        assert client.post("/admin/integrity/verify").status_code == 403


def _approved_with_roster(period: str, vehicles: int = 3) -> MonthlyReturn:
    """Shenzhen's return with a roster of `vehicles` buses: submitted and approved."""
    from fleet.domain import roster

    from .roster_helpers import csv_bytes, rows_for

    city = city_by_code(db.session, "440300")
    clerk = Actor(None, "clerk", None, "city", city.id)
    file = roster.read_roster(csv_bytes(rows_for(period, {("bus", "bev"): vehicles})), "r.csv")
    roster.replace_roster(db.session, clerk, city, period, file)
    db.session.commit()
    ret = returns.find_return(db.session, city, period)
    returns.submit_saved(db.session, clerk, ret, ret.version)
    db.session.commit()
    returns.approve_return(db.session, MINISTRY, ret, ret.version)
    db.session.commit()
    return ret


def test_a_vehicle_changed_after_approval_is_listed_and_fails(app, runner, setup):
    from .roster_helpers import make_vin

    ret = _approved_with_roster(this_month())
    digest = db.session.scalar(select(ReturnRevision.roster_sha256))
    assert runner.invoke(args=["fleet", "verify"]).exit_code == 0
    # Someone with database access moves a bus to another operator: the counts stay right,
    # only the roster says otherwise.
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE vehicle SET operator = '别的公司' WHERE vin = :vin"),
                     {"vin": make_vin(1)})
    result = runner.invoke(args=["fleet", "verify"])
    assert result.exit_code == 1
    [line] = result.output.splitlines()[:-1]
    assert line.startswith(f"440300 深圳市 {this_month()} roster: stored '")
    assert line.endswith(f"revision 1 say '{digest}'")
    stored = db.session.scalar(select(IntegrityCheck).order_by(IntegrityCheck.id.desc()))
    assert stored.mismatches[0]["field"] == "roster"
    assert integrity.mismatch_field_label("roster", "zh") == "车辆明细（车辆的 SHA-256）"
    # Put back, it verifies again; every vehicle deleted, it does not.
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE vehicle SET operator = '深圳巴士集团' WHERE vin = :vin"),
                     {"vin": make_vin(1)})
    assert runner.invoke(args=["fleet", "verify"]).exit_code == 0
    with db.engine.begin() as conn:
        conn.execute(text("DELETE FROM vehicle WHERE return_id = :id"), {"id": ret.id})
    assert " roster: " in runner.invoke(args=["fleet", "verify"]).output


def test_a_vehicle_slipped_into_a_return_submitted_without_roster_is_listed(app, runner,
                                                                            setup):
    from .roster_helpers import make_vin

    ret = _approved_return(this_month())
    assert db.session.scalar(select(ReturnRevision.roster_sha256)) is None
    with db.engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO vehicle (vin, return_id, city_id, period, category, powertrain, "
            "in_service_date, plate, operator, model, maker, created_at) VALUES (:vin, :rid, "
            ":city, :period, 'bus', 'bev', :day, '', '公交', '', '', :at)"),
            {"vin": make_vin(9), "rid": ret.id, "city": ret.city_id, "period": ret.period,
             "day": f"{ret.period}-02", "at": datetime(2026, 1, 1)})
    result = runner.invoke(args=["fleet", "verify"])
    assert result.exit_code == 1 and " roster: stored '" in result.output
    assert result.output.splitlines()[0].endswith("say None")


def test_a_draft_roster_may_change(app, runner, setup):
    from fleet.domain import roster

    from .roster_helpers import csv_bytes, rows_for

    city = city_by_code(db.session, "440300")
    clerk = Actor(None, "clerk", None, "city", city.id)
    file = roster.read_roster(csv_bytes(rows_for(this_month(), {("bus", "bev"): 2})), "r.csv")
    roster.replace_roster(db.session, clerk, city, this_month(), file)
    db.session.commit()
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE vehicle SET operator = '别的公司'"))
    assert runner.invoke(args=["fleet", "verify"]).exit_code == 0
