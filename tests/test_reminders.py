"""Reminders (催报): chosen from the grid or the dashboard by the ministry, sent to each user
of the cities chosen, audited and marked on the grid; `flask fleet remind` sends the
automatic ones once per kind, city and month."""

import pytest
from sqlalchemy import func, select

from fleet.extensions import db
from fleet.models import AuditEvent, Notice, Reminder

from .progress_helpers import make_progress_fixture
from .smtp_helpers import SMTPServer


@pytest.fixture
def smtp():
    server = SMTPServer().start()
    yield server
    server.stop()


@pytest.fixture
def app(make_app, smtp):
    app = make_app(**smtp.config())
    with app.app_context():
        yield app


@pytest.fixture
def data(users):
    fixture = make_progress_fixture()
    users["city"].email = "sz@city.example"
    db.session.commit()
    return fixture


def _notices(user) -> list[Notice]:
    return db.session.scalars(select(Notice).where(Notice.user_id == user.id)).all()


def test_ministry_reminds_a_late_city_from_the_grid(client, auth, users, data, smtp):
    auth.login("ministry1")
    grid = client.get("/progress/grid?through=2025-03").get_data(as_text=True)
    assert 'id="remind"' in grid and 'data-remind-city="440300"' in grid
    assert 'data-remind-city="110000"' not in grid  # Beijing's March is approved
    response = client.post("/progress/reminders", data={
        "period": "2025-03", "city": "440300", "message": "请于本周内报送",
        "next": "/progress/grid?through=2025-03"})
    assert response.status_code == 302 and response.headers["Location"].endswith(
        "/progress/grid?through=2025-03")
    [notice] = _notices(users["city"])
    assert notice.kind == "reminder" and notice.params["message"] == "请于本周内报送"
    assert _notices(users["other_city"]) == []
    [(rcpts, mail)] = smtp.messages
    assert rcpts == ["sz@city.example"] and mail["Subject"] == "催报：2025年3月月报待报送"
    assert "请于本周内报送" in mail.get_content()
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "reminder.send"))
    assert event.username == "ministry1" and event.target_id == "440300"
    assert event.after["recipients"] == ["shenzhen"] and event.after["period"] == "2025-03"
    grid = client.get("/progress/grid?through=2025-03").get_data(as_text=True)
    row = grid[grid.index('data-city="440300"'):]
    cell = row[row.index('data-period="2025-03"'):][:200]
    assert 'data-reminders="1"' in cell
    auth.logout()
    auth.login("shenzhen")
    assert "请于本周内报送" in client.get("/inbox/").get_data(as_text=True)


def test_remind_all_late_in_one_click_from_the_dashboard(client, auth, users, data):
    auth.login("ministry1")
    page = client.get("/progress/?through=2025-03").get_data(as_text=True)
    assert 'id="remind-all"' in page
    response = client.post("/progress/reminders", data={"period": "2025-03", "all": "1"})
    assert response.status_code == 302
    # Every active city except Beijing (approved); Tianjin is inactive.
    from fleet.models import City

    active = db.session.scalar(select(func.count(City.id)).where(City.active.is_(True)))
    codes = {r.city_id for r in db.session.scalars(select(Reminder))}
    assert len(codes) == active - 1
    assert data["bj"].id not in codes and data["tj"].id not in codes
    assert data["sz"].id in codes and data["wx"].id in codes
    assert len(_notices(users["city"])) == 1


def test_refusals_send_nothing(client, auth, users, data):
    auth.login("ministry1")
    for form in ({"period": "2025-03", "city": "110000"},  # already approved
                 {"period": "2025-03"},  # nobody chosen
                 {"period": "2025-03", "city": "440300", "message": "x" * 1001},
                 {"period": "March", "city": "440300"}):
        response = client.post("/progress/reminders", data=form)
        assert response.status_code == 400, form
        assert 'id="remind-refused"' in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Reminder.id))) == 0
    assert db.session.scalar(select(func.count(Notice.id))) == 0


@pytest.mark.parametrize("role", ["viewer", "admin", "city"])
def test_only_the_ministry_sends_reminders(client, auth, users, data, role):
    auth.login(users[role].username)
    response = client.post("/progress/reminders", data={"period": "2025-03",
                                                        "city": "440300"})
    assert response.status_code == 403
    assert db.session.scalar(select(func.count(Reminder.id))) == 0
    if role != "city":
        page = client.get("/progress/grid?through=2025-03").get_data(as_text=True)
        assert 'id="remind"' not in page


def test_cron_reminders_are_sent_once(app, users, data, smtp):
    runner = app.test_cli_runner()

    def run(day):
        result = runner.invoke(args=["fleet", "remind", "--today", day])
        assert result.exit_code == 0, result.output
        return result.output

    out = run("2025-04-08")  # March is due on 10 April: 3 days before
    assert "Reminded 440300 for 2025-03 (before_due, 1 users)" in out
    assert "110000" not in out  # Beijing's March is approved
    first = db.session.scalar(select(func.count(Reminder.id)))
    # Sent right after the commit; nothing is left for the outbox run.
    assert first >= 2 and "0 still waiting" in out and len(smtp.messages) == 1
    assert run("2025-04-08").count("Reminded") == 0  # the same day again: nothing twice
    assert run("2025-04-09").count("Reminded") == 0  # before_due is sent once
    out = run("2025-04-11")  # the day after the due date: those still missing
    assert "Reminded 440300 for 2025-03 (after_due" in out
    assert run("2025-04-12").count("Reminded") == 0
    assert run("2025-04-05").count("Reminded") == 0  # too early for March
    assert [m["Subject"] for _, m in smtp.messages] == ["催报：2025年3月月报待报送"] * 2
    kinds = db.session.scalars(select(Reminder.kind).where(
        Reminder.city_id == data["sz"].id)).all()
    assert sorted(kinds) == ["after_due", "before_due"]
    events = db.session.scalar(select(func.count(AuditEvent.id))
                               .where(AuditEvent.action == "reminder.send"))
    assert events == db.session.scalar(select(func.count(Reminder.id)))
