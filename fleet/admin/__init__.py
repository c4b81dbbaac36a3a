"""Administration: users, cities and targets, programme settings."""

from flask import Blueprint

bp = Blueprint("admin", __name__)

from . import tokens, views  # noqa: E402,F401
