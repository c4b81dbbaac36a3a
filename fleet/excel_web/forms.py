"""Forms of the upload: the file, then the confirmation of the dry run."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import HiddenField


class UploadForm(FlaskForm):
    # The content is checked by fleet.excel.safety, whatever the name says.
    file = FileField(_l("Filled-in template (.xlsx)"),
                     validators=[FileRequired(_l("Please choose the file to upload."))],
                     render_kw={"accept": ".xlsx,application/vnd.openxmlformats-officedocument"
                                          ".spreadsheetml.sheet"})


class ConfirmForm(FlaskForm):
    # The checked values of the dry run, signed by the server (see views._sign).
    token = HiddenField()
