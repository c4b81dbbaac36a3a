"""The files of the progress pages: a city-month's filled return, the summary workbook and
the flat CSV, each within the user's rights (a city user gets only its own city's)."""

from flask import abort
from flask_login import login_required

from .. import downloads
from ..domain import returns
from ..domain.excel.filled import build_filled_return
from ..extensions import db
from ..web import (
    MINISTRY_SIDE,
    XLSX,
    attachment,
    lang,
    period_or_404,
    roles_required,
    visible_city,
)
from . import bp


@bp.route("/excel/returns/<code>/<period>.xlsx")
@login_required
def filled_return(code: str, period: str):
    """A city-month's return as a printable form; a city user gets only its own city's."""
    period = period_or_404(period)
    city = visible_city(code)
    ret = returns.find_return(db.session, city, period)
    if ret is None:
        abort(404)
    return attachment(build_filled_return(ret, lang()), XLSX,
                      f"fleet-return-{city.code}-{period}-{ret.status}.xlsx",
                      record=("return", ret.id))


@bp.route("/excel/summary.xlsx")
@login_required
def summary():
    """The summary workbook: national (or ?city=) for the ministry side, own city for a city."""
    return downloads.summary_response()


@bp.route("/excel/summary/prepare", methods=["POST"])
@roles_required(*MINISTRY_SIDE)
def summary_prepare():
    """The nation's summary workbook (?basis=&through=) as a background job."""
    return downloads.summary_job_response()


@bp.route("/excel/flat.csv")
@login_required
def flat_csv():
    """The flat data as CSV (UTF-8 with BOM), on the same terms as the summary."""
    return downloads.flat_csv_response()
