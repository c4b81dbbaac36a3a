"""The monthly return through HTTP: city entry, submit, send back, correct, resubmit, approve,
reopen; access across cities; concurrent edits; all-or-nothing saves."""

from datetime import datetime

import pytest
from sqlalchemy import func, select

from fleet.domain import returns
from fleet.domain.audit import Actor
from fleet.domain.cities import city_by_code
from fleet.domain.periods import add_months
from fleet.domain.programme import get_programme
from fleet.extensions import db
from fleet.models import AuditEvent, MonthlyReturn, ReturnRevision

from .factories import make_return
from .returns_helpers import form_data, the_return, this_month


def actions(ret):
    return [e.action for e in db.session.scalars(
        select(AuditEvent).where(AuditEvent.target_type == "return",
                                 AuditEvent.target_id == str(ret.id)).order_by(AuditEvent.id))]


def test_full_cycle(client, auth, setup):
    month = this_month()
    auth.login("shenzhen")
    page = client.get("/returns").get_data(as_text=True)
    assert month in page and "深圳市" in page
    form = client.get(f"/returns/{month}").get_data(as_text=True)
    assert 'name="bus_bev"' in form and 'name="heavy_truck_fcev"' in form

    # Save a draft: stored, not submitted, audited.
    response = client.post(f"/returns/{month}", data=form_data(
        0, "save", bus_bev=40, bus_phev=2, bus_all_new=45, taxi_bev=100, taxi_all_new=130,
        charging_points=150, swap_stations=1, notes="首批公交"))
    assert response.status_code == 302
    ret = the_return()
    assert ret.status == "draft" and ret.version == 1
    assert returns.values_of(ret).lines["bus"].phev == 2
    assert db.session.scalar(select(func.count(ReturnRevision.id))) == 0

    # Submit.
    client.post(f"/returns/{month}", data=form_data(
        ret.version, "submit", bus_bev=40, bus_phev=2, bus_all_new=45, taxi_bev=100,
        taxi_all_new=130, charging_points=150, swap_stations=1, notes="首批公交"))
    ret = the_return()
    assert ret.status == "submitted" and ret.submitted_by.username == "shenzhen"
    assert ret.submitted_late is False  # the running month is not late
    revision = returns.revisions_of(db.session, ret)[0]
    assert revision.number == 1 and revision.data["lines"]["taxi"]["bev"] == 100
    assert revision.nev_total == 142
    # A submitted return can no longer be edited.
    response = client.post(f"/returns/{month}", data=form_data(ret.version, "save", bus_bev=1,
                                                               bus_all_new=1),
                           follow_redirects=True)
    assert "不能再修改" in response.get_data(as_text=True)
    assert the_return().lines[1].bev == 40
    auth.logout()

    # The ministry sees it in the queue and sends it back with a reason.
    auth.login("ministry1")
    queue = client.get("/review/").get_data(as_text=True)
    assert "深圳市" in queue and f'/review/returns/{ret.id}' in queue
    detail = client.get(f"/review/returns/{ret.id}").get_data(as_text=True)
    assert "首批公交" in detail and "142" in detail
    no_reason = client.post(f"/review/returns/{ret.id}/send-back",
                            data={"version": ret.version, "reason": "  "},
                            follow_redirects=True)
    assert "请说明原因" in no_reason.get_data(as_text=True)
    assert the_return().status == "submitted"
    client.post(f"/review/returns/{ret.id}/send-back",
                data={"version": ret.version, "reason": "出租车数量与上月差异大，请核实"})
    ret = the_return()
    assert ret.status == "returned" and ret.review_comment == "出租车数量与上月差异大，请核实"
    auth.logout()

    # The city sees why, corrects and resubmits.
    auth.login("shenzhen")
    listing = client.get("/returns").get_data(as_text=True)
    assert "出租车数量与上月差异大" in listing
    client.post(f"/returns/{month}", data=form_data(
        ret.version, "submit", bus_bev=40, bus_phev=2, bus_all_new=45, taxi_bev=90,
        taxi_all_new=130, charging_points=150, swap_stations=1, notes="首批公交，已核实"))
    ret = the_return()
    assert ret.status == "submitted" and ret.review_comment == ""
    revisions = returns.revisions_of(db.session, ret)
    assert [r.number for r in revisions] == [1, 2]
    changes = returns.revision_changes(revisions[0], revisions[1])
    assert [(c.field, c.before, c.after) for c in changes] == [
        ("taxi_bev", 100, 90), ("notes", "首批公交", "首批公交，已核实")]
    auth.logout()

    # The ministry sees what changed and approves.
    auth.login("ministry1")
    detail = client.get(f"/review/returns/{ret.id}").get_data(as_text=True)
    assert "出租(含网约车) · 纯电动: 100 → <strong>90</strong>" in detail
    client.post(f"/review/returns/{ret.id}/approve", data={"version": ret.version})
    ret = the_return()
    assert ret.status == "approved" and ret.approved_by.username == "ministry1"
    assert actions(ret) == ["return.create", "return.submit", "return.send_back",
                            "return.submit", "return.approve"]
    # Approving twice is refused and changes nothing.
    again = client.post(f"/review/returns/{ret.id}/approve", data={"version": ret.version},
                        follow_redirects=True)
    assert "只有已报送的月报才能审核通过" in again.get_data(as_text=True)
    auth.logout()

    # Approved is locked for the city.
    auth.login("shenzhen")
    locked = client.post(f"/returns/{month}", data=form_data(ret.version, "save", bus_bev=1,
                                                             bus_all_new=1),
                         follow_redirects=True)
    assert "不能再修改" in locked.get_data(as_text=True)
    assert the_return().status == "approved"
    auth.logout()

    # The ministry reopens it with a reason; the city may correct it again.
    auth.login("ministry1")
    client.post(f"/review/returns/{ret.id}/reopen",
                data={"version": ret.version, "reason": "补报遗漏的环卫车"})
    ret = the_return()
    assert ret.status == "returned" and ret.approved_at is None
    assert actions(ret)[-1] == "return.reopen"


