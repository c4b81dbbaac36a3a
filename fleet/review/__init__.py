"""The ministry's review: the queue of submitted returns, a return's page, and its actions."""

from flask import Blueprint

bp = Blueprint("review", __name__)

from . import views  # noqa: E402,F401
