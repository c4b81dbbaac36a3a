"""Notices: the inbox, and e-mail through a real SMTP server (aiosmtpd on a loopback port)
started by the tests; a server that is down never fails the request, and `flask fleet remind`
sends what it did not take."""

import pytest
from sqlalchemy import select

from fleet import background
from fleet.extensions import db
from fleet.models import Notice, OutboxMail

from .factories import make_return
from .returns_helpers import form_data, this_month
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
def people(setup):
    """Two Shenzhen users (one reads English), a Beijing user, a ministry reviewer, with
    e-mail addresses."""
    from .factories import make_user

    setup["city"].email = "sz@city.example"
    setup["other_city"].email = "bj@city.example"
    setup["ministry"].email = "reviewer@ministry.example"
    setup["sz_en"] = make_user("shenzhen_en", "city", setup["city"].city,
                               email="sz-en@city.example", language="en")
    db.session.commit()
    return setup


def _submitted(city, period="2025-03"):
    return make_return(city, period, "submitted", {"bus": {"bev": 5}})


def test_send_back_reaches_inbox_and_mailbox_in_each_users_language(client, auth, people,
                                                                    smtp):
    ret = _submitted(people["city"].city)
    auth.login("ministry1")
    response = client.post(f"/review/returns/{ret.id}/send-back",
                           data={"version": ret.version, "reason": "公交数量有误"})
    assert response.status_code == 302
    mails = smtp.by_recipient()
    assert set(mails) == {"sz@city.example", "sz-en@city.example"}  # not Beijing, not ministry
    zh = mails["sz@city.example"]
    assert zh["Subject"] == "月报已退回：深圳市，2025年3月"
    assert zh["From"] == "fleet@ministry.example" and zh["To"] == "sz@city.example"
    assert "公交数量有误" in zh.get_content()
    en = mails["sz-en@city.example"]
    assert en["Subject"] == "Return sent back: Shenzhen, Mar 2025"
    assert "Reason: 公交数量有误" in en.get_content()

    auth.logout()
    auth.login("shenzhen")
    page = client.get("/returns").get_data(as_text=True)
    assert 'id="unread-count">1<' in page
    inbox = client.get("/inbox/").get_data(as_text=True)
    assert "月报已退回：深圳市，2025年3月" in inbox and "公交数量有误" in inbox


def test_approve_and_reopen_notify_the_city(client, auth, people, smtp):
    ret = _submitted(people["city"].city)
    auth.login("ministry1")
    client.post(f"/review/returns/{ret.id}/approve", data={"version": ret.version})
    db.session.refresh(ret)
    client.post(f"/review/returns/{ret.id}/reopen", data={"version": ret.version,
                                                          "reason": "复核"})
    subjects = [m["Subject"] for rcpts, m in smtp.messages if rcpts == ["sz-en@city.example"]]
    assert subjects == ["Return approved: Shenzhen, Mar 2025",
                        "Return reopened: Shenzhen, Mar 2025"]
    kinds = db.session.scalars(select(Notice.kind).where(
        Notice.user_id == people["city"].id).order_by(Notice.id)).all()
    assert kinds == ["approved", "reopened"]


def test_a_submission_notifies_the_ministry(client, auth, people, smtp):
    month = this_month()
    auth.login("shenzhen")
    response = client.post(f"/returns/{month}", data=form_data(0, "submit", bus_bev=3,
                                                               bus_all_new=3))
    assert response.status_code == 302
    assert [rcpts for rcpts, _ in smtp.messages] == [["reviewer@ministry.example"]]
    assert "深圳市" in smtp.messages[0][1]["Subject"]
    notice = db.session.scalar(select(Notice).where(Notice.user_id == people["ministry"].id))
    assert notice.kind == "submitted"


