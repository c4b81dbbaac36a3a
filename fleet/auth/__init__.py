"""Sign-in, sign-out and password change."""

from flask import Blueprint

bp = Blueprint("auth", __name__)

from . import tokens, views  # noqa: E402,F401
