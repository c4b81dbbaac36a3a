"""Sessions end on the server: a copied cookie opens nothing after sign-out, a password
change or reset, or disabling, nor at any time from another browser or address; and no
session outlives the absolute lifetime."""

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from fleet import create_app
from fleet.extensions import db
from fleet.models import AuditEvent, User

from .factories import PASSWORD

OTHER_BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) ThiefBrowser/1.0"}


def sign_in(app, username, password=PASSWORD):
    client = app.test_client()
    response = client.post("/login", data={"username": username, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def stolen_copy(app, client):
    """Another client with a copy of the cookie, sending what the owner's browser sends (its
    User-Agent, from the same address): only the server's record of the session stops it."""
    thief = app.test_client()
    thief.set_cookie("session", client.get_cookie("session").value)
    return thief


def opens_progress(client, **request) -> bool:
    response = client.get("/progress/", **request)
    if response.status_code == 302:
        assert "/login" in response.headers["Location"]
        return False
    assert response.status_code == 200
    return True


@pytest.fixture
def signed_in_and_copied(app, setup):
    """The ministry user signed in, and a thief holding a copy of the cookie that works."""
    owner = sign_in(app, "ministry1")
    thief = stolen_copy(app, owner)
    assert opens_progress(thief)  # a perfect replay works while the session lives
    return owner, thief


def moved_events() -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(
        AuditEvent.action == "security.session_moved")))


def test_a_copied_cookie_opens_nothing_from_another_browser(app, setup):
    owner = sign_in(app, "ministry1")
    owner_id = db.session.scalar(select(User.id).where(User.username == "ministry1"))
    thief = stolen_copy(app, owner)
    response = thief.get("/progress/", headers=OTHER_BROWSER, follow_redirects=True)
    assert response.request.path == "/login"
    assert "该会话已终止" in response.get_data(as_text=True)
    assert not opens_progress(thief)  # its copy of the cookie no longer names the user
    [event] = moved_events()
    assert event.target_type == "user" and event.target_id == str(owner_id)
    assert "ThiefBrowser" in event.detail and event.ip == "127.0.0.1"
    assert opens_progress(owner)  # the owner's own browser goes on


def test_a_visitor_who_only_chose_a_language_is_no_moved_session(app, setup):
    visitor = app.test_client()
    visitor.get("/lang/en")
    for headers in ({}, OTHER_BROWSER):
        assert visitor.get("/login", headers=headers).status_code == 200
    assert "Sign in" in visitor.get("/login").get_data(as_text=True)  # the choice is kept
    assert moved_events() == []


def test_a_copied_cookie_opens_nothing_from_another_address(app, setup):
    owner = sign_in(app, "ministry1")
    thief = stolen_copy(app, owner)
    assert not opens_progress(thief, environ_base={"REMOTE_ADDR": "10.20.30.40"})
    [event] = moved_events()
    assert event.ip == "10.20.30.40"
    assert opens_progress(owner)


def test_a_copied_cookie_is_worthless_after_sign_out(app, signed_in_and_copied):
    owner, thief = signed_in_and_copied
    owner.post("/logout")
    assert not opens_progress(thief)
    assert not opens_progress(owner)
    # Signing in again gives a new session; the old copy stays dead.
    owner = sign_in(app, "ministry1")
    assert opens_progress(owner)
    assert not opens_progress(thief)


def test_changing_ones_password_ends_every_other_session(app, signed_in_and_copied):
    owner, thief = signed_in_and_copied
    new = "Fresh-Harbour-73"
    response = owner.post("/account/password", data={
        "current_password": PASSWORD, "password": new, "confirm": new}, follow_redirects=True)
    assert "您在其他地方的登录会话均已结束" in response.get_data(as_text=True)
    assert not opens_progress(thief)
    assert opens_progress(owner)  # the browser that changed it stays signed in


def test_admin_password_reset_ends_every_session_of_the_user(app, signed_in_and_copied):
    owner, thief = signed_in_and_copied
    target = db.session.scalar(select(User).where(User.username == "ministry1"))
    admin = sign_in(app, "admin1")
    response = admin.post(f"/admin/users/{target.id}/password",
                          data={"reset-password": "Reset-Harbour-42"})
    assert response.status_code == 302
    assert not opens_progress(owner)
    assert not opens_progress(thief)
    assert opens_progress(admin)  # the admin's own session is untouched


def test_disabling_a_user_ends_every_session_at_once(app, signed_in_and_copied):
    owner, thief = signed_in_and_copied
    target = db.session.scalar(select(User).where(User.username == "ministry1"))
    admin = sign_in(app, "admin1")
    response = admin.post(f"/admin/users/{target.id}", data={
        "display_name": "", "role": "ministry", "city": "", "active": ""})
    assert response.status_code == 302
    assert not opens_progress(owner)
    assert not opens_progress(thief)


def test_a_session_ends_after_the_absolute_lifetime_however_busy(app, setup):
    client = sign_in(app, "ministry1")
    assert opens_progress(client)
    lifetime = app.config["SESSION_ABSOLUTE_LIFETIME"]
    assert lifetime == timedelta(hours=12)
    now = datetime.now(timezone.utc).timestamp()
    with client.session_transaction() as session:
        # Signed in just over 12 hours ago, active a minute ago: the idle clock is fine.
        session["signed_in_at"] = now - lifetime.total_seconds() - 60
        session["seen"] = now - 60
    response = client.get("/progress/", follow_redirects=True)
    assert "会话已达到最长时限" in response.get_data(as_text=True)
    assert not opens_progress(client)


def test_a_session_within_the_absolute_lifetime_goes_on(app, setup):
    client = sign_in(app, "ministry1")
    now = datetime.now(timezone.utc).timestamp()
    with client.session_transaction() as session:
        session["signed_in_at"] = now - 11 * 3600
        session["seen"] = now - 60
    assert opens_progress(client)


def test_the_absolute_lifetime_is_a_setting_in_seconds_or_a_timedelta(tmp_path, monkeypatch):
    monkeypatch.setenv("FLEET_INSTANCE_PATH", str(tmp_path / "inst"))
    monkeypatch.setenv("FLEET_SESSION_ABSOLUTE_LIFETIME", "28800")
    monkeypatch.setenv("FLEET_PERMANENT_SESSION_LIFETIME", "900")
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})
    assert app.config["SESSION_ABSOLUTE_LIFETIME"] == timedelta(hours=8)
    assert app.config["PERMANENT_SESSION_LIFETIME"] == timedelta(minutes=15)


def test_sign_out_is_audited_once(app, setup):
    client = sign_in(app, "viewer1")
    client.post("/logout")
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "auth.logout"))
    assert [e.username for e in events] == ["viewer1"]
