"""The city bureau's pages: its months, and the monthly return form."""

from flask import Blueprint

bp = Blueprint("returns", __name__)

from . import views  # noqa: E402,F401
