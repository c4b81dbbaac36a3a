"""The auditor's pages (审计管理员): the audit log, its filters and its CSV file. Only the
auditor reads the log (three-way separation of duties); nothing here changes it."""

from flask import Blueprint

bp = Blueprint("audit", __name__)

from . import views  # noqa: E402,F401
