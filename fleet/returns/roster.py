"""The city's vehicle roster of a month: template, upload with a dry run, confirmation, the paged
list with add and remove of one vehicle, the failing rows and the city's own exports."""

import hashlib

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from .. import background, cache, downloads
from ..domain import jobs, returns, roster, vehicles
from ..domain.errors import DomainError
from ..domain.excel import roster_files
from ..domain.excel.safety import UnsafeFile
from ..domain.programme import get_programme
from ..domain.reference import (
    CATEGORIES,
    CATEGORY_BY_CODE,
    POWERTRAIN_BY_CODE,
    POWERTRAINS,
    label,
)
from ..domain.vehicle_rules import COLUMNS, column_label, fold
from ..extensions import db
from ..models import Job
from ..web import (
    XLSX,
    allow_roster_uploads,
    attachment,
    current_actor,
    format_period_for_user,
    lang,
    period_or_404,
    roles_required,
)
from . import bp
from .forms import ConfirmUploadForm, RemoveVehicleForm, RosterUploadForm, VehicleForm


@bp.record_once
def _raise_upload_limit(state) -> None:
    """The roster upload may be larger than MAX_CONTENT_LENGTH (5 MiB)."""
    allow_roster_uploads(state.app, "returns.roster_upload")


def _month(period: str):
    """The user's own city, the month, its return (or None) and whether it can change."""
    period = period_or_404(period)
    city = current_user.city  # always the user's own city, whatever the request says
    ret = returns.find_return(db.session, city, period)
    editable = ((ret is None or ret.status in returns.EDITABLE)
                and not returns.period_problems(get_programme(db.session), period))
    return period, city, ret, editable


@bp.route("/returns/<period>/roster")
@roles_required("city")
def roster_page(period: str):
    """The month's vehicles: paged, searchable by VIN or plate; upload, add, remove."""
    return _roster_page(period)


def _roster_page(period: str, vehicle_form: VehicleForm | None = None, status: int = 200):
    """The roster page; with the vehicle form as typed and 422 when adding one failed."""
    period, city, ret, editable = _month(period)
    search = fold(request.args.get("q"))[:17]
    page = request.args.get("page", 1, type=int)
    listing = (vehicles.month_page(db.session, ret.id, search, page) if ret is not None
               else vehicles.VehiclePage([], 0, 1, 1))
    return render_template(
        "returns/roster.html", period=period, city=city, ret=ret, editable=editable,
        listing=listing, search=search, upload_form=RosterUploadForm(),
        vehicle_form=vehicle_form or VehicleForm(formdata=None),
        remove_form=RemoveVehicleForm(),
        counts=vehicles.roster_counts(db.session, ret.id) if ret is not None else {},
        categories=CATEGORIES, powertrains=POWERTRAINS, name_of=_name_of), status


def _name_of(code: str) -> str:
    """A category's or powertrain's name in the user's language."""
    item = CATEGORY_BY_CODE.get(code) or POWERTRAIN_BY_CODE.get(code)
    return label(item, lang()) if item else code


@bp.route("/returns/<period>/roster/template.xlsx")
@roles_required("city")
def roster_template(period: str):
    """The blank roster template of the user's city for the month."""
    period, city, _ret, _editable = _month(period)
    return attachment(roster_files.build_roster_template(city, period, lang()), XLSX,
                      f"fleet-roster-template-{city.code}-{period}.xlsx")


@bp.route("/returns/<period>/roster/upload", methods=["POST"])
@roles_required("city")
def roster_upload(period: str):
    """The dry run of an uploaded roster: every problem, the counts it gives. Saves no
    vehicle and changes no return; the file waits for the confirmation, and refused claims
    of VINs counted elsewhere are kept for the ministry. A large file (ROSTER_JOB_MIN_BYTES)
    is checked by a background job, whose page follows it."""
    period, city, ret, editable = _month(period)
    form = RosterUploadForm()
    if not form.validate_on_submit():
        flash(_("Please choose the file to upload."), "danger")
        return redirect(url_for("returns.roster_page", period=period)), 303
    data = form.file.data.read()
    filename = form.file.data.filename or ""
    actor = current_actor()
    if len(data) > int(current_app.config["ROSTER_JOB_MIN_BYTES"]):
        return _check_in_background(city, period, data, filename)
    try:
        file = roster.read_roster(data, filename)
        check = roster.preview(db.session, actor, city, period, file, lang())
    except (DomainError, UnsafeFile) as refused:
        db.session.rollback()
        flash(refused.message, "danger")
        return render_template("returns/roster_refused.html", period=period, city=city,
                               message=refused.message), 400
    roster.record_conflicts(db.session, actor, check, "upload")
    upload = roster.keep_upload(db.session, actor, city, period, data, filename)
    db.session.commit()
    result = roster.check_result(check, lang())
    return _preview(period, city, check.current, result, upload.id,
                    url_for("returns.roster_errors", period=period, upload_id=upload.id))


