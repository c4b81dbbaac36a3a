"""Reminders (催报) from the dashboard and the completeness grid: the ministry picks the cities
that have not submitted a month's return (or all of them) and sends a reminder."""

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..domain import notices
from ..domain.errors import DomainError
from ..extensions import db
from ..web import current_actor, format_period_for_user, roles_required, safe_next
from . import bp


def remind_panel(period: str) -> dict | None:
    """What the reminder form shows for a month (only the ministry sends reminders)."""
    if current_user.role != "ministry":
        return None
    marks = notices.reminder_marks(db.session, [period])
    cities = notices.remindable(db.session, period)
    return {"period": period, "cities": cities,
            "marks": {c.code: marks.get((c.city_id, period)) for c in cities}}


@bp.route("/progress/reminders", methods=["POST"])
@roles_required("ministry")
def remind():
    """Send a reminder to the chosen cities (or every city that has not submitted)."""
    back = safe_next(request.form.get("next"), url_for("progress.grid"))
    period = request.form.get("period", "")
    codes = None if "all" in request.form else request.form.getlist("city")
    try:
        sent = notices.send_reminders(db.session, current_actor(), period, codes,
                                      request.form.get("message", ""))
    except DomainError as error:
        db.session.rollback()
        return render_template("progress/remind_refused.html", message=error.message,
                               back=back), 400
    db.session.commit()
    flash(_("Reminder for %(month)s sent to %(n)s cities (%(users)s users).",
            month=format_period_for_user(period), n=len(sent),
            users=sum(r.recipients for r in sent)), "success")
    return redirect(back)
