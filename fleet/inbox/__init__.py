"""Every user's inbox: the notices of fleet.domain.notices, the unread count in the navigation
bar, marking read, and the user's language for notices and e-mail."""

from flask import Blueprint

bp = Blueprint("inbox", __name__)

from . import views  # noqa: E402,F401
