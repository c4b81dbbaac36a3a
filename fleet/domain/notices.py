"""Notices (inbox and e-mail) and reminders (催报).

A notice is a row per recipient, written in the same transaction as the event it tells of
(a reminder; a return sent back, approved or reopened; for the ministry, a return submitted
and an upload confirmed). Its text is rendered from its kind and parameters in the reader's
language, so the inbox reads in the language the user has chosen.

E-mail follows the outbox pattern: a recipient with an address gets an OutboxMail row in the
same transaction (subject and body in the recipient's language setting); after the commit the
web app sends it (fleet.mail), and `flask fleet remind` retries whatever a mail server that
was down did not take. A request never fails because of mail.

Plain functions over a session; the caller commits.
"""

import logging
import secrets
import smtplib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ..models import City, MonthlyReturn, Notice, OutboxMail, Reminder, User, utcnow
from .audit import Actor, record_event
from .errors import DomainError, NotAllowed
from .i18n import translator
from .periods import format_period, parse_period, period_of
from .programme import due_date, get_programme, local_today, reporting_periods

log = logging.getLogger(__name__)

# Where the after-commit hook finds the mail to send (ids of OutboxMail rows).
OUTBOX_KEY = "fleet_outbox"


def N_(message: str) -> str:
    """Mark a message for extraction; it is translated when rendered (fleet.domain.i18n)."""
    return message


# kind: (subject, body). Parameters: city, month, reason, message, due, by.
MESSAGES = {
    "reminder": (N_("Reminder: the return for %(month)s is awaited"),
                 N_("The ministry reminds %(city)s that the monthly return for %(month)s "
                    "(due %(due)s) has not been submitted yet. Please submit it in Fleet.")),
    "returned": (N_("Return sent back: %(city)s, %(month)s"),
                 N_("The ministry sent back the return of %(city)s for %(month)s. "
                    "Reason: %(reason)s")),
    "approved": (N_("Return approved: %(city)s, %(month)s"),
                 N_("The ministry approved the return of %(city)s for %(month)s.")),
    "reopened": (N_("Return reopened: %(city)s, %(month)s"),
                 N_("The ministry reopened the approved return of %(city)s for %(month)s "
                    "for correction. Reason: %(reason)s")),
    "submitted": (N_("Return submitted: %(city)s, %(month)s"),
                  N_("%(city)s submitted its return for %(month)s; it waits for review.")),
    "uploaded": (N_("Upload confirmed: %(city)s, %(month)s"),
                 N_("%(city)s confirmed an uploaded workbook for %(month)s (saved as a "
                    "draft, not yet submitted).")),
}
KINDS = tuple(MESSAGES)
MESSAGE_LIMIT = 1000


# --- rendering ---------------------------------------------------------------------------------

def render(kind: str, params: Mapping, lang: str) -> tuple[str, str]:
    """(subject, body) of a notice in `lang` ('zh' or 'en')."""
    _ = translator(lang)
    subject, body = MESSAGES[kind]
    values = {
        "city": params.get("city_zh" if lang == "zh" else "city_en", ""),
        "month": format_period(params["period"], lang) if params.get("period") else "",
        "reason": params.get("reason", ""),
        "due": params.get("due", ""),
    }
    text = _(body, **values)
    if params.get("message"):
        text += "\n" + _("Message from the ministry: %(text)s", text=params["message"])
    return _(subject, **values), text


@dataclass(frozen=True)
class InboxItem:
    id: int
    kind: str
    subject: str
    body: str
    created_at: datetime
    read: bool
    return_id: int | None
    period: str | None


def inbox(session: Session, user_id: int, lang: str, limit: int = 200) -> list[InboxItem]:
    """The user's notices, newest first, rendered in `lang`."""
    rows = session.scalars(select(Notice).where(Notice.user_id == user_id)
                           .order_by(Notice.created_at.desc(), Notice.id.desc()).limit(limit))
    return [InboxItem(n.id, n.kind, *render(n.kind, n.params or {}, lang), n.created_at,
                      n.read_at is not None, n.return_id, (n.params or {}).get("period"))
            for n in rows]


