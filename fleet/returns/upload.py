"""The city's Excel round trip: the blank template of a month, its upload (a dry run that
saves nothing), then the confirmation that saves the checked values into the draft."""

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from itsdangerous import BadSignature, URLSafeTimedSerializer

from ..domain import returns
from ..domain.audit import month_target, record_event
from ..domain.errors import DomainError, StaleData
from ..domain.excel.template import build_return_template
from ..domain.excel.upload import UploadRejected, apply_upload, preview_upload
from ..domain.programme import get_programme
from ..domain.rules import field_label
from ..extensions import db
from ..web import (
    XLSX,
    attachment,
    current_actor,
    format_period_for_user,
    lang,
    period_or_404,
    roles_required,
)
from . import bp
from .forms import ConfirmForm, UploadForm

# A dry run may be confirmed within this time; after it, upload the file again.
CONFIRM_MAX_AGE = 3600


@bp.route("/returns/<period>/template.xlsx")
@roles_required("city")
def template(period: str):
    """The blank return template of the user's own city for the month."""
    period = period_or_404(period)
    problems = returns.period_problems(get_programme(db.session), period)
    if problems:
        flash(problems[0].message, "danger")
        return redirect(url_for("returns.edit", period=period))
    city = current_user.city
    return attachment(build_return_template(city, period, lang()), XLSX,
                      f"fleet-template-{city.code}-{period}.xlsx",
                      record=("month", month_target(city.code, period)))


# --- upload -------------------------------------------------------------------------------------

def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="fleet.excel.upload")


def _sign(preview, city, period: str) -> str:
    """The checked values travel in the confirm form, signed, so no file is kept on the server;
    on confirmation they go through every rule again."""
    parsed = preview.parsed
    return _serializer().dumps({
        "user": current_user.id, "city": city.code, "period": period,
        "values": preview.values, "cells": parsed.cells, "version": preview.version,
        "source": f"{parsed.filename[:100]} sha256:{parsed.sha256[:16]}"})


def _unsign(token: str, city, period: str) -> dict | None:
    try:
        payload = _serializer().loads(token or "", max_age=CONFIRM_MAX_AGE)
    except BadSignature:
        return None
    if (payload.get("user"), payload.get("city"), payload.get("period")) != (
            current_user.id, city.code, period):
        return None
    return payload


@bp.route("/returns/<period>/upload", methods=["GET", "POST"])
@roles_required("city")
def upload(period: str):
    """Upload a filled template; the dry run shows what would change, and saves nothing."""
    period = period_or_404(period)
    city = current_user.city  # always the user's own city, whatever the request says
    form = UploadForm()
    ret = returns.find_return(db.session, city, period)
    error = None
    if form.validate_on_submit():
        upload_file = form.file.data
        try:
            preview = preview_upload(db.session, current_actor(), city, period,
                                     upload_file.read(), upload_file.filename or "")
        except DomainError as refused:
            error = refused.message
        else:
            confirm = ConfirmForm(token=_sign(preview, city, period)) if preview.ok else None
            if not preview.ok:
                db.session.rollback()
                _audit_upload("return.invalid", city, period, upload_file.filename,
                              [str(p) for p in preview.errors])
            return render_template("returns/upload_preview.html", preview=preview, confirm=confirm,
                                   form=UploadForm(formdata=None), period=period, city=city,
                                   ret=ret, label=lambda name: field_label(name, lang())
                                   ), (200 if preview.ok else 422)
        finally:
            db.session.rollback()  # a dry run: nothing of it is kept
    elif request.method == "POST":
        error = "; ".join(str(e) for e in form.file.errors) or _("Please choose the file to "
                                                                  "upload.")
    if error:
        name = getattr(form.file.data, "filename", None)
        _audit_upload("upload.refused", city, period, name, [str(error)])
    return render_template("returns/upload.html", form=form, period=period, city=city, ret=ret,
                           error=error), (422 if error else 200)


def _audit_upload(action: str, city, period: str, filename: str | None,
                  problems: list[str]) -> None:
    """Keep a refused upload in the audit log: which file, and why (nothing else is kept)."""
    record_event(db.session, current_actor(), action, "month", month_target(city.code, period),
                 detail=f"{filename or ''}: " + "; ".join(problems))
    db.session.commit()


@bp.route("/returns/<period>/upload/confirm", methods=["POST"])
@roles_required("city")
def upload_confirm(period: str):
    """Save the checked values of an upload into the return (draft), all or nothing."""
    period = period_or_404(period)
    city = current_user.city
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    payload = _unsign(form.token.data, city, period)
    if payload is None:
        flash(_("This check of the upload has expired. Please upload the file again."),
              "warning")
        return redirect(url_for("returns.upload", period=period))
    try:
        warnings = apply_upload(db.session, current_actor(), city, period, payload["values"],
                                payload["cells"], payload["version"],
                                source=payload["source"])[1]
    except UploadRejected as rejected:
        db.session.rollback()
        _audit_upload("return.invalid", city, period, payload["source"],
                      [str(p) for p in rejected.problems] or [str(rejected.message)])
        flash(rejected.message, "danger")
        for problem in rejected.problems:
            flash(str(problem), "danger")
        return redirect(url_for("returns.upload", period=period))
    except StaleData as stale:
        db.session.rollback()
        flash(stale.message, "warning")
        return redirect(url_for("returns.edit", period=period))
    except DomainError as refused:
        db.session.rollback()
        flash(refused.message, "danger")
        return redirect(url_for("returns.edit", period=period))
    db.session.commit()
    flash(_("The numbers of the uploaded file were saved in the return for %(month)s. It is not "
            "submitted yet: check it below and submit it.",
            month=format_period_for_user(period)), "success")
    for warning in warnings:
        flash(str(warning), "warning")
    return redirect(url_for("returns.edit", period=period))
