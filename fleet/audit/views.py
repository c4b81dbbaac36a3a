"""Views of the audit log: thin wrappers around fleet.domain.audit (read only)."""

from flask import render_template, request

from ..domain import audit
from ..domain.errors import DomainError
from ..extensions import db
from ..web import CSV, attachment, lang, page_number, roles_required
from . import bp

# The largest page number taken from the URL; any bigger one means "the last page".


def _render(flt: audit.AuditFilter, page: audit.AuditPage | None, error=None):
    language = lang()
    events = audit.readable(db.session, page.events, language) if page else []
    return render_template("audit/log.html", error=error, flt=flt, page=page, events=events,
                           actions=audit.action_choices(language),
                           kinds=audit.record_type_choices(language)), (400 if error else 200)


@bp.route("/")
@roles_required("auditor")
def log():
    """The audit log, newest first: filters by user, action, record and dates, in pages."""
    try:
        flt = audit.parse_filter(request.args)
    except DomainError as error:
        return _render(audit.AuditFilter(), None, error)
    return _render(flt, audit.search_events(db.session, flt, page_number()))


@bp.route("/audit.csv")
@roles_required("auditor")
def log_csv():
    """The matching events as CSV (UTF-8 with BOM); the download itself is audited."""
    try:
        flt = audit.parse_filter(request.args)
    except DomainError as error:
        return _render(audit.AuditFilter(), None, error)
    return attachment(audit.audit_csv(db.session, flt, lang()), CSV, "fleet-audit-log.csv")
