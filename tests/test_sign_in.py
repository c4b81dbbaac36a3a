"""Sign-in that tells nothing about which names exist, a throttle per client address (in
memory, or in Redis shared by every worker), an admin's unlock, and no common password."""

import re
import uuid

import pytest
from sqlalchemy import select

from fleet.domain import accounts
from fleet.domain.accounts import PasswordPolicy, common_passwords, is_common_password
from fleet.domain.errors import DomainError
from fleet.extensions import db
from fleet.models import AuditEvent, User

from .factories import PASSWORD

REDIS_URL = "redis://127.0.0.1:6379/0"


def refusal(response) -> str:
    """The message shown under the password field."""
    assert response.status_code == 401
    return re.search(r'class="invalid-feedback[^"]*">\s*(.*?)\s*<',
                     response.get_data(as_text=True), re.S).group(1)


def user(name) -> User:
    db.session.expire_all()
    return db.session.scalar(select(User).where(User.username == name))


def test_unknown_names_wrong_passwords_and_locked_accounts_get_one_answer(client, auth, users):
    unknown = refusal(auth.login("nobody-here", "Wrong-Passw0rd"))
    wrong = refusal(auth.login("viewer1", "Wrong-Passw0rd"))
    for _ in range(5):
        auth.login("ministry1", "Wrong-Passw0rd")
    locked_wrong = refusal(auth.login("ministry1", "Wrong-Passw0rd"))
    locked_right = refusal(auth.login("ministry1", PASSWORD))
    assert unknown == wrong == locked_wrong == locked_right
    assert "用户名或密码错误" in unknown
    # An unknown name after as many failures looks the same as the locked real one.
    assert refusal(auth.login("nobody-here", "Wrong-Passw0rd")) == locked_right


def test_an_unknown_name_costs_one_password_hash_like_a_known_one(client, auth, users,
                                                                  monkeypatch):
    """Same time class: each attempt checks exactly one hash made like the real ones (the
    time itself is not measured: no wall-clock thresholds in tests)."""
    checked = []
    real_check = accounts.check_password_hash

    def counting_check(pwhash, password):
        checked.append(pwhash.split("$")[0])
        return real_check(pwhash, password)

    monkeypatch.setattr(accounts, "check_password_hash", counting_check)
    auth.login("nobody-here", "Wrong-Passw0rd")
    auth.login("viewer1", "Wrong-Passw0rd")
    assert len(checked) == 2
    assert checked[0] == checked[1] == users["viewer"].password_hash.split("$")[0]


def test_failed_sign_ins_are_throttled_per_client_address(make_app):
    app = make_app()
    with app.app_context():
        from .factories import make_user

        make_user("viewer1", "viewer")
    client = app.test_client()
    for i in range(10):
        response = client.post("/login", data={"username": f"guess{i}", "password": "x"})
        assert response.status_code == 401
    # The 11th failure within the minute, even with the right password: 429, in Chinese.
    response = client.post("/login", data={"username": "viewer1", "password": PASSWORD})
    assert response.status_code == 429
    page = response.get_data(as_text=True)
    assert "登录失败次数过多" in page and "Content-Security-Policy" in response.headers
    client.get("/lang/en")
    response = client.post("/login", data={"username": "viewer1", "password": PASSWORD})
    assert response.status_code == 429
    assert "Too many failed sign-ins" in response.get_data(as_text=True)
    assert client.get("/login").status_code == 200  # the form itself still opens
    # Another address is not held back by this one.
    elsewhere = app.test_client()
    response = elsewhere.post("/login", data={"username": "viewer1", "password": PASSWORD},
                              environ_base={"REMOTE_ADDR": "127.0.0.2"})
    assert response.status_code == 302


def test_successful_sign_ins_do_not_count_against_the_throttle(client, auth, users):
    for _ in range(15):
        assert auth.login("viewer1").status_code == 302
        auth.logout()
    assert auth.login("viewer1", "Wrong-Passw0rd").status_code == 401


def _redis_or_skip():
    redis = pytest.importorskip("redis")
    connection = redis.Redis.from_url(REDIS_URL)
    try:
        connection.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("no Redis at 127.0.0.1:6379")
    return connection