def _preview(period: str, city, current, result: dict, upload_id: int, errors_url: str | None):
    """The dry run's page, from its findings (fleet.domain.roster.check_result)."""
    return render_template(
        "returns/roster_preview.html", period=period, city=city, summary=result,
        upload_id=upload_id, listed=result["listed"], warnings=result["warning_list"],
        counts=roster.result_counts(result), current=current, errors_url=errors_url,
        confirm=ConfirmUploadForm(upload_id=str(upload_id)) if result["ok"] else None,
        categories=CATEGORIES, powertrains=POWERTRAINS,
        column=lambda c: column_label(c, lang()))


def _check_in_background(city, period: str, data: bytes, filename: str):
    """Keep the file and check it in a background job (the same file asked again while its
    check runs, or is fresh, gives the same job); go to the job's page."""
    actor = current_actor()
    params = {"period": period, "sha256": hashlib.sha256(data).hexdigest(), "lang": lang()}
    key = jobs.request_key("roster_check", city.id, params, cache.data_version(),
                           actor.user_id)
    job = jobs.reusable(db.session, key)
    created = False
    if job is None:
        try:  # the month must be open for a roster, before the file is kept at all
            roster.preview_allowed(db.session, actor, city, period)
        except DomainError as refused:
            db.session.rollback()
            flash(refused.message, "danger")
            return render_template("returns/roster_refused.html", period=period, city=city,
                                   message=refused.message), 400
        upload = roster.keep_upload(db.session, actor, city, period, data, filename)
        job, created = jobs.create(db.session, actor, "roster_check", city.id,
                                   {**params, "upload_id": upload.id,
                                    "filename": filename[:255]}, key)
    db.session.commit()
    if created:
        background.start(job.id)
    return redirect(url_for("jobs.show", job_id=job.id), 303)


@bp.route("/returns/<period>/roster/checks/<int:job_id>")
@roles_required("city")
def roster_check(period: str, job_id: int):
    """The findings of a large upload's check (a background job of the user's own), with
    the confirmation while the file is still pending."""
    period, city, ret, _editable = _month(period)
    job = db.session.get(Job, job_id)
    if (job is None or job.kind != "roster_check" or job.params.get("period") != period
            or job.city_id != city.id or not jobs.may_see(current_actor(), job)):
        abort(404)
    if job.status != "done" or not job.result:
        return redirect(url_for("jobs.show", job_id=job.id))
    upload_id = job.result["upload_id"]
    errors_url = (url_for("jobs.download", job_id=job.id)
                  if job.file_name and job.status == "done" else None)
    return _preview(period, city, returns.values_of(ret), job.result, upload_id, errors_url)


def _pending(city, period: str, upload_id) -> tuple:
    upload = roster.pending_upload(db.session, current_actor(), city, period,
                                   _int(upload_id))
    if upload is None:
        return None, None
    return upload, roster.read_roster(upload.data, upload.filename)


def _int(text) -> int:
    try:
        return int(text)
    except (TypeError, ValueError):
        return -1


@bp.route("/returns/<period>/roster/confirm", methods=["POST"])
@roles_required("city")
def roster_confirm(period: str):
    """Replace the month's roster with the checked file, all or nothing. A large file
    (ROSTER_JOB_MIN_BYTES) is saved by a background job, whose page follows it."""
    period, city, _ret, _editable = _month(period)
    form = ConfirmUploadForm()
    if not form.validate_on_submit():
        abort(400)
    actor = current_actor()
    upload_id = _int(form.upload_id.data)
    upload = roster.pending_upload(db.session, actor, city, period, upload_id)
    if upload is None:
        saving = jobs.saving_of_upload(db.session, actor, period, upload_id)
        if saving is not None:  # asked again after its job took the file: that job
            return redirect(url_for("jobs.show", job_id=saving.id), 303)
        flash(_("This check of the upload has expired. Please upload the file again."),
              "warning")
        return redirect(url_for("returns.roster_page", period=period))
    if len(upload.data) > int(current_app.config["ROSTER_JOB_MIN_BYTES"]):
        return _confirm_in_background(city, period, upload)
    file = roster.read_roster(upload.data, upload.filename)
    try:
        check, notes = roster.replace_roster(db.session, actor, city, period, file, lang())
    except roster.RosterHasErrors as failed:
        db.session.rollback()
        roster.record_conflicts(db.session, actor, failed.check, "upload")
        db.session.commit()
        flash(failed.message, "danger")
        return redirect(url_for("returns.roster_page", period=period))
    except DomainError as refused:
        db.session.rollback()
        flash(refused.message, "danger")
        return redirect(url_for("returns.roster_page", period=period))
    db.session.delete(upload)
    db.session.commit()
    flash(_("The roster of %(month)s was saved: %(n)s vehicles. The return's NEV counts now "
            "come from it.", month=format_period_for_user(period), n=f"{len(check.vehicles):,}"),
          "success")
    for note in notes:
        flash(str(note), "warning")
    return redirect(url_for("returns.roster_page", period=period))


