"""The return form: one text input per number. The rules of fleet.domain.rules validate the values
(not WTForms validators), so the form, the upload and the API apply exactly the same rules."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import HiddenField, StringField, TextAreaField

from ..domain.rules import MAX_NOTES_LENGTH, NUMBER_FIELDS


class ReturnForm(FlaskForm):
    version = HiddenField()
    notes = TextAreaField(_l("Notes"), render_kw={"maxlength": MAX_NOTES_LENGTH, "rows": 3})


for _name in NUMBER_FIELDS:
    # Empty means 0: the grey placeholder says so, and typing into a field never appends to a
    # "0" already there (a click then "120" used to give 1200).
    setattr(ReturnForm, _name, StringField(_name, default="", render_kw={
        "inputmode": "numeric", "autocomplete": "off", "placeholder": "0"}))


def raw_values(form: ReturnForm) -> dict[str, str]:
    """The form's input keyed by the rules' field names."""
    raw = {name: form[name].data for name in NUMBER_FIELDS}
    raw["notes"] = form.notes.data or ""
    return raw


class UploadForm(FlaskForm):
    # The content is checked by fleet.domain.excel.safety, whatever the name says.
    file = FileField(_l("Filled-in template (.xlsx)"),
                     validators=[FileRequired(_l("Please choose the file to upload."))],
                     render_kw={"accept": ".xlsx,application/vnd.openxmlformats-officedocument"
                                          ".spreadsheetml.sheet"})


class ConfirmForm(FlaskForm):
    # The checked values of the dry run, signed by the server (see upload._sign).
    token = HiddenField()


class RosterUploadForm(FlaskForm):
    # The content is checked by fleet.domain.roster (and excel.safety), whatever the name.
    file = FileField(_l("Roster (.xlsx or .csv)"),
                     validators=[FileRequired(_l("Please choose the file to upload."))],
                     render_kw={"accept": ".xlsx,.csv"})


class ConfirmUploadForm(FlaskForm):
    # The pending upload; fleet.domain.roster.pending_upload checks it is the user's own.
    upload_id = HiddenField()


class VehicleForm(FlaskForm):
    """One vehicle; the rules of fleet.domain.vehicle_rules check it, as for an upload."""

    vin = StringField(_l("VIN"), render_kw={"maxlength": 40, "autocomplete": "off"})
    plate = StringField(_l("Plate"), render_kw={"maxlength": 16})
    category = StringField(_l("Sector"))
    powertrain = StringField(_l("Powertrain"))
    in_service_date = StringField(_l("In-service date"), render_kw={"type": "date"})
    operator = StringField(_l("Operator"), render_kw={"maxlength": 200})
    model = StringField(_l("Model"), render_kw={"maxlength": 100})
    maker = StringField(_l("Maker"), render_kw={"maxlength": 200})


class RemoveVehicleForm(FlaskForm):
    vin = HiddenField()
