"""Views of sign-in, sign-out and password change."""

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from ..domain.accounts import SignInRefused, authenticate
from ..domain.accounts import change_password as change_own_password
from ..domain.audit import record_event
from ..domain.errors import DomainError
from ..extensions import db
from ..web import current_actor, password_policy, safe_next
from . import bp
from .forms import ChangePasswordForm, LoginForm


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Sign in with user name and password."""
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = authenticate(
                db.session, form.username.data, form.password.data, request.remote_addr,
                max_failures=current_app.config["LOGIN_MAX_FAILURES"],
                lockout_minutes=current_app.config["LOGIN_LOCKOUT_MINUTES"])
        except SignInRefused as refused:
            db.session.commit()  # keep the failure count and the audit event
            form.password.errors.append(refused.message)
            return render_template("auth/login.html", form=form), 401
        db.session.commit()
        lang = session.get("lang")
        session.clear()  # a fresh session at sign-in (no fixation)
        if lang:
            session["lang"] = lang
        login_user(user)
        session.permanent = True
        if user.must_change_password:  # the page itself says why
            return redirect(url_for("auth.change_password"))
        return redirect(safe_next(request.args.get("next"), url_for("main.index")))
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    """Sign out (POST, so a link elsewhere cannot sign the user out)."""
    record_event(db.session, current_actor(), "auth.logout", "user", current_user.id)
    db.session.commit()
    lang = session.get("lang")
    logout_user()
    session.clear()
    if lang:
        session["lang"] = lang
    flash(_("You have signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    """Change one's own password (required after an admin set it)."""
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            change_own_password(db.session, current_actor(), password_policy(), current_user,
                                form.current_password.data, form.password.data)
        except DomainError as error:
            db.session.rollback()
            getattr(form, error.field or "password").errors.append(error.message)
        else:
            db.session.commit()
            flash(_("Your password has been changed."), "success")
            return redirect(url_for("main.index"))
    return render_template("auth/change_password.html", form=form,
                           policy=password_policy())
