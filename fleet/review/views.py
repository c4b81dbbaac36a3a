"""Views of the ministry's review."""

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from .. import downloads
from ..domain import attachments, returns
from ..domain.audit import readable, recent_events
from ..domain.errors import DomainError
from ..domain.programme import due_date, get_programme
from ..domain.rules import field_label
from ..extensions import db
from ..models import Attachment, MonthlyReturn
from ..web import current_actor, form_status, format_period_for_user, lang, roles_required
from . import bp
from .forms import ReviewForm


@bp.route("/")
@roles_required("ministry")
def queue():
    """Submitted returns waiting for review, oldest first, with their warnings."""
    items = returns.review_queue(db.session)
    return render_template("review/queue.html", items=items,
                           label=lambda name: field_label(name, lang()))


def _load(return_id: int) -> MonthlyReturn:
    ret = db.session.scalar(select(MonthlyReturn).where(MonthlyReturn.id == return_id)
                            .options(selectinload(MonthlyReturn.lines)))
    if ret is None:
        abort(404)
    return ret


@bp.route("/returns/<int:return_id>")
@roles_required("ministry", "viewer", "admin")
def detail(return_id: int):
    """A return's numbers, warnings, revisions with their changes, and its history."""
    ret = _load(return_id)
    return _detail_page(ret, ReviewForm(version=str(ret.version), formdata=None))


def _detail_page(ret: MonthlyReturn, form: ReviewForm):
    """The review page; 422 when it shows a submitted review form with errors."""
    revisions = returns.revisions_of(db.session, ret)
    changes = {newer.number: returns.revision_changes(older, newer)
               for older, newer in zip(revisions, revisions[1:], strict=False)}
    history = readable(db.session, recent_events(db.session, target_type="return",
                                                 target_id=str(ret.id)), lang())
    return render_template(
        "review/detail.html", ret=ret, values=returns.values_of(ret), revisions=revisions,
        changes=changes, history=history, form=form,
        warnings=returns.current_warnings(db.session, ret),
        due=due_date(get_programme(db.session), ret.period),
        label=lambda name: field_label(name, lang()),
        scans=attachments.scans_of(db.session, ret),
        scan_attached=returns.scan_attached(db.session, ret),
        scan_required=get_programme(db.session).attachment_required), form_status(form)


def _act(return_id: int, action, success_message, needs_reason: bool):
    ret = _load(return_id)
    form = ReviewForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        version = int(form.version.data)
    except (TypeError, ValueError):
        version = -1  # a form without its version never overwrites blindly
    try:
        if needs_reason:
            action(db.session, current_actor(), ret, form.reason.data, version)
        else:
            action(db.session, current_actor(), ret, version)
    except DomainError as error:
        db.session.rollback()
        if error.field == "reason":  # the reviewer's input: shown next to it, 422
            form.reason.errors.append(error.message)
            return _detail_page(_load(return_id), form)
        flash(error.message, "danger")
        return redirect(url_for("review.detail", return_id=return_id))
    db.session.commit()
    flash(success_message(ret), "success")
    return redirect(url_for("review.queue"))


def _name(ret: MonthlyReturn) -> dict:
    return {"city": ret.city.name(lang()), "month": format_period_for_user(ret.period)}


@bp.route("/returns/<int:return_id>/approve", methods=["POST"])
@roles_required("ministry")
def approve(return_id: int):
    """Approve a submitted return (it is then locked)."""
    return _act(return_id, returns.approve_return,
                lambda r: _("Approved: %(city)s, %(month)s.", **_name(r)), needs_reason=False)


@bp.route("/returns/<int:return_id>/send-back", methods=["POST"])
@roles_required("ministry")
def send_back(return_id: int):
    """Send a submitted return back to the city, with the reason."""
    return _act(return_id, returns.send_back,
                lambda r: _("Sent back to %(city)s: %(month)s.", **_name(r)), needs_reason=True)


@bp.route("/returns/<int:return_id>/reopen", methods=["POST"])
@roles_required("ministry")
def reopen(return_id: int):
    """Reopen an approved return so the city can correct it, with the reason."""
    return _act(return_id, returns.reopen_return,
                lambda r: _("Reopened for %(city)s: %(month)s.", **_name(r)), needs_reason=True)


@bp.route("/returns/<int:return_id>/scans/<int:scan_id>")
@roles_required("ministry", "viewer", "auditor")
def scan(return_id: int, scan_id: int):
    """A stamped scan of the return, as a download (ministry, viewers, auditors)."""
    ret = _load(return_id)
    found = db.session.scalar(select(Attachment).where(Attachment.id == scan_id,
                                                       Attachment.return_id == ret.id))
    if found is None:
        abort(404)
    return downloads.scan_response(found, ret.city, ret.period)
