"""Views of the inbox: list (newest first), mark read, the notices' language."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ..domain import notices
from ..domain.audit import record_event
from ..extensions import db
from ..web import current_actor, lang, signed_in_user
from ..web import unread_notices as unread_notices_of_user
from . import bp


@bp.app_context_processor
def unread_notices() -> dict:
    """The unread count of the navigation bar (one COUNT on an index)."""
    if not current_user.is_authenticated or current_user.must_change_password:
        return {"unread_notices": None}
    return {"unread_notices": unread_notices_of_user()}


@bp.route("/")
@login_required
def index():
    """The user's notices, newest first."""
    items = notices.inbox(db.session, current_user.id, lang())
    return render_template("inbox/index.html", items=items,
                           languages=(("zh", "中文"), ("en", "English")))


@bp.route("/<int:notice_id>/read", methods=["POST"])
@login_required
def mark_read(notice_id: int):
    """Mark one of the user's notices read (404 for anyone else's)."""
    if not notices.mark_read(db.session, current_user.id, notice_id):
        db.session.rollback()
        abort(404)
    db.session.commit()
    return redirect(url_for("inbox.index"))


@bp.route("/read-all", methods=["POST"])
@login_required
def mark_all_read():
    """Mark every notice of the user read."""
    notices.mark_read(db.session, current_user.id)
    db.session.commit()
    return redirect(url_for("inbox.index"))


@bp.route("/language", methods=["POST"])
@login_required
def set_language():
    """The language of the user's notices and e-mail (Chinese by default)."""
    code = request.form.get("language")
    if code not in ("zh", "en"):
        flash(_("Please choose Chinese or English."), "danger")
        return index(), 400
    user = signed_in_user()
    if user.language != code:
        record_event(db.session, current_actor(), "user.language", "user", user.id,
                     {"language": user.language}, {"language": code})
        user.language = code
        db.session.commit()
    flash(_("Notices and e-mail will be written in the language chosen."), "success")
    return redirect(url_for("inbox.index"))