def unread_of(user_id):
    """The number of unread notices of `user_id` (a value or a column) as a SQL expression."""
    return (select(func.count(Notice.id))
            .where(Notice.user_id == user_id, Notice.read_at.is_(None)).scalar_subquery())


def unread_count(session: Session, user_id: int) -> int:
    return session.scalar(select(unread_of(user_id))) or 0


def mark_read(session: Session, user_id: int, notice_id: int | None = None,
              now: datetime | None = None) -> int:
    """Mark one notice (or all, when notice_id is None) of this user as read; returns how
    many changed. Another user's notice is never touched (it counts as not found)."""
    stmt = (update(Notice).where(Notice.user_id == user_id, Notice.read_at.is_(None))
            .values(read_at=now or utcnow()))
    if notice_id is not None:
        stmt = stmt.where(Notice.id == notice_id)
    return session.execute(stmt).rowcount or 0


# --- creating ----------------------------------------------------------------------------------

def city_users(session: Session, city_id: int) -> list[User]:
    return list(session.scalars(select(User).where(User.role == "city", User.city_id == city_id,
                                                   User.active.is_(True)).order_by(User.id)))


def ministry_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).where(User.role == "ministry",
                                                   User.active.is_(True)).order_by(User.id)))


def _params(city: City, period: str, **extra) -> dict:
    return {"city_code": city.code, "city_zh": city.name_zh, "city_en": city.name_en,
            "period": period, **{k: v for k, v in extra.items() if v}}


def notify(session: Session, users: Iterable[User], kind: str, params: dict,
           return_id: int | None = None, now: datetime | None = None) -> list[Notice]:
    """A notice for each user, and an e-mail (in the user's language) for those with an
    address. The mail is queued in the same transaction and sent after the commit."""
    if kind not in MESSAGES:
        raise ValueError(f"unknown notice kind {kind!r}")
    now = now or utcnow()
    notices, mails = [], []
    for user in users:
        notice = Notice(user_id=user.id, kind=kind, params=params, return_id=return_id,
                        created_at=now)
        session.add(notice)
        notices.append(notice)
        if user.email:
            subject, body = render(kind, params, user.language or "zh")
            mail = OutboxMail(to_addr=user.email, subject=subject[:300], body=body,
                              created_at=now, attempts=0, last_error="")
            session.add(mail)
            mails.append(mail)
    if mails:
        session.flush()
        session.info.setdefault(OUTBOX_KEY, []).extend(m.id for m in mails)
    return notices


def notify_return(session: Session, kind: str, ret: MonthlyReturn, reason: str = "",
                  now: datetime | None = None) -> list[Notice]:
    """The notices of a return's workflow event: the city's users hear of a review step,
    the ministry of a submission or a confirmed upload."""
    users = (ministry_users(session) if kind in ("submitted", "uploaded")
             else city_users(session, ret.city_id))
    return notify(session, users, kind, _params(ret.city, ret.period, reason=reason),
                  ret.id, now)


# --- reminders ---------------------------------------------------------------------------------

# A city-month can be chased while nothing of it is submitted or approved and the month is over.
REMINDABLE_STATES = ("due", "late", "draft", "returned")
# The automatic reminder after the due date is sent once, within this many days after it
# (so a missed cron run still sends it, and an old month is never chased again).
AFTER_DUE_DAYS = 7


@dataclass(frozen=True)
class Remindable:
    """A city that has not submitted its return for the month."""

    city_id: int
    code: str
    name_zh: str
    name_en: str
    state: str  # fleet.domain.returns.month_state: due, late, draft, returned

    def name(self, lang: str) -> str:
        return self.name_zh if lang.startswith("zh") else self.name_en


