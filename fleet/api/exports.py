"""Stable download URLs for scripts: /api/v1/summary.xlsx and /api/v1/flat.csv, the same files
as the links on the pages (fleet.excel_web.downloads), within the user's rights."""

from flask import jsonify, request
from flask_login import login_required

from ..excel_web import downloads
from ..web import lang
from . import bp


def _download(respond):
    try:
        basis, through, code = downloads.parameters(request.args)
    except downloads.BadParameters:
        return jsonify(error="basis is reported or verified; through is YYYY-MM"), 400
    return respond(basis, through, downloads.scope_city(code), lang())


@bp.route("/summary.xlsx")
@login_required
def summary_xlsx():
    """The summary workbook: ?basis=reported|verified&through=YYYY-MM[&city=CODE]."""
    return _download(downloads.summary_response)


@bp.route("/flat.csv")
@login_required
def flat_csv():
    """One row per city, month, category and powertrain, as CSV (UTF-8 with BOM)."""
    return _download(downloads.flat_csv_response)
