"""The ministry's side: national progress, the completeness grid, city pages, charts, and the
files they offer (summary workbook, flat CSV, a city-month's filled return)."""

from flask import Blueprint

# No URL prefix: the pages live under /progress/, the files under /excel/.
bp = Blueprint("progress", __name__)

from . import briefing, downloads, reminders, roster, views  # noqa: E402,F401