def remindable(session: Session, period: str, today: date | None = None) -> list[Remindable]:
    """The active cities that can be reminded for `period` (nothing submitted or approved,
    and the month over), by code."""
    from .returns import month_state  # returns imports this module for its events

    today = today or local_today()
    due = due_date(get_programme(session), period)
    status = dict(session.execute(select(MonthlyReturn.city_id, MonthlyReturn.status)
                                  .where(MonthlyReturn.period == period)).all())
    cities = session.scalars(select(City).where(City.active.is_(True)).order_by(City.code))
    if period >= period_of(today):  # the month is still running (same queries either way)
        return []
    out = []
    for city in cities:
        state = month_state(status.get(city.id), period, due, today)
        if state in REMINDABLE_STATES:
            out.append(Remindable(city.id, city.code, city.name_zh, city.name_en, state))
    return out


def _remind_one(session: Session, actor: Actor, city: City, period: str, kind: str, key: str,
                message: str, now: datetime) -> Reminder:
    users = city_users(session, city.id)
    due = due_date(get_programme(session), period)
    notify(session, users, "reminder",
           _params(city, period, message=message, due=due.isoformat()), None, now)
    reminder = Reminder(key=key, kind=kind, city_id=city.id, period=period, message=message,
                        sent_at=now, sent_by_id=actor.user_id, sent_by_name=actor.username,
                        recipients=len(users))
    session.add(reminder)
    record_event(session, actor, "reminder.send", "city", city.code, None,
                 {"period": period, "kind": kind, "message": message,
                  "recipients": [u.username for u in users]},
                 detail=f"{city.code} {period} {kind}")
    return reminder


def send_reminders(session: Session, actor: Actor, period: str, city_codes: Sequence[str] | None,
                   message: str = "", *, today: date | None = None,
                   now: datetime | None = None) -> list[Reminder]:
    """The ministry chases cities for a month: the cities given by code, or every city that
    has not submitted (city_codes None). Refused, with nothing sent, when a city has already
    submitted or the list is empty. Each city user receives a notice (and e-mail)."""
    if actor.role not in ("ministry", "system"):
        raise NotAllowed(_l("Your account is not allowed to do this."))
    try:
        period = parse_period(period)
    except ValueError:
        raise DomainError(_l("Months are written YYYY-MM, e.g. 2025-09."), "period") from None
    message = (message or "").strip()
    if len(message) > MESSAGE_LIMIT:
        raise DomainError(_l("The message is limited to 1000 characters."), "message")
    open_cities = {r.code: r for r in remindable(session, period, today)}
    codes = list(open_cities) if city_codes is None else list(dict.fromkeys(city_codes))
    if not codes:
        raise DomainError(_l("No city to remind: choose at least one city that has not "
                             "submitted its return for this month."), "city")
    refused = [code for code in codes if code not in open_cities]
    if refused:
        raise DomainError(_l("These cities cannot be reminded for this month (already "
                             "submitted, or unknown): %(codes)s", codes=", ".join(refused)),
                          "city")
    now = now or utcnow()
    cities = {c.code: c for c in session.scalars(select(City).where(City.code.in_(codes)))}
    return [_remind_one(session, actor, cities[code], period, "manual",
                        f"manual:{code}:{period}:{secrets.token_hex(8)}", message, now)
            for code in codes]


def automatic_reminders(session: Session, actor: Actor, *, today: date | None = None,
                        days_before: int = 3, now: datetime | None = None) -> list[Reminder]:
    """`flask fleet remind`: remind the cities without a submitted return, `days_before` days
    before the due date (and until it), and once more after the due date.

    Each is keyed by kind, city and month, so running twice sends nothing twice.
    """
    today = today or local_today()
    programme = get_programme(session)
    sent_keys = set(session.scalars(select(Reminder.key).where(Reminder.kind != "manual")))
    out = []
    now = now or utcnow()
    for period in reporting_periods(programme):
        due = due_date(programme, period)
        if due - timedelta(days=days_before) <= today <= due:
            kind = "before_due"
        elif due < today <= due + timedelta(days=AFTER_DUE_DAYS):
            kind = "after_due"
        else:
            continue
        for item in remindable(session, period, today):
            key = f"{kind}:{item.code}:{period}"
            if key in sent_keys:
                continue
            city = session.get(City, item.city_id)
            out.append(_remind_one(session, actor, city, period, kind, key, "", now))
            sent_keys.add(key)
    return out


