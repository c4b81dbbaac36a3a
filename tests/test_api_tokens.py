"""API tokens: made on the account page or by the CLI, shown once, stored as a hash, expiring,
revocable (by their owner or an admin); a Bearer token acts as its user, without CSRF or a
session cookie, within a per-token rate limit."""

import hashlib
import re
from datetime import timedelta

from sqlalchemy import select

from fleet.extensions import db
from fleet.models import ApiToken, AuditEvent, User

from .api_helpers import bearer, body, token_for
from .returns_helpers import this_month

PUT_URL = "/api/v1/returns/440300/{}"


def test_a_user_creates_a_token_on_the_account_page_shown_once(client, auth, setup):
    auth.login("shenzhen")
    page = client.post("/account/tokens", data={"name": "公交公司系统", "expires_days": "30"})
    assert page.status_code == 200 and "no-store" in page.headers["Cache-Control"]
    secret = re.search(r"flt_[A-Za-z0-9_\-]{40,}", page.get_data(as_text=True)).group(0)
    token = db.session.scalar(select(ApiToken))
    assert token.name == "公交公司系统" and secret not in (token.token_hash, token.prefix)
    assert token.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert timedelta(days=29) < token.expires_at - token.created_at <= timedelta(days=30)
    listing = client.get("/account/tokens").get_data(as_text=True)
    assert "公交公司系统" in listing and secret not in listing  # never shown again
    auth.logout()
    assert client.get(f"/api/v1/returns/440300/{this_month()}",
                      headers=bearer(secret)).status_code == 200


def test_token_names_and_lifetimes_are_checked(client, auth, setup):
    auth.login("shenzhen")
    for data in ({"name": "", "expires_days": "30"}, {"name": "x", "expires_days": "366"},
                 {"name": "x", "expires_days": "0"}):
        page = client.post("/account/tokens", data=data)
        assert "flt_" not in page.get_data(as_text=True)
    assert db.session.scalar(select(ApiToken)) is None


def test_bad_revoked_and_expired_tokens_and_disabled_users_get_401(client, setup):
    url = f"/api/v1/returns/440300/{this_month()}"
    secret = token_for(setup["city"])
    assert client.get(url, headers=bearer(secret)).status_code == 200
    for wrong in ("flt_nope", "", secret + "x", secret.upper()):
        response = client.get(url, headers=bearer(wrong))
        assert response.status_code == 401 and response.mimetype == "application/problem+json"
    token = db.session.scalar(select(ApiToken))
    token.expires_at = token.created_at - timedelta(seconds=1)
    db.session.commit()
    assert client.get(url, headers=bearer(secret)).status_code == 401
    second = token_for(setup["city"], "second")
    user = db.session.get(User, setup["city"].id)
    user.active = False
    db.session.commit()
    assert client.get(url, headers=bearer(second)).status_code == 401  # at once
    user.active = True
    db.session.commit()
    assert client.get(url, headers=bearer(second)).status_code == 200


def test_owners_and_admins_revoke_tokens_others_cannot(client, auth, setup):
    url = f"/api/v1/returns/440300/{this_month()}"
    mine, other = token_for(setup["city"], "mine"), token_for(setup["city"], "other")
    ids = {t.name: t.id for t in db.session.scalars(select(ApiToken))}
    auth.login("beijing")  # another user cannot see or revoke it
    assert client.post(f"/account/tokens/{ids['mine']}/revoke").status_code == 404
    assert client.get("/admin/tokens").status_code == 403
    auth.logout()
    auth.login("shenzhen")
    client.post(f"/account/tokens/{ids['mine']}/revoke")
    assert client.get(url, headers=bearer(mine)).status_code == 401
    auth.logout()
    auth.login("admin1")
    listing = client.get("/admin/tokens").get_data(as_text=True)
    assert "shenzhen" in listing and "other" in listing
    client.post(f"/admin/tokens/{ids['other']}/revoke")
    assert client.get(url, headers=bearer(other)).status_code == 401
    revokes = db.session.scalars(select(AuditEvent.username).where(
        AuditEvent.action == "token.revoke").order_by(AuditEvent.id)).all()
    assert revokes == ["shenzhen", "admin1"]


def test_token_requests_need_no_csrf_and_set_no_cookie_sessions_keep_csrf(make_app, setup):
    app = make_app(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    secret = token_for(setup["city"])
    url = PUT_URL.format(this_month())
    response = client.put(url, headers=bearer(secret, 0), json=body(bus_bev=1, bus_all_new=1))
    assert response.status_code == 200 and "Set-Cookie" not in response.headers
    assert client.get(url, headers=bearer(secret)).headers.get("Set-Cookie") is None
    # A browser session through the API: CSRF as for any form.
    page = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    client.post("/login", data={"username": "shenzhen", "password": "Test-Passw0rd!",
                                "csrf_token": csrf})
    page = client.get("/account/tokens").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    refused = client.put(url, headers={"If-Match": '"1"'}, json=body())
    assert refused.status_code == 400 and refused.mimetype == "application/problem+json"
    allowed = client.put(url, headers={"If-Match": '"1"', "X-CSRFToken": csrf}, json=body())
    assert allowed.status_code == 200


def test_a_token_is_rate_limited_on_its_own_with_retry_after(make_app, setup):
    app = make_app(API_RATE_LIMIT="3 per minute")
    client = app.test_client()
    url = f"/api/v1/returns/440300/{this_month()}"
    first, second = token_for(setup["city"], "a"), token_for(setup["city"], "b")
    assert [client.get(url, headers=bearer(first)).status_code for _ in range(3)] == [200] * 3
    limited = client.get(url, headers=bearer(first))
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    assert limited.mimetype == "application/problem+json"
    assert client.get(url, headers=bearer(second)).status_code == 200


def test_last_use_is_recorded(client, setup):
    secret = token_for(setup["city"])
    client.get("/api/v1/progress", headers=bearer(secret))
    token = db.session.scalar(select(ApiToken))
    assert token.last_used_at is not None and token.last_used_ip == "127.0.0.1"


def test_cli_creates_a_token(runner, setup):
    result = runner.invoke(args=["fleet", "create-token", "shenzhen", "--name", "ERP",
                                 "--expires-days", "365"])
    assert result.exit_code == 0, result.output
    secret = result.stdout.strip().splitlines()[-1]
    token = db.session.scalar(select(ApiToken))
    assert token.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert token.name == "ERP" and token.user.username == "shenzhen"
    too_long = runner.invoke(args=["fleet", "create-token", "shenzhen", "--expires-days", "400"])
    assert too_long.exit_code != 0
    assert runner.invoke(args=["fleet", "create-token", "nobody"]).exit_code != 0


def test_with_redis_the_limit_is_shared_by_every_node(make_app, setup):
    """Two apps (two web nodes) on one Redis count a token's requests together."""
    import uuid

    import redis

    url = "redis://127.0.0.1:6379/15"
    try:
        redis.Redis.from_url(url).ping()
    except redis.exceptions.ConnectionError:
        import pytest

        pytest.skip("no Redis at 127.0.0.1:6379")
    config = {"REDIS_URL": url, "API_RATE_LIMIT": "3 per minute",
              "RATELIMIT_KEY_PREFIX": f"fleet-test-{uuid.uuid4().hex}"}
    nodes = [make_app(**config).test_client(), make_app(**config).test_client()]
    secret = token_for(setup["city"])
    path = f"/api/v1/returns/440300/{this_month()}"
    codes = [nodes[i % 2].get(path, headers=bearer(secret)).status_code for i in range(4)]
    assert codes == [200, 200, 200, 429]
