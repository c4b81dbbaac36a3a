"""The city's stamped scans (盖章扫描件): attach after submitting, and download its own."""

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from .. import downloads
from ..domain import attachments, returns
from ..domain.errors import DomainError
from ..extensions import db
from ..models import Attachment
from ..web import current_actor, period_or_404, refuse, roles_required
from . import bp


@bp.url_value_preprocessor
def allow_large_scans(endpoint, _values):
    """A scan may be up to 10 MB; other uploads keep MAX_CONTENT_LENGTH. Set before CSRF
    protection reads the form (url_value_preprocessors run before before_request)."""
    if endpoint == "returns.attach_scan":
        # The multipart envelope adds a little around the file itself.
        request.max_content_length = current_app.config["ATTACHMENT_MAX_BYTES"] + 64 * 1024


@bp.route("/returns/<period>/scans", methods=["POST"])
@roles_required("city")
def attach_scan(period: str):
    """Attach the scan of the printed, signed and sealed return to the current submission."""
    period = period_or_404(period)
    ret = returns.find_return(db.session, current_user.city, period)  # own city only
    if ret is None:
        abort(404)
    upload = request.files.get("file")
    data = upload.read() if upload else b""
    try:
        scan = attachments.attach_scan(db.session, current_actor(), ret, data,
                                       downloads.scan_store())
    except DomainError as error:
        db.session.rollback()
        return render_template("returns/scan_refused.html", message=error.message,
                               period=period), 400
    db.session.commit()
    flash(_("The stamped scan was attached (%(size)s bytes, SHA-256 %(sha)s…).",
            size=f"{scan.size:,}", sha=scan.sha256[:12]), "success")
    return redirect(url_for("returns.edit", period=period))


@bp.route("/returns/<period>/scans/<int:scan_id>")
@roles_required("city")
def scan(period: str, scan_id: int):
    """One of the city's own scans, as a download."""
    period = period_or_404(period)
    ret = returns.find_return(db.session, current_user.city, period)
    found = ret and db.session.scalar(select(Attachment).where(
        Attachment.id == scan_id, Attachment.return_id == ret.id))
    if not found:
        refuse(404)  # another city's scan, or none: the same answer, audited
    return downloads.scan_response(found, ret.city, period)
