"""Every user's background jobs (fleet.domain.jobs): the job's page with its progress, its
status as JSON for the page's script, its file, and the list of one's recent jobs."""

from flask import Blueprint

bp = Blueprint("jobs", __name__)

from . import views  # noqa: E402,F401
