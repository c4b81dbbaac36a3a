"""Sending the mail of fleet.domain.notices after the database commit.

The domain queues each e-mail as an OutboxMail row in the transaction of its notice. Once
that transaction is committed, the hook below hands those rows to fleet.background, which
sends them off the request (an RQ worker with Redis, else a thread of this process), so a
slow mail server never holds a page. A mail server that is down is logged and never fails
the request; `flask fleet remind` retries what is left.
"""

import logging

from flask import current_app, has_app_context, has_request_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from . import background
from .domain import notices
from .extensions import db

log = logging.getLogger(__name__)
_installed = False


def init_app(app) -> None:
    """Install the session hooks once per process (they read the current app's config)."""
    global _installed
    if _installed:
        return
    event.listen(Session, "after_commit", _after_commit)
    event.listen(Session, "after_soft_rollback", _after_rollback)
    _installed = True


def settings() -> notices.MailSettings:
    return notices.MailSettings.from_config(current_app.config)


def _after_rollback(session, _previous_transaction) -> None:
    # The queued rows were rolled back with the rest: nothing to send.
    session.info.pop(notices.OUTBOX_KEY, None)


def _after_commit(session) -> None:
    ids = session.info.pop(notices.OUTBOX_KEY, None)
    if not ids or not has_app_context():
        return
    config = settings()
    if not config.configured:
        return
    try:
        if has_request_context():
            background.send_mail_later(current_app._get_current_object(), list(ids))
            return
        # A command (cron's `flask fleet remind`) may wait for the mail server itself.
        with Session(db.engine) as own:
            notices.deliver(own, config, ids)
            own.commit()
    except Exception:  # never fail the request or command that caused the mail
        log.exception("sending %d queued mail(s) failed; they stay in the outbox", len(ids))
