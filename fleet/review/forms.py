"""Forms of the review blueprint."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, TextAreaField

from ..domain.rules import MAX_REASON_LENGTH


class ReviewForm(FlaskForm):
    """Approve, send back or reopen; the reason is checked by fleet.domain.returns."""

    version = HiddenField()
    reason = TextAreaField(_l("Reason (required to send back or reopen)"),
                           render_kw={"rows": 3, "maxlength": MAX_REASON_LENGTH})
