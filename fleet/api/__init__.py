"""The JSON API under /api/v1: the same figures as the pages, for signed-in users."""

from flask import Blueprint

bp = Blueprint("api", __name__)

from . import exports, vehicles, views  # noqa: E402,F401