def test_the_throttle_is_shared_through_redis_when_configured(make_app):
    """Two apps (two workers) on one Redis share the count; only this test's keys are
    removed afterwards."""
    connection = _redis_or_skip()
    prefix = f"fleet-test-{uuid.uuid4().hex}"
    config = {"REDIS_URL": REDIS_URL, "LOGIN_THROTTLE_PREFIX": prefix,
              "LOGIN_THROTTLE": "3 per minute"}
    try:
        first = make_app(**config)
        assert first.config["RATELIMIT_STORAGE_URI"] == REDIS_URL
        for i in range(3):
            response = first.test_client().post("/login", data={"username": f"guess{i}",
                                                                 "password": "x"})
            assert response.status_code == 401
        keys = list(connection.scan_iter(match=f"*{prefix}*"))
        assert keys, "the throttle's counts are in Redis"
        second = make_app(**config)  # another worker: the same count applies
        response = second.test_client().post("/login", data={"username": "guess",
                                                              "password": "x"})
        assert response.status_code == 429
    finally:
        for key in connection.scan_iter(match=f"*{prefix}*"):
            connection.delete(key)
    assert not list(connection.scan_iter(match=f"*{prefix}*"))


def test_the_throttle_counts_in_memory_by_default(app):
    assert app.config["RATELIMIT_STORAGE_URI"] == "memory://"


def test_an_admin_unlocks_a_locked_account(client, auth, users):
    for _ in range(5):
        auth.login("ministry1", "Wrong-Passw0rd")
    assert user("ministry1").locked_until is not None
    assert auth.login("admin1").status_code == 302
    page = client.get("/admin/users").get_data(as_text=True)
    target = user("ministry1")
    assert f"/admin/users/{target.id}/unlock" in page and "解锁" in page
    response = client.post(f"/admin/users/{target.id}/unlock", follow_redirects=True)
    assert "已解锁" in response.get_data(as_text=True)
    assert user("ministry1").locked_until is None
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "user.unlock"))
    assert event.username == "admin1" and event.target_id == str(target.id)
    auth.logout()
    assert auth.login("ministry1").status_code == 302  # the owner is back in


def test_unlocking_an_unlocked_account_changes_nothing(client, auth, users):
    auth.login("admin1")
    response = client.post(f"/admin/users/{users['viewer'].id}/unlock", follow_redirects=True)
    assert "该账号未被锁定" in response.get_data(as_text=True)
    assert not db.session.scalars(select(AuditEvent)
                                  .where(AuditEvent.action == "user.unlock")).all()


def test_only_admins_unlock(client, auth, users):
    auth.login("ministry1")
    assert client.post(f"/admin/users/{users['viewer'].id}/unlock").status_code == 403


def test_a_list_of_common_passwords_ships_with_the_app():
    common = common_passwords()
    assert len(common) >= 10_000
    assert {"password", "123456", "qwerty", "p@ssw0rd", "dragon"} <= common


@pytest.mark.parametrize("password", ["Password123!", "P@ssw0rd2024", "Admin@123456",
                                      "QWERTY!2024", "Dragon-2026", "Adm1n!2024"])
def test_common_passwords_are_refused_whatever_the_case(password):
    with pytest.raises(DomainError) as refused:
        PasswordPolicy().check(password, "clerk")
    assert "common" in str(refused.value.message)


@pytest.mark.parametrize("password", ["Fresh-Harbour-73", "Sh3nzhen#Bus2026",
                                      "Test-Passw0rd!"])
def test_uncommon_passwords_pass(password):
    assert not is_common_password(password)
    PasswordPolicy().check(password, "clerk")


def test_the_user_name_rule_stays():
    with pytest.raises(DomainError):
        PasswordPolicy().check("Xq7-clerk-Harbour", "clerk")


def test_generated_passwords_are_never_common():
    policy = PasswordPolicy()
    for _ in range(50):
        candidate = policy.generate()
        policy.check(candidate)


def test_a_common_password_is_refused_on_the_password_form(client, auth, users):
    auth.login("viewer1")
    response = client.post("/account/password", data={
        "current_password": PASSWORD, "password": "Password123!", "confirm": "Password123!"})
    assert "最常见的密码" in response.get_data(as_text=True)
    auth.logout()
    assert auth.login("viewer1", "Password123!").status_code == 401


def test_sign_in_goes_on_when_the_redis_of_the_throttle_is_down(make_app):
    """A Redis that does not answer (nothing listens on port 1) never turns sign-in into a 500:
    the throttle counts in memory meanwhile."""
    app = make_app(REDIS_URL="redis://127.0.0.1:1/0")
    with app.app_context():
        from .factories import make_user

        make_user("viewer1", "viewer")
    client = app.test_client()
    assert client.post("/login", data={"username": "viewer1",
                                       "password": "Wrong-1"}).status_code == 401
    assert client.post("/login", data={"username": "viewer1",
                                       "password": PASSWORD}).status_code == 302
