"""Database tables. Behaviour lives in the domain modules; here only columns, constraints and
small derived properties."""

import uuid
from datetime import date, datetime, timezone
from itertools import chain

from flask_login import UserMixin
from sqlalchemy import (
    DDL,
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    and_,
    event,
    false,
    inspect,
    update,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from .extensions import db


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


class Programme(db.Model):
    """The national programme: target, reporting window and due day. One row."""

    id: Mapped[int] = mapped_column(primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    national_target: Mapped[int]
    first_period: Mapped[str] = mapped_column(String(7))
    last_period: Mapped[str] = mapped_column(String(7))
    # A return for month M is due on this day of month M+1.
    due_day: Mapped[int]
    # Set while `flask fleet demo` data is loaded, so every page can say so.
    demo_data: Mapped[bool] = mapped_column(default=False)
    # The stamped scan (盖章扫描件) of the current submission is needed before approval.
    attachment_required: Mapped[bool] = mapped_column(default=False)
    # From this month on a return needs a vehicle roster to be submitted (empty: never).
    roster_required_from: Mapped[str | None] = mapped_column(String(7))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (
        CheckConstraint("national_target > 0", name="ck_programme_target_positive"),
        CheckConstraint("due_day BETWEEN 1 AND 28", name="ck_programme_due_day"),
        CheckConstraint("first_period <= last_period", name="ck_programme_window"),
    )


class City(db.Model):
    """A pilot city, identified by its GB/T 2260 administrative code."""

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(6), unique=True)
    name_zh: Mapped[str] = mapped_column(String(50))
    name_en: Mapped[str] = mapped_column(String(100))
    province_zh: Mapped[str] = mapped_column(String(50))
    batch: Mapped[int | None]
    pilot_period: Mapped[str | None] = mapped_column(String(20))
    # Targets of the pilot plan for the batch's own pilot period (reference figures).
    pilot_nev_target: Mapped[int | None]
    pilot_charging_target: Mapped[int | None]
    pilot_swap_target: Mapped[int | None]
    # The city's share of the national target, set by the ministry; empty until set.
    nev_target: Mapped[int | None]
    active: Mapped[bool] = mapped_column(default=True)

    def name(self, lang: str) -> str:
        return self.name_zh if lang.startswith("zh") else self.name_en


class User(UserMixin, db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    city_id: Mapped[int | None] = mapped_column(ForeignKey("city.id"))
    active: Mapped[bool] = mapped_column(default=True)
    # Set when an admin (or the installer) chose the password: the user must replace it.
    must_change_password: Mapped[bool] = mapped_column(default=False)
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    last_login_at: Mapped[datetime | None]
    password_changed_at: Mapped[datetime | None]
    # Raised to end every session signed in before: each session carries the value it was
    # signed in with, and the user loader refuses a session whose value is behind.
    session_epoch: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Where notices are also e-mailed (optional), and the language they are written in.
    email: Mapped[str | None] = mapped_column(String(254))
    language: Mapped[str] = mapped_column(String(8), default="zh", server_default="zh")

    city: Mapped[City | None] = relationship()

    # The roles of fleet.domain.reference.ROLES (a test checks that they agree).
    __table_args__ = (
        CheckConstraint(
            "role IN ('city', 'ministry', 'admin', 'auditor', 'viewer')", name="ck_user_role"
        ),
        # A city user belongs to exactly one city; other roles to none.
        CheckConstraint(
            "(role = 'city' AND city_id IS NOT NULL) OR (role <> 'city' AND city_id IS NULL)",
            name="ck_user_city_role",
        ),
    )

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active


class AuditEvent(db.Model):
    """Who did what to which record, when, from where, with before/after values."""

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    username: Mapped[str] = mapped_column(String(64), default="")
    ip: Mapped[str | None] = mapped_column(String(45))
    action: Mapped[str] = mapped_column(String(64), index=True)
    target_type: Mapped[str] = mapped_column(String(32), default="")
    target_id: Mapped[str] = mapped_column(String(64), default="")
    before: Mapped[dict | None] = mapped_column(JSON)
    after: Mapped[dict | None] = mapped_column(JSON)
    detail: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (Index("ix_audit_target", "target_type", "target_id"),)


RETURN_STATUSES = ("draft", "submitted", "returned", "approved")
# A return is received (and its numbers reported) once submitted or approved.
RECEIVED_STATUSES = ("submitted", "approved")


class MonthlyReturn(db.Model):
    """One city's return (月报) for one month."""

    id: Mapped[int] = mapped_column(primary_key=True)
    city_id: Mapped[int] = mapped_column(ForeignKey("city.id"))
    period: Mapped[str] = mapped_column(String(7))
    status: Mapped[str] = mapped_column(String(16), default="draft")
    charging_points: Mapped[int] = mapped_column(default=0)
    swap_stations: Mapped[int] = mapped_column(default=0)
    notes: Mapped[str] = mapped_column(Text, default="")
    # Optimistic locking: every UPDATE checks and bumps this number.
    version: Mapped[int] = mapped_column(default=1)
    # Written by `flask fleet demo`: only such rows are ever deleted by --clear or --replace.
    # A save through the app makes the row real (someone typed its numbers).
    demo: Mapped[bool] = mapped_column(default=False, server_default=false())

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    first_submitted_at: Mapped[datetime | None]
    submitted_at: Mapped[datetime | None]
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    # True when the latest submission came after the due date.
    submitted_late: Mapped[bool] = mapped_column(default=False)
    reviewed_at: Mapped[datetime | None]
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    # The reviewer's reason when sent back, or the reason given when reopened.
    review_comment: Mapped[str] = mapped_column(Text, default="")
    approved_at: Mapped[datetime | None]
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    # Vehicles in the month's roster, None when it has none; kept with the return so the
    # figures read VIN coverage from the returns, never by scanning vehicles.
    roster_count: Mapped[int | None]

    city: Mapped[City] = relationship()
    lines: Mapped[list["ReturnLine"]] = relationship(
        back_populates="monthly_return",
        cascade="all, delete-orphan",
        order_by="ReturnLine.position",
    )
    submitted_by: Mapped[User | None] = relationship(foreign_keys=[submitted_by_id])
    approved_by: Mapped[User | None] = relationship(foreign_keys=[approved_by_id])
    reviewed_by: Mapped[User | None] = relationship(foreign_keys=[reviewed_by_id])

    @hybrid_property
    def received_late(self) -> bool:
        """The one rule of lateness: received (submitted or approved), and its latest
        submission came after the due date. A draft or a return sent back is never late."""
        return bool(self.submitted_late) and self.status in RECEIVED_STATUSES

    @received_late.inplace.expression
    @classmethod
    def _received_late_expression(cls):
        return and_(cls.submitted_late.is_(True), cls.status.in_(RECEIVED_STATUSES))

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        UniqueConstraint("city_id", "period", name="uq_return_city_period"),
        # What a vehicle's foreign key points at (Vehicle: its return's city and month).
        UniqueConstraint("id", "city_id", "period", name="uq_return_id_city_period"),
        CheckConstraint(
            "status IN ('draft', 'submitted', 'returned', 'approved')",
            name="ck_return_status",
        ),
        CheckConstraint("charging_points >= 0", name="ck_return_charging"),
        CheckConstraint("swap_stations >= 0", name="ck_return_swap"),
        Index("ix_return_period_status", "period", "status"),
    )


class ReturnLine(db.Model):
    """One category of a return: new NEVs by powertrain and all new vehicles."""

    id: Mapped[int] = mapped_column(primary_key=True)
    return_id: Mapped[int] = mapped_column(
        ForeignKey("monthly_return.id", ondelete="CASCADE")
    )
    category: Mapped[str] = mapped_column(String(16))
    # Order of the category in reference.CATEGORIES, so lines read in the official order.
    position: Mapped[int]
    bev: Mapped[int] = mapped_column(default=0)
    phev: Mapped[int] = mapped_column(default=0)
    fcev: Mapped[int] = mapped_column(default=0)
    all_new: Mapped[int] = mapped_column(default=0)

    monthly_return: Mapped[MonthlyReturn] = relationship(back_populates="lines")

    __table_args__ = (
        UniqueConstraint("return_id", "category", name="uq_line_return_category"),
        CheckConstraint(
            "bev >= 0 AND phev >= 0 AND fcev >= 0 AND all_new >= 0",
            name="ck_line_non_negative",
        ),
        # Covers the figures' GROUP BY scans, so they never touch the table itself.
        Index("ix_return_line_figures", "return_id", "category", "bev", "phev", "fcev",
              "all_new"),
    )

    @property
    def nev(self) -> int:
        return self.bev + self.phev + self.fcev


# The numbers of a return's lines, copied onto the return: line N (ReturnLine.position, the
# category N of fleet.domain.reference.CATEGORIES) gives line{N}_bev, line{N}_phev,
# line{N}_fcev and line{N}_all_new. The figures sum these few thousand rows, never the tens of
# thousands of lines. Kept in step with the lines at every flush (_copy_lines below); a writer
# that bypasses the ORM (the demo's bulk INSERT) sets them itself, and `flask fleet verify`
# checks them against the lines.
LINE_SLOTS = 8
LINE_MEASURES = ("bev", "phev", "fcev", "all_new")


def line_copy(position: int, measure: str) -> str:
    """The name of the return's column holding `measure` of its line at `position`."""
    return f"line{position}_{measure}"


LINE_COPIES = tuple(line_copy(p, m) for p in range(LINE_SLOTS) for m in LINE_MEASURES)
for _name in LINE_COPIES:
    setattr(MonthlyReturn, _name, mapped_column(Integer, nullable=False, default=0,
                                               server_default="0"))


def copies_of_lines(lines) -> dict[str, int]:
    """The copied columns' values for these lines (anything with position and the measures)."""
    values = dict.fromkeys(LINE_COPIES, 0)
    for line in lines:
        for measure in LINE_MEASURES:
            values[line_copy(line.position, measure)] = getattr(line, measure) or 0
    return values


class ReturnRevision(db.Model):
    """The full numbers of a return at one submission, kept forever."""

    id: Mapped[int] = mapped_column(primary_key=True)
    return_id: Mapped[int] = mapped_column(
        ForeignKey("monthly_return.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    late: Mapped[bool] = mapped_column(default=False)
    # {"lines": {category: {bev, phev, fcev, all_new}}, "charging_points", "swap_stations", "notes"}
    data: Mapped[dict] = mapped_column(JSON)
    # SHA-256 (hex) of this revision's canonical form chained to the previous revision's
    # hash (fleet.domain.integrity.revision_hash); `flask fleet verify` recomputes it.
    hash: Mapped[str] = mapped_column(String(64))
    # SHA-256 of the month's roster sorted by VIN (fleet.domain.roster.roster_digest), so a
    # roster changed after the submission is detectable; None without a roster.
    roster_sha256: Mapped[str | None] = mapped_column(String(64))

    created_by: Mapped[User | None] = relationship()
    monthly_return: Mapped[MonthlyReturn] = relationship()

    __table_args__ = (
        UniqueConstraint("return_id", "number", name="uq_revision_number"),
    )

    @property
    def nev_total(self) -> int:
        return sum(line.get(k, 0) for line in self.data["lines"].values()
                   for k in ("bev", "phev", "fcev"))


class DataVersion(db.Model):
    """One row: a counter bumped in the same transaction as every write of the data the
    figures read, so that the figures' caches are keyed in O(1) (one primary-key read).

    `generation` changes when a database is restored, so a shared cache never mistakes the
    restored data's counter for the one it held before.
    """

    __tablename__ = "data_version"

    id: Mapped[int] = mapped_column(primary_key=True)
    counter: Mapped[int] = mapped_column(BigInteger, default=0)
    generation: Mapped[str] = mapped_column(String(32))


# The row exists from the moment the table does (create_all; the migration inserts it too).
event.listen(DataVersion.__table__, "after_create", DDL(
    "INSERT INTO data_version (id, counter, generation) "
    f"VALUES (1, 0, '{uuid.uuid4().hex}')"))

# Writes that change no figure: they leave the figures' caches alone.
NO_FIGURES = frozenset({"audit_event", "user", "data_version", "integrity_check", "api_token",
                        "notice", "outbox_mail", "job", "roster_upload"})


def bump_data_version(session: Session) -> None:
    """Move the data version in the current transaction (Core: no ORM events, no autoflush)."""
    session.connection().execute(
        update(DataVersion.__table__).where(DataVersion.__table__.c.id == 1)
        .values(counter=DataVersion.__table__.c.counter + 1))


def _changes_figures(session: Session) -> bool:
    changed = chain(session.new, session.deleted,
                    (o for o in session.dirty if session.is_modified(o)))
    return any(getattr(o, "__tablename__", None) not in NO_FIGURES for o in changed)


@event.listens_for(Session, "before_flush")
def _bump_on_flush(session, _flush_context, _instances) -> None:
    if _changes_figures(session):
        bump_data_version(session)


@event.listens_for(Session, "before_flush")
def _copy_lines(session, _flush_context, _instances) -> None:
    """Every return whose lines are new, changed or removed gets their copies (LINE_COPIES)."""
    touched = set()
    with session.no_autoflush:
        for obj in chain(session.new, session.dirty, session.deleted):
            if isinstance(obj, ReturnLine) and obj.monthly_return is not None:
                touched.add(obj.monthly_return)
            elif isinstance(obj, MonthlyReturn) and (
                    obj in session.new or inspect(obj).attrs.lines.history.has_changes()):
                touched.add(obj)
        for ret in touched:
            if ret in session.deleted:
                continue
            for name, value in copies_of_lines(ret.lines).items():
                if getattr(ret, name) != value:
                    setattr(ret, name, value)


@event.listens_for(Session, "do_orm_execute")
def _bump_on_bulk_write(state) -> None:
    """INSERT/UPDATE/DELETE statements run through the session (the demo's bulk inserts)."""
    if state.is_insert or state.is_update or state.is_delete:
        table = getattr(state.statement, "table", None)
        if table is not None and table.name not in NO_FIGURES:
            bump_data_version(state.session)


class ApiToken(db.Model):
    """A named, expiring, revocable API token that acts as its user. Only the SHA-256 of
    the secret is kept: the secret itself is shown once, when the token is created."""

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    # hex SHA-256 of the whole secret; the secret has 256 bits of entropy, so no salt or
    # slow hash is needed (nothing to brute-force), and a lookup is one indexed equality.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The first characters of the secret, so its owner can tell tokens apart.
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    last_used_ip: Mapped[str | None] = mapped_column(String(45))
    revoked: Mapped[bool] = mapped_column(default=False)
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()


class IntegrityCheck(db.Model):
    """The result of one run of `flask fleet verify` (or of the admin page's button)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # Who ran it: a user name, or what the command line was told (e.g. "cron").
    by: Mapped[str] = mapped_column(String(64))
    returns_checked: Mapped[int]
    revisions_checked: Mapped[int]
    mismatch_count: Mapped[int]
    # [{city, city_name, period, revision, field, stored, expected}], the first few hundred.
    mismatches: Mapped[list] = mapped_column(JSON)


class Notice(db.Model):
    """A message in a user's inbox. Kept as a kind and its parameters, so that it reads in
    whatever language the user uses when opening it (fleet.domain.notices.render)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    return_id: Mapped[int | None] = mapped_column(
        ForeignKey("monthly_return.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_notice_user_read", "user_id", "read_at"),)


class Reminder(db.Model):
    """A reminder (催报) sent to a city for a month, by a reviewer or by `flask fleet remind`.

    `key` makes the automatic ones idempotent: one per kind, city and month.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # manual, before_due, after_due
    city_id: Mapped[int] = mapped_column(ForeignKey("city.id"))
    period: Mapped[str] = mapped_column(String(7))
    message: Mapped[str] = mapped_column(Text, default="")
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    sent_by_name: Mapped[str] = mapped_column(String(64), default="")
    recipients: Mapped[int] = mapped_column(default=0)

    __table_args__ = (Index("ix_reminder_period_city", "period", "city_id"),)


class OutboxMail(db.Model):
    """An e-mail written in the same transaction as its notice; sent after the commit, and
    retried by `flask fleet remind` while the mail server does not take it."""

    id: Mapped[int] = mapped_column(primary_key=True)
    to_addr: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")


class Attachment(db.Model):
    """The scan of the printed, signed and sealed return (盖章扫描件). Never overwritten: each
    upload is a new row and a new file, tied to the submission it was attached to."""

    id: Mapped[int] = mapped_column(primary_key=True)
    return_id: Mapped[int] = mapped_column(ForeignKey("monthly_return.id", ondelete="CASCADE"),
                                           index=True)
    revision_number: Mapped[int]  # the submission (ReturnRevision.number) it belongs to
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(8))  # pdf, jpeg, png (from the content)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int]
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)

    uploaded_by: Mapped[User | None] = relationship()
class Vehicle(db.Model):
    """One newly deployed NEV of a city-month's roster (车辆明细). A VIN is counted once in
    the whole country: the unique constraint holds it against any race."""

    id: Mapped[int] = mapped_column(primary_key=True)
    vin: Mapped[str] = mapped_column(String(17))
    return_id: Mapped[int]
    city_id: Mapped[int]
    period: Mapped[str] = mapped_column(String(7))
    category: Mapped[str] = mapped_column(String(16))
    powertrain: Mapped[str] = mapped_column(String(8))
    in_service_date: Mapped[date]
    plate: Mapped[str] = mapped_column(String(16), default="")
    operator: Mapped[str] = mapped_column(String(200))
    model: Mapped[str] = mapped_column(String(100), default="")
    maker: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        UniqueConstraint("vin", name="uq_vehicle_vin"),
        # In its return's city and month, by one key: the database refuses a vehicle filed
        # elsewhere, and checks one key per inserted vehicle where two keys cost a quarter of
        # a roster's import on PostgreSQL.
        ForeignKeyConstraint(["return_id", "city_id", "period"],
                             ["monthly_return.id", "monthly_return.city_id",
                              "monthly_return.period"],
                             name="fk_vehicle_return", ondelete="CASCADE"),
        # The one index besides the VIN's: a month's roster, by VIN. Exports filtered by
        # city or month reach it through their returns (fleet.domain.vehicles); indexes of
        # their own cost every import a fifth of its insert (migration 0015).
        Index("ix_vehicle_return", "return_id", "vin"),
    )


class RosterConflict(db.Model):
    """A refused claim of a VIN already counted: who tried, when, and which city-month
    holds it (the city clerk is not told the other city; the ministry sees both)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    vin: Mapped[str] = mapped_column(String(17), index=True)
    city_id: Mapped[int] = mapped_column(ForeignKey("city.id"))
    period: Mapped[str] = mapped_column(String(7))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    username: Mapped[str] = mapped_column(String(64), default="")
    holder_city_id: Mapped[int] = mapped_column(ForeignKey("city.id"))
    holder_period: Mapped[str] = mapped_column(String(7))
    source: Mapped[str] = mapped_column(String(16), default="upload")

    city: Mapped[City] = relationship(foreign_keys=[city_id])
    holder_city: Mapped[City] = relationship(foreign_keys=[holder_city_id])


class RosterUpload(db.Model):
    """A roster file between its dry run and its confirmation (or its error download).

    Kept in the database, not on one web node's disk, so any node can confirm it.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    city_id: Mapped[int] = mapped_column(ForeignKey("city.id"))
    period: Mapped[str] = mapped_column(String(7))
    filename: Mapped[str] = mapped_column(String(255), default="")
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class Job(db.Model):
    """A piece of long work that leaves the request (fleet.domain.jobs): the national roster
    export, the check of a large roster upload and its saving, the summary workbook of many
    cities.

    Run by an RQ worker (with FLEET_REDIS_URL) or in a thread of the web process. The row is
    the one record of it that every node reads: its progress, its error, its file.
    `active_key` holds the request key while the job may be reused (queued, running, or done
    with its file still fresh); unique, so the same request is never run twice, not even
    when two nodes take the same click at once. It is emptied when the job fails or expires.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"),
                                                index=True)
    username: Mapped[str] = mapped_column(String(64), default="")
    # The scope: a city's job, or (None) the nation's, for the ministry's side only.
    city_id: Mapped[int | None] = mapped_column(ForeignKey("city.id"))
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    key: Mapped[str] = mapped_column(String(64), index=True)
    active_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    # queued, running, done, failed, expired
    status: Mapped[str] = mapped_column(String(16), default="queued")
    done: Mapped[int] = mapped_column(BigInteger, default=0)
    total: Mapped[int | None] = mapped_column(BigInteger)
    # Why it failed, in both languages ({"zh": ..., "en": ...}), never a traceback.
    error: Mapped[dict | None] = mapped_column(JSON)
    # What it produced besides its file (the findings of a roster check).
    result: Mapped[dict | None] = mapped_column(JSON)
    file_name: Mapped[str | None] = mapped_column(String(255))  # the stored file's name
    download_name: Mapped[str | None] = mapped_column(String(255))
    mimetype: Mapped[str | None] = mapped_column(String(100))
    file_size: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    started_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    expires_at: Mapped[datetime] = mapped_column(index=True)

    user: Mapped[User | None] = relationship()
    city: Mapped[City | None] = relationship()

    __table_args__ = (
        CheckConstraint("status IN ('queued', 'running', 'done', 'failed', 'expired')",
                        name="ck_job_status"),
    )
