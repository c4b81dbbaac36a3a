"""Forms of the admin blueprint."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional
from wtforms.widgets import PasswordInput

ROLE_CHOICES = [
    ("city", _l("City bureau")),
    ("ministry", _l("Ministry reviewer")),
    ("admin", _l("Administrator")),
    ("viewer", _l("Viewer (read-only)")),
]


class UserForm(FlaskForm):
    username = StringField(_l("User name"), validators=[DataRequired(), Length(max=64)])
    display_name = StringField(_l("Full name"), validators=[Optional(), Length(max=100)])
    role = SelectField(_l("Role"), choices=ROLE_CHOICES)
    city = SelectField(_l("City"), choices=[], validate_choice=True)
    # The admin chose (or was offered) this password to hand over: a refused form keeps it.
    password = PasswordField(_l("Initial password"), validators=[DataRequired(),
                                                                 Length(max=256)],
                             widget=PasswordInput(hide_value=False))


class EditUserForm(FlaskForm):
    display_name = StringField(_l("Full name"), validators=[Optional(), Length(max=100)])
    role = SelectField(_l("Role"), choices=ROLE_CHOICES)
    city = SelectField(_l("City"), choices=[], validate_choice=True)
    active = BooleanField(_l("Account active"))


class ResetPasswordForm(FlaskForm):
    password = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=256)])


class CityForm(FlaskForm):
    code = StringField(_l("City code (GB/T 2260)"), validators=[DataRequired(), Length(max=6)])
    name_zh = StringField(_l("Chinese name"), validators=[DataRequired(), Length(max=50)])
    name_en = StringField(_l("English name"), validators=[DataRequired(), Length(max=100)])
    province_zh = StringField(_l("Province"), validators=[DataRequired(), Length(max=50)])
    batch = IntegerField(_l("Pilot batch"), validators=[Optional(), NumberRange(min=1, max=99)])
    nev_target = IntegerField(
        _l("NEV target (share of the national target)"),
        validators=[Optional(), NumberRange(min=0, max=10_000_000)])
    active = BooleanField(_l("Active"), default=True)


class ProgrammeForm(FlaskForm):
    national_target = IntegerField(_l("National target (vehicles)"),
                                   validators=[InputRequired(), NumberRange(min=1)])
    first_period = StringField(_l("First reporting month (YYYY-MM)"),
                               validators=[DataRequired(), Length(max=7)])
    last_period = StringField(_l("Last reporting month (YYYY-MM)"),
                              validators=[DataRequired(), Length(max=7)])
    due_day = IntegerField(_l("Due day of the following month"),
                           validators=[InputRequired(), NumberRange(min=1, max=28)])
