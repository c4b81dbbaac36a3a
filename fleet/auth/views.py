"""Views of sign-in, sign-out and password change."""

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ..domain.accounts import SignInRefused, authenticate, sign_out
from ..domain.accounts import change_password as change_own_password
from ..domain.errors import DomainError
from ..extensions import db, limiter
from ..web import (
    begin_session,
    client_ip,
    current_actor,
    end_session,
    form_status,
    keep_session,
    password_policy,
    safe_next,
    signed_in_user,
)
from . import bp
from .forms import ChangePasswordForm, LoginForm


def _sign_in_failed(response) -> bool:
    return response.status_code == 401


@bp.route("/login", methods=["GET", "POST"])
# Only refused sign-ins count against the client's address; beyond the limit, 429.
@limiter.limit(lambda: current_app.config["LOGIN_THROTTLE"], methods=["POST"],
               deduct_when=_sign_in_failed)
def login():
    """Sign in with user name and password."""
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = authenticate(
                db.session, form.username.data, form.password.data, client_ip(),
                max_failures=current_app.config["LOGIN_MAX_FAILURES"],
                lockout_minutes=current_app.config["LOGIN_LOCKOUT_MINUTES"])
        except SignInRefused as refused:
            db.session.commit()  # keep the failure count and the audit event
            form.password.errors.append(refused.message)
            return render_template("auth/login.html", form=form), 401
        db.session.commit()
        begin_session(user)  # a fresh session (no fixation), with the user's session epoch
        if user.must_change_password:  # the page itself says why
            return redirect(url_for("auth.change_password"))
        return redirect(safe_next(request.args.get("next"), url_for("main.index")))
    return render_template("auth/login.html", form=form), form_status(form)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    """Sign out (POST, so a link elsewhere cannot sign the user out): every session of the
    user ends on the server, so a copy of the cookie opens nothing afterwards."""
    sign_out(db.session, current_actor(), signed_in_user())
    db.session.commit()
    end_session()
    flash(_("You have signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    """Change one's own password (required after an admin set it)."""
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            user = signed_in_user()
            change_own_password(db.session, current_actor(), password_policy(), user,
                                form.current_password.data, form.password.data)
        except DomainError as error:
            db.session.rollback()
            getattr(form, error.field or "password").errors.append(error.message)
        else:
            db.session.commit()
            keep_session(user)  # every other session of the user has ended
            flash(_("Your password has been changed. Any other session of yours has ended."),
                  "success")
            return redirect(url_for("main.index"))
    return render_template("auth/change_password.html", form=form,
                           policy=password_policy()), form_status(form)
