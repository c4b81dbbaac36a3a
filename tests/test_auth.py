"""Sign-in, lock-out, session expiry, password change, CSRF."""

import re
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from fleet.extensions import db
from fleet.models import AuditEvent, User

from .factories import PASSWORD, make_user


def events(action):
    return db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)).all()


def test_login_page_has_username_and_password(client):
    page = client.get("/login").get_data(as_text=True)
    assert 'name="username"' in page and 'name="password"' in page
    assert "登录" in page  # Chinese by default


def test_sign_in_and_out(client, auth, users):
    response = auth.login("ministry1")
    assert response.status_code == 302
    home = client.get("/", follow_redirects=True).get_data(as_text=True)
    assert "ministry1" in home and "部级审核人员" in home
    assert events("auth.login")[0].username == "ministry1"
    auth.logout()
    assert client.get("/").status_code == 302
    assert events("auth.logout")


def test_wrong_password_is_refused_with_a_clear_message(client, auth, users):
    response = auth.login("ministry1", "Wrong-Passw0rd")
    assert response.status_code == 401
    assert "用户名或密码错误" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302  # still signed out
    failed = events("auth.login_failed")
    assert failed and failed[0].username == "ministry1" and failed[0].ip == "127.0.0.1"


def test_unknown_user_gets_the_same_message(auth, users):
    response = auth.login("nobody", "Whatever-123")
    assert "用户名或密码错误" in response.get_data(as_text=True)


def test_lockout_after_repeated_failures(client, auth, users):
    for _ in range(5):
        auth.login("ministry1", "Wrong-Passw0rd")
    response = auth.login("ministry1")  # the right password no longer opens it
    assert response.status_code == 401
    assert "账号因多次登录失败已被暂时锁定" in response.get_data(as_text=True)
    assert events("auth.locked")
    user = db.session.scalar(select(User).where(User.username == "ministry1"))
    assert user.locked_until > datetime.now(timezone.utc).replace(tzinfo=None)
    # After the lock-out period the right password works again.
    user.locked_until = datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(seconds=1)
    db.session.commit()
    assert auth.login("ministry1").status_code == 302


def test_disabled_account_cannot_sign_in(auth, users):
    users["viewer"].active = False
    db.session.commit()
    response = auth.login("viewer1")
    assert response.status_code == 401
    assert "账号已停用" in response.get_data(as_text=True)


def test_session_expires_after_inactivity(client, auth, users, app):
    auth.login("ministry1")
    assert client.get("/admin/users").status_code == 403  # signed in (forbidden, not redirected)
    with client.session_transaction() as session:
        lifetime = app.config["PERMANENT_SESSION_LIFETIME"].total_seconds()
        session["seen"] = datetime.now(timezone.utc).timestamp() - lifetime - 60
    response = client.get("/", follow_redirects=True)
    assert "会话已过期" in response.get_data(as_text=True)
    assert client.get("/admin/users").status_code == 302  # signed out now


def test_admin_set_password_must_be_changed_first(client, auth, users):
    user = make_user("newclerk", "viewer", must_change_password=True)
    response = auth.login("newclerk")
    assert response.headers["Location"].endswith("/account/password")
    # Every other page sends the user back to the password form.
    assert client.get("/").headers["Location"].endswith("/account/password")
    weak = client.post("/account/password", data={
        "current_password": PASSWORD, "password": "short", "confirm": "short"})
    assert "密码至少需要" in weak.get_data(as_text=True)
    good = "Brand-New-Pass9"
    response = client.post("/account/password", data={
        "current_password": PASSWORD, "password": good, "confirm": good})
    assert response.status_code == 302
    db.session.refresh(user)
    assert user.must_change_password is False
    assert events("user.change_password")
    auth.logout()
    assert auth.login("newclerk", good).headers["Location"].endswith("/")


def test_change_password_requires_the_current_one(client, auth, users):
    auth.login("viewer1")
    response = client.post("/account/password", data={
        "current_password": "Not-The-One-1", "password": "Brand-New-Pass9",
        "confirm": "Brand-New-Pass9"})
    assert "当前密码不正确" in response.get_data(as_text=True)


def test_next_parameter_cannot_leave_the_site(client, auth, users):
    response = client.post("/login?next=https://evil.example/", data={
        "username": "viewer1", "password": PASSWORD})
    assert response.headers["Location"] == "/"


def test_form_post_without_csrf_token_is_refused(make_app):
    app = make_app(WTF_CSRF_ENABLED=True)
    with app.app_context():
        make_user("csrfuser", "viewer")
    client = app.test_client()
    response = client.post("/login", data={"username": "csrfuser", "password": PASSWORD})
    assert response.status_code == 400
    assert "表单已失效" in response.get_data(as_text=True)
    # With the token from the form, the same sign-in works.
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = client.post("/login", data={"username": "csrfuser", "password": PASSWORD,
                                           "csrf_token": token})
    assert response.status_code == 302
