"""Excel and CSV downloads, and the upload of a filled return template."""

from flask import Blueprint

bp = Blueprint("excel", __name__)

from . import views  # noqa: E402,F401
