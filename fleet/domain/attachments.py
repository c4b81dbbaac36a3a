"""The stamped copy (盖章扫描件): the scan of the printed, signed and sealed return.

A city attaches it after submitting. The file is checked by its content, never its name: the
magic bytes, then a successful parse (Pillow for JPEG and PNG; for a PDF, its header, an
end-of-file marker and a cross-reference trailer). It is stored outside the static folder
under a name the app chooses, with its SHA-256, size, uploader and time. Nothing is ever
overwritten: each upload is a new file and row, tied to the submission it belongs to, so a
corrected resubmission keeps the earlier copies.
"""

import hashlib
import io
import secrets
from datetime import datetime
from pathlib import Path

from flask_babel import lazy_gettext as _l
from PIL import Image, UnidentifiedImageError
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Attachment, City, MonthlyReturn, utcnow
from .audit import Actor, record_event
from .errors import DomainError, NotAllowed
from .returns import can_edit, current_revision_number

MAX_BYTES = 10 * 1024 * 1024
KINDS = {"pdf": "application/pdf", "jpeg": "image/jpeg", "png": "image/png"}
EXTENSIONS = {"pdf": "pdf", "jpeg": "jpg", "png": "png"}
# Who reads the scans besides the city itself. Admins manage accounts, not returns.
READERS = ("ministry", "viewer", "auditor", "system")
# Pillow refuses images above this many pixels (a decompression bomb in a small file).
MAX_PIXELS = 60_000_000


class BadScan(DomainError):
    """The file is not a readable PDF, JPEG or PNG (or too large); nothing was stored."""


def _pdf_ok(data: bytes) -> bool:
    if not data.startswith(b"%PDF-1.") and not data.startswith(b"%PDF-2."):
        return False
    tail = data[-2048:]
    return b"%%EOF" in tail and b"startxref" in tail and (
        b"trailer" in data[-65536:] or b"/XRef" in data or b"/Root" in data)


def _image_kind(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        expected = "PNG"
    elif data.startswith(b"\xff\xd8\xff"):
        expected = "JPEG"
    else:
        return None
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format != expected or image.width * image.height > MAX_PIXELS:
                return None
            image.verify()
        with Image.open(io.BytesIO(data)) as image:
            image.load()  # verify() does not decode; a truncated image fails here
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError,
            Image.DecompressionBombError):
        return None
    return expected.lower()


def check_scan(data: bytes) -> str:
    """'pdf', 'jpeg' or 'png' from the content; BadScan with a clear message otherwise."""
    if not data:
        raise BadScan(_l("The file is empty."), "file")
    if len(data) > MAX_BYTES:
        raise BadScan(_l("The scan is larger than 10 MB; please scan at a lower resolution."),
                      "file")
    if data.startswith(b"%PDF-"):
        if _pdf_ok(data):
            return "pdf"
        raise BadScan(_l("This PDF is damaged or incomplete (no trailer); please save it "
                         "again."), "file")
    kind = _image_kind(data)
    if kind is None:
        raise BadScan(_l("The scan must be a PDF, JPEG or PNG file that opens correctly."),
                      "file")
    return kind


def can_read(actor: Actor, city: City) -> bool:
    """The city's own users, and the ministry, viewers and auditors."""
    if actor.role == "city":
        return actor.city_id == city.id
    return actor.role in READERS


def folder(configured: str, instance_path: str) -> Path:
    """Where scans are stored: the setting, or instance/attachments."""
    return Path(configured) if configured else Path(instance_path) / "attachments"


def attach_scan(session: Session, actor: Actor, ret: MonthlyReturn, data: bytes,
                store: Path, *, now: datetime | None = None) -> Attachment:
    """Keep a new scan of the return's current submission. The caller commits.

    Refused (BadScan, NotAllowed, DomainError) before anything is written.
    """
    if not can_edit(actor, ret.city):
        raise NotAllowed(_l("Your account is not allowed to do this."))
    if ret.status not in ("submitted", "approved"):
        raise DomainError(_l("Submit the return first; then attach the scan of the printed, "
                             "signed and sealed return."), "file")
    kind = check_scan(data)
    digest = hashlib.sha256(data).hexdigest()
    stored_name = secrets.token_hex(16)
    store.mkdir(parents=True, exist_ok=True)
    with open(store / stored_name, "xb") as fh:  # 'x': never overwrite a file
        fh.write(data)
    attachment = Attachment(return_id=ret.id,
                            revision_number=current_revision_number(session, ret),
                            stored_name=stored_name, kind=kind, sha256=digest, size=len(data),
                            uploaded_by_id=actor.user_id, uploaded_at=now or utcnow())
    session.add(attachment)
    session.flush()
    record_event(session, actor, "attachment.upload", "return", ret.id, None,
                 {"attachment": attachment.id, "sha256": digest, "size": len(data),
                  "kind": kind, "submission": attachment.revision_number},
                 detail=f"{ret.city.code} {ret.period}")
    return attachment


def scans_of(session: Session, ret: MonthlyReturn) -> list[Attachment]:
    """Every scan of the return, newest first."""
    return list(session.scalars(select(Attachment).where(Attachment.return_id == ret.id)
                                .order_by(Attachment.id.desc())))


def read_scan(store: Path, attachment: Attachment) -> bytes:
    """The stored bytes, checked against the recorded SHA-256."""
    data = (store / attachment.stored_name).read_bytes()
    if hashlib.sha256(data).hexdigest() != attachment.sha256:
        raise DomainError(_l("The stored scan does not match its recorded checksum."))
    return data


def download_name(attachment: Attachment, city: City, period: str) -> str:
    """A fixed name chosen by the app (never the uploader's)."""
    return (f"fleet-scan-{city.code}-{period}-{attachment.revision_number}-{attachment.id}."
            f"{EXTENSIONS[attachment.kind]}")
