"""Forms of the admin blueprint."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional
from wtforms.widgets import PasswordInput

from ..domain.reference import ROLE_LIST, label


def role_choices(lang: str) -> list[tuple[str, str]]:
    """Every role of fleet.domain.reference.ROLES, as people call it."""
    return [(role.code, label(role, lang)) for role in ROLE_LIST]


class UserForm(FlaskForm):
    username = StringField(_l("User name"), validators=[DataRequired(), Length(max=64)])
    display_name = StringField(_l("Full name"), validators=[Optional(), Length(max=100)])
    role = SelectField(_l("Role"), choices=[])
    city = SelectField(_l("City"), choices=[], validate_choice=True)
    # The admin chose (or was offered) this password to hand over: a refused form keeps it.
    password = PasswordField(_l("Initial password"), validators=[DataRequired(),
                                                                 Length(max=256)],
                             widget=PasswordInput(hide_value=False))


class EditUserForm(FlaskForm):
    display_name = StringField(_l("Full name"), validators=[Optional(), Length(max=100)])
    role = SelectField(_l("Role"), choices=[])
    city = SelectField(_l("City"), choices=[], validate_choice=True)
    active = BooleanField(_l("Account active"))
    email = StringField(_l("E-mail address for notices (optional)"),
                        validators=[Optional(), Length(max=254)])


class ResetPasswordForm(FlaskForm):
    password = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=256)])


# The city and programme forms only carry text: every check (required, lengths, ranges, the
# code's digits, the window) lives once in fleet.domain.cities and fleet.domain.programme,
# whose DomainError names the field it is shown next to.
NUMERIC = {"inputmode": "numeric", "autocomplete": "off"}


class CityForm(FlaskForm):
    code = StringField(_l("City code (GB/T 2260)"), render_kw={"maxlength": 6, **NUMERIC})
    name_zh = StringField(_l("Chinese name"), render_kw={"maxlength": 50})
    name_en = StringField(_l("English name"), render_kw={"maxlength": 100})
    province_zh = StringField(_l("Province"), render_kw={"maxlength": 50})
    batch = StringField(_l("Pilot batch"), render_kw=NUMERIC)
    nev_target = StringField(_l("NEV target (share of the national target)"), render_kw=NUMERIC)
    active = BooleanField(_l("Active"), default=True)


class ProgrammeForm(FlaskForm):
    national_target = StringField(_l("National target (vehicles)"), render_kw=NUMERIC)
    first_period = StringField(_l("First reporting month (YYYY-MM)"), render_kw={"maxlength": 7})
    last_period = StringField(_l("Last reporting month (YYYY-MM)"), render_kw={"maxlength": 7})
    due_day = StringField(_l("Due day of the following month"), render_kw=NUMERIC)
    attachment_required = BooleanField(
        _l("The stamped scan is required before a return can be approved"))
    roster_required_from = StringField(_l("Vehicle roster required from (YYYY-MM)"),
                                       render_kw={"maxlength": 7, "placeholder": "YYYY-MM"})
