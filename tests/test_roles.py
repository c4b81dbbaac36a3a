"""Roles and scoping: who may open what."""

import pytest

ADMIN_PAGES = ["/admin/users", "/admin/users/new", "/admin/cities", "/admin/cities/440300",
               "/admin/programme"]


def test_anonymous_user_is_sent_to_sign_in(client, users):
    for url in ADMIN_PAGES + ["/"]:
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"], url


@pytest.mark.parametrize("role", ["city", "ministry", "viewer", "auditor"])
def test_only_admins_open_admin_pages(client, auth, users, role):
    auth.login(users[role].username)
    for url in ADMIN_PAGES:
        assert client.get(url).status_code == 403, url
    response = client.post("/admin/programme", data={
        "national_target": "1", "first_period": "2025-01", "last_period": "2026-12",
        "due_day": "10"})
    assert response.status_code == 403
    page = client.get("/admin/users").get_data(as_text=True)
    assert "无权" in page
    from sqlalchemy import select

    from fleet.extensions import db
    from fleet.models import AuditEvent

    refused = db.session.scalars(select(AuditEvent)
                                 .where(AuditEvent.action == "access.denied")).all()
    assert refused and all(e.username == users[role].username for e in refused)
    assert "POST /admin/programme" in " ".join(e.detail for e in refused)


def test_admin_opens_every_admin_page(client, auth, users):
    auth.login("admin1")
    for url in ADMIN_PAGES:
        assert client.get(url).status_code == 200, url


def test_unknown_page_is_a_friendly_404(client, auth, users):
    auth.login("admin1")
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "页面不存在" in response.get_data(as_text=True)