def test_hard_errors_are_shown_next_to_the_field_and_nothing_is_saved(client, auth, setup):
    month = this_month()
    auth.login("shenzhen")
    client.post(f"/returns/{month}", data=form_data(0, "save", bus_bev=5, bus_all_new=5,
                                                     charging_points=5))
    before = the_return()
    snapshot = returns.values_of(before)
    response = client.post(f"/returns/{month}", data=form_data(
        before.version, "submit", bus_bev=50, bus_all_new=40, taxi_bev="十", charging_points=-3,
        notes="x" * 2001))
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "未保存任何内容" in page
    assert "须为不小于 0 的整数" in page  # taxi_bev
    assert "不得为负数" in page  # charging points
    assert "备注不得超过 2000 个字符" in page
    after = the_return()
    assert after.status == "draft" and after.version == before.version
    assert returns.values_of(after) == snapshot
    response = client.post(f"/returns/{month}", data=form_data(
        before.version, "submit", bus_bev=50, bus_all_new=40))
    assert "超过该领域全部新增车辆" in response.get_data(as_text=True)
    assert the_return().status == "draft"


def test_months_outside_the_window_or_in_the_future_are_refused(client, auth, setup):
    auth.login("shenzhen")
    future = add_months(this_month(), 1)
    page = client.get(f"/returns/{future}").get_data(as_text=True)
    assert "不能填报未来月份" in page and 'id="submit-return"' not in page
    client.post(f"/returns/{future}", data=form_data(0, "submit", bus_bev=1, bus_all_new=1))
    assert the_return(period=future) is None
    too_early = add_months(get_programme(db.session).first_period, -1)
    client.post(f"/returns/{too_early}", data=form_data(0, "save", bus_bev=1, bus_all_new=1))
    assert the_return(period=too_early) is None
    assert client.get("/returns/2025-13").status_code == 404


