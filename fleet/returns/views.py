"""Views of the city bureau: the list of months and the return form."""

from flask import flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..domain import attachments, returns
from ..domain.audit import month_target, record_event
from ..domain.errors import DomainError, StaleData
from ..domain.programme import due_date, get_programme, local_today
from ..domain.rules import NUMBER_FIELDS, field_label
from ..extensions import db
from ..web import current_actor, format_period_for_user, lang, period_or_404, roles_required
from . import bp
from .forms import ReturnForm, raw_values


@bp.route("/returns")
@roles_required("city")
def index():
    """The city's months: what is due, late, returned (and why), submitted, approved."""
    programme = get_programme(db.session)
    rows = returns.city_months(db.session, programme, current_user.city)
    return render_template("returns/index.html", rows=rows, today=local_today())


@bp.route("/returns/<period>", methods=["GET", "POST"])
@roles_required("city")
def edit(period: str):
    """The return form of one month: save as draft, or submit."""
    period = period_or_404(period)
    city = current_user.city  # always the user's own city, whatever the request says
    programme = get_programme(db.session)
    ret = returns.find_return(db.session, city, period)
    form = ReturnForm()
    problems, warnings, conflict = [], [], []
    if form.validate_on_submit():
        submit = "submit" in request.form
        try:
            ret, warnings = returns.save_return(
                db.session, current_actor(), city, period, raw_values(form),
                _form_version(form.version.data), submit=submit)
        except returns.ValidationFailed as failed:
            db.session.rollback()
            problems = failed.result.errors
            _audit_refusal("return.invalid", city, period, problems, raw_values(form))
            flash(_("The return has errors; nothing was saved. Please correct the fields "
                    "marked in red."), "danger")
        except StaleData as stale:
            # Keep what this clerk typed on the page, beside the numbers saved meanwhile,
            # so it can be re-applied instead of typed again.
            db.session.rollback()
            flash(stale.message, "warning")
            mine = raw_values(form)
            ret = returns.find_return(db.session, city, period)
            _fill(form, ret)
            conflict = _differences(mine, form)
        except DomainError as error:
            db.session.rollback()
            flash(error.message, "danger")
            return redirect(url_for("returns.edit", period=period))
        else:
            db.session.commit()
            if submit:
                flash(_("The return for %(month)s was submitted to the ministry.",
                        month=format_period_for_user(period)), "success")
            else:
                flash(_("Draft saved. It is not submitted yet."), "success")
            for warning in warnings:
                flash(warning.message, "warning")
            return redirect(url_for("returns.edit", period=period))
    elif request.method == "GET":
        _fill(form, ret)
    period_problems = returns.period_problems(programme, period)
    editable = (ret is None or ret.status in returns.EDITABLE) and not period_problems
    errors = {p.field: p.message for p in problems if p.field and p.field != "period"}
    if ret is not None and request.method == "GET":
        warnings = returns.current_warnings(db.session, ret)
    return render_template(
        "returns/form.html", form=form, ret=ret, period=period, city=city, editable=editable,
        period_problems=[p.message for p in period_problems], errors=errors,
        warnings=warnings, conflict=conflict, due=due_date(programme, period),
        state=returns.month_state(ret.status if ret else None, period,
                                  due_date(programme, period), local_today()),
        label=lambda name: field_label(name, lang()),
        scans=attachments.scans_of(db.session, ret) if ret is not None else []
    ), (422 if problems else 200)


def _audit_refusal(action: str, city, period: str, problems, entered: dict) -> None:
    """Keep the refused attempt in the audit log: which fields, why, and what was entered."""
    fields = [p.field for p in problems if p.field]
    detail = "; ".join(f"{field_label(p.field, lang())}: {p.message}" if p.field
                       else str(p.message) for p in problems)
    record_event(db.session, current_actor(), action, "month",
                 month_target(city.code, period),
                 after={name: str(entered.get(name))[:200] for name in fields
                        if name in entered},
                 detail=detail)
    db.session.commit()


@bp.route("/returns/<period>/check", methods=["POST"])
@roles_required("city")
def check(period: str):
    """The rules' errors and warnings of the numbers on the page, before anything is saved
    (JSON for the form's script; the one rules module, in the user's language)."""
    period = period_or_404(period)
    raw = {name: request.form.get(name, "") for name in (*NUMBER_FIELDS, "notes")}
    result = returns.check(db.session, get_programme(db.session), current_user.city, period,
                           raw)

    def listed(problems):
        return [{"field": p.field, "code": p.code, "message": str(p.message),
                 "label": field_label(p.field, lang()) if p.field else None}
                for p in problems]

    return jsonify(errors=listed(result.errors), warnings=listed(result.warnings))


def _fill(form: ReturnForm, ret) -> None:
    # A zero shows as an empty field with a grey "0" placeholder: typing replaces nothing.
    for name, value in returns.values_of(ret).as_fields().items():
        form[name].data = (str(value) if value else "") if name != "notes" else value
    form.version.data = str(ret.version if ret is not None else 0)


def _form_version(text: str | None) -> int:
    """The version the form was loaded with; a missing one never matches (no blind overwrite)."""
    try:
        return int(text)
    except (TypeError, ValueError):
        return -1


def _differences(mine: dict[str, str], form: ReturnForm) -> list[dict[str, str]]:
    """The fields where the clerk's input differs from the return as saved now."""
    out = []
    for name, typed in mine.items():
        saved = form[name].data or ""
        if (typed or "").strip() != saved.strip():
            out.append({"field": name, "mine": typed or "", "saved": saved})
    return out
