"""Admin views: thin wrappers around fleet.domain: accounts, cities and programme. The audit
log is the auditor's (fleet.audit), not the admin's."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from ..domain import accounts, cities, integrity
from ..domain.errors import DomainError
from ..domain.programme import get_programme, update_programme
from ..extensions import db
from ..models import User, utcnow
from ..web import (
    current_actor,
    form_status,
    lang,
    password_policy,
    roles_required,
)
from . import bp
from .forms import (
    CityForm,
    EditUserForm,
    ProgrammeForm,
    ResetPasswordForm,
    UserForm,
    role_choices,
)


def _city_choices():
    return [("", "—")] + [(c.code, f"{c.code} {c.name(lang())}")
                          for c in cities.active_cities(db.session)]


def _show_error(form, error: DomainError):
    """The domain's refusal next to its field (or above the form); the form comes back 422."""
    db.session.rollback()
    field = getattr(form, error.field, None) if error.field else None
    if field is not None:
        field.errors = list(field.errors) + [error.message]
    else:
        form.form_errors.append(error.message)
        flash(error.message, "danger")


@bp.route("/users")
@roles_required("admin")
def users():
    """All accounts."""
    return render_template("admin/users.html", users=accounts.list_users(db.session),
                           now=utcnow())


@bp.route("/users/new", methods=["GET", "POST"])
@roles_required("admin")
def create_user():
    """Create an account with an initial password the user must change."""
    form = UserForm()
    form.city.choices = _city_choices()
    form.role.choices = role_choices(lang())
    if request.method == "GET":
        form.password.data = password_policy().generate()
    if form.validate_on_submit():
        city = cities.city_by_code(db.session, form.city.data) if form.city.data else None
        try:
            user = accounts.create_user(
                db.session, current_actor(), password_policy(), username=form.username.data,
                password=form.password.data, role=form.role.data, city=city,
                display_name=form.display_name.data)
        except DomainError as error:
            _show_error(form, error)
        else:
            db.session.commit()
            flash(_("Account %(name)s created. Give the initial password to its owner; "
                    "it must be changed at first sign-in.", name=user.username), "success")
            return redirect(url_for("admin.users"))
    return render_template("admin/user_new.html", form=form,
                           policy=password_policy()), form_status(form)


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@roles_required("admin")
def edit_user(user_id: int):
    """Change role, city, name, active flag; reset the password."""
    user = db.session.get(User, user_id) or abort(404)
    form = EditUserForm(obj=user if request.method == "GET" else None)
    form.city.choices = _city_choices()
    form.role.choices = role_choices(lang())
    if request.method == "GET":
        form.city.data = user.city.code if user.city else ""
    reset_form = ResetPasswordForm(prefix="reset", formdata=None)
    if form.validate_on_submit():
        city = cities.city_by_code(db.session, form.city.data) if form.city.data else None
        try:
            accounts.update_user(db.session, current_actor(), user, role=form.role.data,
                                 city=city, display_name=form.display_name.data,
                                 active=form.active.data, email=form.email.data or "")
        except DomainError as error:
            _show_error(form, error)
        else:
            db.session.commit()
            flash(_("Account %(name)s saved.", name=user.username), "success")
            return redirect(url_for("admin.users"))
    return _user_page(user, form, reset_form)


def _user_page(user: User, form: EditUserForm, reset_form: ResetPasswordForm):
    """The account page with both its forms; 422 when the one submitted has errors."""
    return render_template("admin/user_edit.html", user=user, form=form,
                           reset_form=reset_form, policy=password_policy()
                           ), form_status(form, reset_form)


@bp.route("/users/<int:user_id>/password", methods=["POST"])
@roles_required("admin")
def reset_password(user_id: int):
    """Set a new one-time password for a user."""
    user = db.session.get(User, user_id) or abort(404)
    reset_form = ResetPasswordForm(prefix="reset")
    if reset_form.validate_on_submit():
        try:
            accounts.reset_password(db.session, current_actor(), password_policy(), user,
                                    reset_form.password.data)
        except DomainError as error:
            _show_error(reset_form, error)
        else:
            db.session.commit()
            flash(_("The password of %(name)s was reset; it must be changed at next sign-in.",
                    name=user.username), "success")
            return redirect(url_for("admin.edit_user", user_id=user.id))
    elif not reset_form.password.errors:
        reset_form.password.errors.append(_("Enter the new password."))
    form = EditUserForm(obj=user, formdata=None)
    form.city.choices = _city_choices()
    form.city.data = user.city.code if user.city else ""
    return _user_page(user, form, reset_form)