@dataclass(frozen=True)
class ReminderMark:
    """The reminders a city-month has had: how many, and the last one's time (UTC)."""

    count: int
    last_at: datetime


def reminder_marks(session: Session, periods: Sequence[str]
                   ) -> dict[tuple[int, str], ReminderMark]:
    """{(city_id, period): ReminderMark} for the months given; one query."""
    if not periods:
        return {}
    rows = session.execute(
        select(Reminder.city_id, Reminder.period, func.count(Reminder.id),
               func.max(Reminder.sent_at))
        .where(Reminder.period.in_(list(periods)))
        .group_by(Reminder.city_id, Reminder.period))
    return {(city_id, period): ReminderMark(count, last)
            for city_id, period, count, last in rows}


# --- e-mail ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class MailSettings:
    """FLEET_MAIL_* settings. No server: no mail is sent (it waits in the outbox)."""

    server: str = ""
    port: int = 25
    use_tls: bool = False
    username: str = ""
    password: str = ""
    sender: str = ""
    timeout: float = 10.0

    @classmethod
    def from_config(cls, config: Mapping) -> "MailSettings":
        tls = config.get("MAIL_USE_TLS", False)
        if isinstance(tls, str):
            tls = tls.strip().lower() in ("1", "true", "yes", "on")
        return cls(server=config.get("MAIL_SERVER") or "",
                   port=int(config.get("MAIL_PORT") or 25), use_tls=bool(tls),
                   username=config.get("MAIL_USERNAME") or "",
                   password=config.get("MAIL_PASSWORD") or "",
                   sender=config.get("MAIL_SENDER") or "fleet@localhost")

    @property
    def configured(self) -> bool:
        return bool(self.server)


@dataclass(frozen=True)
class Delivery:
    sent: int
    failed: int
    error: str = ""


def _message(settings: MailSettings, mail: OutboxMail) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = settings.sender
    msg["To"] = mail.to_addr
    msg["Subject"] = mail.subject
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain="fleet")
    msg.set_content(mail.body, charset="utf-8")
    return msg


def deliver(session: Session, settings: MailSettings, ids: Sequence[int] | None = None,
            now: datetime | None = None) -> Delivery:
    """Send unsent outbox mail (only `ids` when given) over one SMTP connection.

    A server that is down or refuses is logged and counted in `attempts`; the mail stays
    in the outbox for the next run. The caller commits.
    """
    if not settings.configured:
        return Delivery(0, 0)
    # Rows another sender holds (a worker, cron's remind) are skipped, not sent twice
    # (PostgreSQL; SQLite has one writer at a time anyway).
    stmt = (select(OutboxMail).where(OutboxMail.sent_at.is_(None)).order_by(OutboxMail.id)
            .with_for_update(skip_locked=True))
    if ids is not None:
        stmt = stmt.where(OutboxMail.id.in_(list(ids)))
    pending = list(session.scalars(stmt))
    if not pending:
        return Delivery(0, 0)
    for mail in pending:  # every run is an attempt for each mail it tries
        mail.attempts += 1
    sent = 0
    try:
        with smtplib.SMTP(settings.server, settings.port, timeout=settings.timeout) as smtp:
            if settings.use_tls:
                smtp.starttls()
            if settings.username:
                smtp.login(settings.username, settings.password)
            for mail in pending:
                smtp.send_message(_message(settings, mail))
                mail.sent_at = now or utcnow()
                mail.last_error = ""
                sent += 1
    except (OSError, smtplib.SMTPException) as error:
        text = f"{type(error).__name__}: {error}"[:2000]
        for mail in pending:
            if mail.sent_at is None:
                mail.last_error = text
        log.warning("mail server %s:%s: %s; %d mail(s) left in the outbox", settings.server,
                    settings.port, text, len(pending) - sent)
        return Delivery(sent, len(pending) - sent, text)
    return Delivery(sent, 0)


def outbox_waiting(session: Session) -> int:
    return session.scalar(select(func.count(OutboxMail.id))
                          .where(OutboxMail.sent_at.is_(None))) or 0
