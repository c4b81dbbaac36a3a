"""The one-page briefing (简报): the .docx opened with python-docx and LibreOffice, its numbers
checked against the API's for the same basis and month; the print page; who may get it."""

import io
import re
import subprocess

import pytest
from docx import Document

from .progress_helpers import make_progress_fixture

Q = "?through=2025-03"


@pytest.fixture
def data(users):
    return make_progress_fixture()


def _text(document) -> str:
    parts = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            parts.extend(cell.text for cell in row.cells)
    return "\n".join(parts)


def _pct(value: float) -> str:
    return f"{value * 100:,.1f}%"


def _docx(client, query: str):
    response = client.get("/progress/briefing.docx" + query)
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment;")
    return response.data, Document(io.BytesIO(response.data))


@pytest.mark.parametrize("basis", ["reported", "verified"])
def test_docx_numbers_match_the_api(client, auth, data, basis):
    auth.login("ministry1")
    api = client.get(f"/api/v1/progress{Q}&basis={basis}").json
    n = api["national"]
    _, document = _docx(client, f"{Q}&basis={basis}")
    text = _text(document)
    assert "2025年3月" in document.paragraphs[0].text
    headline = [cell.text for cell in document.tables[0].rows[1].cells]
    assert headline == [f"{n['nev']:,}", _pct(n["pct_of_target"]),
                        _pct(n["window"]["elapsed_share"]),
                        f"{n['projection']['value']:,}"]
    assert ("已报送" if basis == "reported" else "已审核") in text
    # Leaders: the cities with a target, highest % of target first.
    ranked = sorted((c for c in api["cities"] if c["pct_of_target"] is not None),
                    key=lambda c: -c["pct_of_target"])
    standings = document.tables[1]
    rows = [[c.text for c in row.cells[:4]] for row in standings.rows[2:]]
    assert [r[:3] for r in rows if r[0]] == [
        [c["name_zh"], f"{c['nev']:,}", _pct(c["pct_of_target"])] for c in ranked]
    for c in api["by_category"]:
        if c["share_aim"] is not None:
            share = "—" if c["nev_share"] is None else _pct(c["nev_share"])
            assert f"{c['name_zh']} {share}" in text
    ratio = n["charging_per_nev"]
    assert f"{ratio:.2f}" in text
    assert document.inline_shapes  # the national chart


def test_late_and_missing_cities_of_the_month(client, auth, data):
    auth.login("viewer1")
    _, document = _docx(client, Q)
    late = next(p.text for p in document.paragraphs if p.text.startswith("2025年3月逾期报送"))
    missing = next(p.text for p in document.paragraphs if p.text.startswith("2025年3月未报"))
    assert "北京市" in late and "深圳市" not in late
    assert "深圳市" in missing and "无锡市" in missing and "天津市" not in missing


def test_english_briefing(client, auth, data):
    auth.login("ministry1")
    client.get("/lang/en")
    api = client.get("/api/v1/progress" + Q).json
    _, document = _docx(client, Q)
    assert document.paragraphs[0].text == "Pilot-city NEV progress briefing, Mar 2025"
    assert f"{api['national']['nev']:,}" in _text(document)


def _pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?![s\w])", pdf))


def test_libreoffice_renders_one_a4_page_for_all_25_cities(client, auth, users, tmp_path):
    from fleet.domain import demo
    from fleet.domain.audit import Actor
    from fleet.extensions import db

    demo.load_demo(db.session, Actor.system("test"), seed=7)
    db.session.commit()
    auth.login("ministry1")
    body, _ = _docx(client, "")
    (tmp_path / "briefing.docx").write_bytes(body)
    subprocess.run(["soffice", "--headless", f"-env:UserInstallation=file://{tmp_path}/lo",
                    "--convert-to", "pdf", "--outdir", str(tmp_path),
                    str(tmp_path / "briefing.docx")], check=True, capture_output=True,
                   timeout=180)
    pdf = (tmp_path / "briefing.pdf").read_bytes()
    assert _pages(pdf) == 1
    assert re.search(rb"/MediaBox\s*\[\s*0 0 595", pdf)  # A4: 595 × 842 points


def test_print_page_shows_the_same_content(client, auth, data):
    auth.login("ministry1")
    api = client.get("/api/v1/progress" + Q).json
    page = client.get("/progress/briefing" + Q).get_data(as_text=True)
    assert f"{api['national']['nev']:,}" in page
    assert "/static/css/briefing.css" in page  # its print style: one A4 page
    assert "@page { size: A4 portrait" in client.get("/static/css/briefing.css").get_data(
        as_text=True)
    assert 'id="briefing-leaders"' in page and 'data-city="440300"' in page
    assert "briefing.docx" in client.get("/progress/" + Q).get_data(as_text=True)


def test_who_gets_the_briefing(client, auth, data):
    for url in ("/progress/briefing", "/progress/briefing.docx"):
        assert client.get(url).status_code == 302  # signed out: to sign-in
    auth.login("shenzhen")
    for url in ("/progress/briefing", "/progress/briefing.docx"):
        assert client.get(url).status_code == 403
    auth.logout()
    for user in ("viewer1", "admin1"):
        auth.login(user)
        assert client.get("/progress/briefing.docx").status_code == 200
        auth.logout()
    auth.login("ministry1")
    assert client.get("/progress/briefing.docx?basis=all").status_code == 400
