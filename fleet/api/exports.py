"""Stable download URLs for scripts: /api/v1/summary.xlsx and /api/v1/flat.csv, the same files
as the links on the progress pages (fleet.downloads), within the user's rights."""

from flask_login import login_required

from .. import downloads
from . import bp
from .openapi import FigureQuery, responses, spec


@bp.route("/summary.xlsx")
@login_required
@spec.validate(query=FigureQuery, resp=responses(bad_query=True), validation_error_status=400,
               tags=["figures"], operation_id="getSummaryWorkbook")
def summary_xlsx():
    """The summary workbook: ?basis=reported|verified&through=YYYY-MM[&city=CODE]."""
    return downloads.summary_response()


@bp.route("/flat.csv")
@login_required
@spec.validate(query=FigureQuery, resp=responses(bad_query=True), validation_error_status=400,
               tags=["figures"], operation_id="getFlatCsv")
def flat_csv():
    """One row per city, month, category and powertrain, as CSV (UTF-8 with BOM)."""
    return downloads.flat_csv_response()
