"""The stamped scan (盖章扫描件): checked by content, stored outside static under the app's
name with its hash, served only to the city and the ministry/viewer/auditor roles as an
attachment, required before approval when the programme says so, never overwritten."""

import hashlib
import io
from pathlib import Path

import pytest
from matplotlib.figure import Figure
from PIL import Image
from sqlalchemy import func, select

from fleet.domain.programme import get_programme
from fleet.extensions import db
from fleet.models import Attachment, AuditEvent

from .returns_helpers import form_data, the_return, this_month


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), "red").save(out, "PNG")
    return out.getvalue()


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), "blue").save(out, "JPEG")
    return out.getvalue()


def pdf() -> bytes:
    out = io.BytesIO()
    Figure(figsize=(2, 2)).savefig(out, format="pdf")
    return out.getvalue()


@pytest.fixture
def submitted(client, auth, setup):
    """Shenzhen's return for this month, submitted through the form; signed in as Shenzhen."""
    auth.login("shenzhen")
    client.post(f"/returns/{this_month()}", data=form_data(0, "submit", bus_bev=3,
                                                           bus_all_new=3))
    ret = the_return()
    assert ret.status == "submitted"
    return ret


def _upload(client, data: bytes, name: str = "scan.pdf"):
    return client.post(f"/returns/{this_month()}/scans",
                       data={"file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


@pytest.mark.parametrize("make,kind", [(pdf, "pdf"), (jpeg, "jpeg"), (png, "png")])
def test_city_attaches_a_scan_kept_outside_static_with_its_hash(client, app, submitted,
                                                                make, kind):
    body = make()
    response = _upload(client, body, "whatever.name")  # the name is never trusted
    assert response.status_code == 302
    scan = db.session.scalar(select(Attachment))
    assert (scan.kind, scan.size, scan.sha256) == (kind, len(body),
                                                   hashlib.sha256(body).hexdigest())
    assert scan.uploaded_by_id is not None and scan.revision_number == 1
    stored = Path(app.instance_path) / "attachments" / scan.stored_name
    assert stored.read_bytes() == body and "whatever" not in scan.stored_name
    assert not list(Path(app.static_folder).rglob(scan.stored_name))
    assert db.session.scalar(select(AuditEvent).where(
        AuditEvent.action == "attachment.upload")).after["sha256"] == scan.sha256
    download = client.get(f"/returns/{this_month()}/scans/{scan.id}")
    assert download.status_code == 200 and download.data == body
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert download.headers["Content-Disposition"] == (
        f'attachment; filename="fleet-scan-440300-{this_month()}-1-{scan.id}.'
        f'{ {"pdf": "pdf", "jpeg": "jpg", "png": "png"}[kind] }"')
    assert f'data-scan="{scan.id}"' in client.get(
        f"/returns/{this_month()}").get_data(as_text=True)


@pytest.mark.parametrize("body,message", [
    (b"hello, not a scan", "PDF、JPEG 或 PNG"),
    (b"<html><script>alert(1)</script></html>", "PDF、JPEG 或 PNG"),
    (b"%PDF-1.4\n1 0 obj << >> endobj\n", "缺少文件尾"),
    (b"", "文件为空"),
])
def test_files_are_checked_by_content(client, submitted, body, message):
    response = _upload(client, body, "scan.png")
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Attachment.id))) == 0


def test_truncated_image_and_oversize_are_refused(client, app, submitted):
    assert _upload(client, png()[:60]).status_code == 400
    assert _upload(client, jpeg()[:200]).status_code == 400
    big = png() + b"\0" * (10 * 1024 * 1024)  # just over 10 MB, within the request limit
    response = _upload(client, big)
    assert response.status_code == 400 and "10 MB" in response.get_data(as_text=True)
    assert _upload(client, b"\0" * (11 * 1024 * 1024)).status_code == 413
    assert db.session.scalar(select(func.count(Attachment.id))) == 0
    folder = Path(app.instance_path) / "attachments"
    assert not folder.exists() or not any(folder.iterdir())


def test_only_after_submitting(client, auth, setup):
    auth.login("shenzhen")
    client.post(f"/returns/{this_month()}", data=form_data(0, "save", bus_bev=1,
                                                           bus_all_new=1))
    response = _upload(client, pdf())
    assert response.status_code == 400 and "请先报送" in response.get_data(as_text=True)


def test_who_reads_a_scan(client, auth, submitted, users):
    _upload(client, pdf())
    scan = db.session.scalar(select(Attachment))
    ret = the_return()
    auth.logout()
    review_url = f"/review/returns/{ret.id}/scans/{scan.id}"
    for name in ("ministry1", "viewer1"):
        auth.login(name)
        response = client.get(review_url)
        assert response.status_code == 200 and response.headers[
            "Content-Disposition"].startswith("attachment;")
        auth.logout()
    auth.login("admin1")
    assert client.get(review_url).status_code == 403
    auth.logout()
    auth.login("beijing")  # another city: neither route gives it
    assert client.get(review_url).status_code == 403
    assert client.get(f"/returns/{this_month()}/scans/{scan.id}").status_code == 404
    assert _upload(client, pdf()).status_code == 404  # Beijing has no return to attach to
    auth.logout()
    assert client.get(f"/returns/{this_month()}/scans/{scan.id}").status_code == 302


def test_required_before_approval_and_resubmission_keeps_earlier_copies(client, auth,
                                                                        submitted):
    get_programme(db.session).attachment_required = True
    db.session.commit()
    ret = the_return()
    auth.logout()
    auth.login("ministry1")
    page = client.get(f"/review/returns/{ret.id}").get_data(as_text=True)
    assert 'id="scan-status" data-attached="0"' in page and "审核通过前必须上传" in page
    client.post(f"/review/returns/{ret.id}/approve", data={"version": ret.version})
    assert the_return().status == "submitted"  # refused: no scan
    client.post(f"/review/returns/{ret.id}/send-back", data={"version": ret.version,
                                                             "reason": "请附盖章件"})
    auth.logout()

    auth.login("shenzhen")
    ret = the_return()
    client.post(f"/returns/{this_month()}", data=form_data(ret.version, "submit", bus_bev=3,
                                                           bus_all_new=3))
    assert _upload(client, pdf()).status_code == 302
    first = db.session.scalar(select(Attachment))
    ret = the_return()
    auth.logout()
    auth.login("ministry1")
    page = client.get(f"/review/returns/{ret.id}").get_data(as_text=True)
    assert 'data-attached="1"' in page and f"/scans/{first.id}" in page
    # A correction after approval needs a new scan; the old one stays.
    client.post(f"/review/returns/{ret.id}/approve", data={"version": ret.version})
    ret = the_return()
    assert ret.status == "approved"
    client.post(f"/review/returns/{ret.id}/reopen", data={"version": ret.version,
                                                          "reason": "更正"})
    auth.logout()
    auth.login("shenzhen")
    ret = the_return()
    client.post(f"/returns/{this_month()}", data=form_data(ret.version, "submit", bus_bev=4,
                                                           bus_all_new=4))
    assert _upload(client, png()).status_code == 302
    scans = db.session.scalars(select(Attachment).order_by(Attachment.id)).all()
    assert [s.revision_number for s in scans] == [2, 3]
    assert client.get(f"/returns/{this_month()}/scans/{first.id}").status_code == 200