def test_mail_server_down_never_fails_the_request_and_remind_retries(client, auth, people,
                                                                     smtp, app):
    ret = _submitted(people["city"].city)
    smtp.stop()
    auth.login("ministry1")
    response = client.post(f"/review/returns/{ret.id}/send-back",
                           data={"version": ret.version, "reason": "请核实"})
    assert response.status_code == 302
    assert db.session.get(type(ret), ret.id).status == "returned"
    assert background.drain(30)  # the page did not wait for the mail; its sending ends here
    db.session.expire_all()
    waiting = db.session.scalars(select(OutboxMail)).all()
    assert len(waiting) == 2 and all(m.sent_at is None and m.attempts == 1 and m.last_error
                                     for m in waiting)
    assert db.session.scalar(select(Notice).where(Notice.user_id == people["city"].id))

    smtp.start()  # the server is back, on the same port
    result = app.test_cli_runner().invoke(args=["fleet", "remind", "--today", "2025-01-05"])
    assert result.exit_code == 0, result.output
    assert "2 sent from the outbox" in result.output
    assert set(smtp.by_recipient()) == {"sz@city.example", "sz-en@city.example"}
    db.session.expire_all()
    assert all(m.sent_at is not None for m in db.session.scalars(select(OutboxMail)))


def test_inbox_is_personal_and_mark_read(client, auth, people):
    ret = _submitted(people["city"].city)
    auth.login("ministry1")
    client.post(f"/review/returns/{ret.id}/send-back", data={"version": ret.version,
                                                             "reason": "x"})
    auth.logout()
    mine = db.session.scalar(select(Notice).where(Notice.user_id == people["city"].id))
    # Someone else (Beijing) can neither see nor mark it.
    auth.login("beijing")
    assert "深圳市" not in client.get("/inbox/").get_data(as_text=True)
    assert client.post(f"/inbox/{mine.id}/read").status_code == 404
    assert client.post("/inbox/read-all").status_code == 302  # marks only Beijing's own
    db.session.expire_all()
    assert db.session.get(Notice, mine.id).read_at is None
    auth.logout()
    auth.login("shenzhen")
    assert client.post(f"/inbox/{mine.id}/read").status_code == 302
    db.session.expire_all()
    assert db.session.get(Notice, mine.id).read_at is not None
    assert 'id="unread-count"' not in client.get("/inbox/").get_data(as_text=True)


def test_language_setting(client, auth, people):
    auth.login("shenzhen")
    assert client.post("/inbox/language", data={"language": "fr"}).status_code == 400
    assert client.post("/inbox/language", data={"language": "en"}).status_code == 302
    db.session.expire_all()
    assert people["city"].language == "en"


def test_inbox_needs_sign_in(client, people):
    assert client.get("/inbox/").status_code == 302
    assert client.post("/inbox/read-all").status_code == 302


def test_admin_sets_a_users_email(client, auth, people):
    user = people["other_city"]
    auth.login("admin1")
    form = {"display_name": "", "role": "city", "city": "110000", "active": "y"}
    page = client.post(f"/admin/users/{user.id}", data={**form, "email": "not-an-address"})
    assert "电子邮件地址格式不正确" in page.get_data(as_text=True)
    db.session.expire_all()
    assert user.email == "bj@city.example"  # unchanged
    assert client.post(f"/admin/users/{user.id}",
                       data={**form, "email": "new@bj.example"}).status_code == 302
    db.session.expire_all()
    assert user.email == "new@bj.example"
    from fleet.models import AuditEvent

    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "user.email"))
    assert event.before == {"email": "bj@city.example"} and event.after == {
        "email": "new@bj.example"}


def test_a_confirmed_upload_notifies_the_ministry(client, auth, people, smtp):
    from .test_excel_upload import confirm, download_template, upload

    auth.login("shenzhen")
    page = upload(client, download_template(client)).get_data(as_text=True)
    assert not smtp.messages  # the dry run tells nobody
    confirm(client, page)
    [(rcpts, mail)] = smtp.messages
    assert rcpts == ["reviewer@ministry.example"] and "已确认上传：深圳市" in mail["Subject"]
    notice = db.session.scalar(select(Notice).where(Notice.user_id == people["ministry"].id))
    assert notice.kind == "uploaded"