def test_warnings_are_shown_to_the_city_and_the_reviewer(client, auth, setup):
    city = city_by_code(db.session, "440300")
    month = this_month()
    for back in (1, 2, 3):
        make_return(city, add_months(month, -back), "approved", counts={"bus": {"bev": 10}},
                    charging_points=10)
    auth.login("shenzhen")
    response = client.post(f"/returns/{month}", data=form_data(
        0, "submit", bus_bev=200, bus_all_new=200, charging_points=20), follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "远高于本市近几个月" in page and "充电桩" in page
    assert the_return().status == "submitted"  # warnings do not block
    auth.logout()
    auth.login("ministry1")
    queue = client.get("/review/").get_data(as_text=True)
    assert "远高于本市近几个月" in queue


def test_a_city_user_never_reaches_another_citys_return(client, auth, setup):
    beijing = city_by_code(db.session, "110000")
    theirs = make_return(beijing, this_month(), "submitted", counts={"bus": {"bev": 7}},
                         charging_points=7)
    auth.login("shenzhen")
    for url in (f"/review/returns/{theirs.id}", "/review/"):
        assert client.get(url).status_code == 403
    for action in ("approve", "send-back", "reopen"):
        response = client.post(f"/review/returns/{theirs.id}/{action}",
                               data={"version": theirs.version, "reason": "x"})
        assert response.status_code == 403
    # A forged city field is ignored: the return is saved for the user's own city.
    data = form_data(0, "save", bus_bev=3, bus_all_new=3)
    data.update({"city": "110000", "city_id": str(beijing.id)})
    client.post(f"/returns/{this_month()}", data=data)
    assert the_return("110000").lines[1].bev == 7  # Beijing untouched
    assert the_return("440300").lines[1].bev == 3
    page = client.get("/returns").get_data(as_text=True)
    assert "北京" not in page


def test_viewers_and_admins_cannot_write(client, auth, setup):
    shenzhen = city_by_code(db.session, "440300")
    ret = make_return(shenzhen, this_month(), "submitted", counts={"bus": {"bev": 7}})
    for username in ("viewer1", "admin1"):
        auth.login(username)
        assert client.get(f"/review/returns/{ret.id}").status_code == 200
        assert client.post(f"/review/returns/{ret.id}/approve",
                           data={"version": ret.version}).status_code == 403
        assert client.post(f"/returns/{this_month()}",
                           data=form_data(0, "save", bus_bev=1)).status_code == 403
        auth.logout()
    assert the_return().status == "submitted"


def test_second_editor_does_not_overwrite_the_first(client, auth, setup, make_app):
    month = this_month()
    auth.login("shenzhen")
    client.post(f"/returns/{month}", data=form_data(0, "save", bus_bev=5, bus_all_new=5))
    loaded_version = the_return().version
    # Two clerks opened the same version; the first saves...
    client.post(f"/returns/{month}", data=form_data(loaded_version, "save", bus_bev=6,
                                                     bus_all_new=6))
    # ...the second saves on top of the old version: refused, told, shown the current numbers.
    response = client.post(f"/returns/{month}", data=form_data(loaded_version, "save",
                                                                bus_bev=99, bus_all_new=99),
                           follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "其他人修改了这份月报" in page
    assert 'name="bus_bev" placeholder="0" type="text" value="6"' in page
    # ...and the second clerk's own input stays on the page, beside it, to re-apply.
    assert 'data-field="bus_bev" data-mine="99"' in page
    assert the_return().lines[1].bev == 6
    # Two clerks both creating the month's first draft: the second is refused too.
    response = client.post(f"/returns/{add_months(month, -1)}",
                           data=form_data(0, "save", bus_bev=1, bus_all_new=1))
    assert response.status_code == 302
    response = client.post(f"/returns/{add_months(month, -1)}",
                           data=form_data(0, "save", bus_bev=2, bus_all_new=2),
                           follow_redirects=True)
    assert "其他人修改了这份月报" in response.get_data(as_text=True)


def test_concurrent_write_between_read_and_flush_is_caught(app, setup):
    """The version column also guards the window between our read and our write."""
    shenzhen = city_by_code(db.session, "440300")
    make_return(shenzhen, this_month(), "draft", counts={"bus": {"bev": 1}})
    actor = Actor.of(setup["city"])
    ret = returns.find_return(db.session, shenzhen, this_month())
    # Another process bumps the row behind this session's back.
    with db.engine.begin() as conn:
        conn.execute(MonthlyReturn.__table__.update().values(version=MonthlyReturn.version + 1))
    with pytest.raises(returns.StaleData):
        returns.save_return(db.session, actor, shenzhen, this_month(),
                            {"bus_bev": "2", "bus_all_new": "2"}, ret.version)
    db.session.rollback()
    assert returns.values_of(returns.find_return(db.session, shenzhen, this_month())) \
        .lines["bus"].bev == 1


def test_late_submission_is_recorded(app, setup):
    shenzhen = city_by_code(db.session, "440300")
    actor = Actor.of(setup["city"])
    period = add_months(this_month(), -3)
    programme = get_programme(db.session)
    from fleet.domain.programme import due_date

    due = due_date(programme, period)
    on_time = datetime(due.year, due.month, due.day, 15, 0)  # 23:00 Beijing time, due day
    ret, _ = returns.save_return(db.session, actor, shenzhen, period,
                                 {"bus_bev": "1", "bus_all_new": "1"}, 0, submit=True,
                                 now=on_time)
    assert ret.submitted_late is False
    late = datetime(due.year, due.month, due.day, 16, 30)  # 00:30 the day after, Beijing
    other = city_by_code(db.session, "110000")
    ret2, _ = returns.save_return(db.session, Actor.of(setup["other_city"]), other, period,
                                  {"bus_bev": "1", "bus_all_new": "1"}, 0, submit=True,
                                  now=late)
    assert ret2.submitted_late is True
    db.session.commit()
    rows = returns.city_months(db.session, programme, other)
    row = next(r for r in rows if r.period == period)
    assert row.state == "submitted" and row.submitted_late


def test_month_states_for_the_calendar():
    from datetime import date

    due = date(2025, 10, 10)
    assert returns.month_state(None, "2025-09", due, date(2025, 9, 20)) == "not_due"
    assert returns.month_state(None, "2025-09", due, date(2025, 10, 3)) == "due"
    assert returns.month_state("draft", "2025-09", due, date(2025, 10, 3)) == "draft"
    assert returns.month_state("draft", "2025-09", due, date(2025, 10, 11)) == "late"
    assert returns.month_state(None, "2025-09", due, date(2025, 10, 11)) == "late"
    assert returns.month_state("returned", "2025-09", due, date(2025, 10, 11)) == "returned"
    assert returns.month_state("approved", "2025-09", due, date(2025, 12, 1)) == "approved"


def test_submitting_twice_is_refused(client, auth, setup):
    month = this_month()
    auth.login("shenzhen")
    client.post(f"/returns/{month}", data=form_data(0, "submit", bus_bev=1, bus_all_new=1,
                                                     charging_points=1))
    ret = the_return()
    response = client.post(f"/returns/{month}", data=form_data(
        ret.version, "submit", bus_bev=1, bus_all_new=1, charging_points=1),
        follow_redirects=True)
    assert "不能再修改" in response.get_data(as_text=True)
    assert len(returns.revisions_of(db.session, the_return())) == 1


def test_approving_a_draft_is_refused(client, auth, setup):
    shenzhen = city_by_code(db.session, "440300")
    ret = make_return(shenzhen, this_month(), "draft")
    auth.login("ministry1")
    response = client.post(f"/review/returns/{ret.id}/approve", data={"version": ret.version},
                           follow_redirects=True)
    assert "只有已报送的月报才能审核通过" in response.get_data(as_text=True)
    assert the_return().status == "draft"
    assert not [e for e in actions(ret) if e == "return.approve"]
