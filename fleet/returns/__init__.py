"""The city bureau's pages: its months, the monthly return form, and the Excel template
round trip (download, upload with a dry run, confirm)."""

from flask import Blueprint

bp = Blueprint("returns", __name__)

from . import roster, scans, upload, views  # noqa: E402,F401