@bp.route("/users/<int:user_id>/unlock", methods=["POST"])
@roles_required("admin")
def unlock_user(user_id: int):
    """Lift a lock-out after repeated failed sign-ins, before it runs out (audited)."""
    user = db.session.get(User, user_id) or abort(404)
    try:
        accounts.unlock_user(db.session, current_actor(), user)
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "warning")
    else:
        db.session.commit()
        flash(_("The account %(name)s is unlocked.", name=user.username), "success")
    return redirect(url_for("admin.users"))


@bp.route("/cities")
@roles_required("admin")
def city_list():
    """Cities with their targets."""
    return render_template("admin/cities.html", cities=cities.all_cities(db.session))


def _city_values(form: CityForm) -> dict:
    """The form's text as typed; fleet.domain.cities checks and parses it."""
    return dict(name_zh=form.name_zh.data, name_en=form.name_en.data,
                province_zh=form.province_zh.data, batch=form.batch.data,
                nev_target=form.nev_target.data, active=form.active.data)


@bp.route("/cities/new", methods=["GET", "POST"])
@roles_required("admin")
def create_city():
    """Add a city to the pilot."""
    form = CityForm()
    if form.validate_on_submit():
        try:
            city = cities.create_city(db.session, current_actor(), code=form.code.data,
                                      **_city_values(form))
        except DomainError as error:
            _show_error(form, error)
        else:
            db.session.commit()
            flash(_("City %(name)s added.", name=city.name(lang())), "success")
            return redirect(url_for("admin.city_list"))
    return render_template("admin/city_edit.html", form=form, city=None), form_status(form)


@bp.route("/cities/<code>", methods=["GET", "POST"])
@roles_required("admin")
def edit_city(code: str):
    """Edit a city's names, batch, target and active flag."""
    city = cities.city_by_code(db.session, code) or abort(404)
    form = CityForm(obj=city if request.method == "GET" else None)
    form.code.data = city.code  # the code is the city's identity; never edited
    if form.validate_on_submit():
        try:
            cities.update_city(db.session, current_actor(), city, **_city_values(form))
        except DomainError as error:
            _show_error(form, error)
        else:
            db.session.commit()
            flash(_("City %(name)s saved.", name=city.name(lang())), "success")
            return redirect(url_for("admin.city_list"))
    return render_template("admin/city_edit.html", form=form, city=city), form_status(form)


@bp.route("/programme", methods=["GET", "POST"])
@roles_required("admin")
def programme():
    """National target, reporting window and due day."""
    current = get_programme(db.session)
    form = ProgrammeForm(obj=current if request.method == "GET" else None)
    if form.validate_on_submit():
        try:
            update_programme(db.session, current_actor(),
                             national_target=form.national_target.data,
                             first_period=form.first_period.data,
                             last_period=form.last_period.data, due_day=form.due_day.data,
                             attachment_required=form.attachment_required.data,
                             roster_required_from=form.roster_required_from.data or "")
        except DomainError as error:
            _show_error(form, error)
        else:
            db.session.commit()
            flash(_("Programme settings saved."), "success")
            return redirect(url_for("admin.programme"))
    return render_template("admin/programme.html", form=form), form_status(form)


@bp.route("/integrity")
@roles_required("admin")
def integrity_status():
    """The last verification of the returns' hash chain: when, by whom, what disagreed."""
    return render_template("admin/integrity.html",
                           check=integrity.last_verification(db.session),
                           field_label=integrity.mismatch_field_label)


@bp.route("/integrity/verify", methods=["POST"])
@roles_required("admin")
def integrity_verify():
    """Run the verification now (as `flask fleet verify` does) and show its result."""
    actor = current_actor()
    result = integrity.verify_returns(db.session)
    integrity.record_verification(db.session, actor, result)
    db.session.commit()
    if result.ok:
        flash(_("All %(n)s returns verified.", n=result.returns), "success")
    else:
        flash(_("%(n)s mismatches found: stored numbers differ from their revisions.",
                n=len(result.mismatches)), "danger")
    return redirect(url_for("admin.integrity_status"))