def _confirm_in_background(city, period: str, upload):
    """Save the checked file in a background job and go to its page. The same upload asked
    again, while its job runs or once it is done, gives the same job; what the request can
    tell at once (the month no longer takes a roster) is refused here, before any job."""
    actor = current_actor()
    wanted = {"period": period, "upload_id": upload.id, "sha256": upload.sha256}
    # An upload is saved once, whatever data changes meanwhile: the key is the upload's own
    # (its time tells it from a later file given the same id), not the data version.
    key = jobs.request_key("roster_confirm", city.id, wanted, upload.created_at.isoformat(),
                           actor.user_id)
    job = jobs.reusable(db.session, key)
    created = False
    if job is None:
        try:
            roster.preview_allowed(db.session, actor, city, period)
        except DomainError as refused:
            db.session.rollback()
            flash(refused.message, "danger")
            return redirect(url_for("returns.roster_page", period=period))
        job, created = jobs.create(db.session, actor, "roster_confirm", city.id,
                                   {**wanted, "lang": lang(), "filename": upload.filename},
                                   key)
    db.session.commit()
    if created:
        background.start(job.id)
    return redirect(url_for("jobs.show", job_id=job.id), 303)


@bp.route("/returns/<period>/roster/errors/<int:upload_id>.xlsx")
@roles_required("city")
def roster_errors(period: str, upload_id: int):
    """Every failing row of a checked upload, with a message column."""
    period, city, ret, _editable = _month(period)
    upload, file = _pending(city, period, upload_id)
    if upload is None:
        abort(404)
    check = roster.check_rows(db.session, city, period, file.table, ret, lang(), file.problems)
    headers, rows = roster.error_rows(check, file, lang())
    return attachment(roster_files.errors_workbook(headers, rows), XLSX,
                      f"fleet-roster-errors-{city.code}-{period}.xlsx")


@bp.route("/returns/<period>/roster/add", methods=["POST"])
@roles_required("city")
def roster_add(period: str):
    """Add one vehicle, with every rule of an uploaded row."""
    period, city, _ret, _editable = _month(period)
    form = VehicleForm()
    raw = {name: form[name].data for name in COLUMNS}
    actor = current_actor()
    try:
        check, notes = roster.add_vehicle(db.session, actor, city, period, raw, lang())
    except roster.RosterHasErrors as failed:
        db.session.rollback()
        roster.record_conflicts(db.session, actor, failed.check, "form")
        db.session.commit()
        for p in failed.check.errors:
            flash(f"{column_label(p.column, lang())}: {p.message}", "danger")
        return _roster_page(period, form, 422)  # shown again as typed, with the errors
    except DomainError as refused:
        db.session.rollback()
        flash(refused.message, "danger")
        return _roster_page(period, form, 422)
    db.session.commit()
    flash(_("Vehicle %(vin)s added.", vin=check.vehicles[0]["vin"]), "success")
    for p in check.warnings:
        flash(f"{column_label(p.column, lang())}: {p.message}", "warning")
    for note in notes:
        flash(str(note), "warning")
    return redirect(url_for("returns.roster_page", period=period))


@bp.route("/returns/<period>/roster/remove", methods=["POST"])
@roles_required("city")
def roster_remove(period: str):
    """Remove one vehicle from the month's roster."""
    period, city, _ret, _editable = _month(period)
    form = RemoveVehicleForm()
    try:
        roster.remove_vehicle(db.session, current_actor(), city, period, form.vin.data or "")
    except DomainError as refused:
        db.session.rollback()
        flash(refused.message, "danger")
        return redirect(url_for("returns.roster_page", period=period)), 303
    db.session.commit()
    flash(_("Vehicle %(vin)s removed.", vin=fold(form.vin.data)), "success")
    return redirect(url_for("returns.roster_page", period=period))


@bp.route("/returns/roster.<fmt>")
@roles_required("city")
def roster_export(fmt: str):
    """The city's own vehicles (?period=, ?category=, ?powertrain=) as CSV or .xlsx."""
    city = current_user.city
    return downloads.roster_download(downloads.roster_filter([city.id]), fmt,
                                     f"fleet-roster-{city.code}")
