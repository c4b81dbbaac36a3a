"""Chinese first, English available; the catalog is complete and compiled."""

from pathlib import Path

from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from fleet.domain.periods import format_period

CATALOG = Path(__file__).parent.parent / "fleet/translations/zh/LC_MESSAGES"


def test_pages_render_in_both_languages(client, auth, users):
    auth.login("admin1")
    zh = client.get("/admin/users").get_data(as_text=True)
    assert "用户管理" in zh and 'lang="zh-CN"' in zh
    client.get("/lang/en")
    en = client.get("/admin/users").get_data(as_text=True)
    assert "Users" in en and "用户管理" not in en and 'lang="en"' in en
    client.get("/lang/zh")
    assert "用户管理" in client.get("/admin/users").get_data(as_text=True)


def test_language_switch_returns_to_the_page(client):
    response = client.get("/lang/en?next=/login")
    assert response.headers["Location"] == "/login"
    assert "Sign in" in client.get("/login").get_data(as_text=True)
    assert client.get("/lang/fr").status_code == 404


def test_every_message_has_a_chinese_translation_and_is_compiled():
    with (CATALOG / "messages.po").open("rb") as fh:
        po = read_po(fh)
    with (CATALOG / "messages.mo").open("rb") as fh:
        mo = read_mo(fh)
    untranslated = [m.id for m in po if m.id and not m.string]
    assert untranslated == []
    compiled = {m.id: m.string for m in mo if m.id}
    assert compiled == {m.id: m.string for m in po if m.id}, \
        "run python scripts/i18n.py to compile the catalog"


def test_months_read_naturally_in_each_language():
    assert format_period("2025-09", "zh") == "2025年9月"
    assert format_period("2025-09", "en") == "Sep 2025"


def test_assets_are_served_by_the_app(client):
    page = client.get("/login").get_data(as_text=True)
    assert "cdn" not in page.lower() and "https://" not in page
    assert client.get("/bootstrap/static/css/bootstrap.min.css").status_code == 200
    assert client.get("/static/css/fleet.css").status_code == 200
