"""The home page (by role) and the language switch."""

from flask import Blueprint

bp = Blueprint("main", __name__)

from . import views  # noqa: E402,F401
