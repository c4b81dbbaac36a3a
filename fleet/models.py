"""Database tables. Behaviour lives in the domain modules; here only columns, constraints and
small derived properties."""

import uuid
from datetime import datetime, timezone
from itertools import chain

from flask_login import UserMixin
from sqlalchemy import (
    DDL,
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    and_,
    event,
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

    city: Mapped[City | None] = relationship()

    __table_args__ = (
        CheckConstraint(
            "role IN ('city', 'ministry', 'admin', 'viewer')", name="ck_user_role"
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
NO_FIGURES = frozenset({"audit_event", "user", "data_version"})


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


@event.listens_for(Session, "do_orm_execute")
def _bump_on_bulk_write(state) -> None:
    """INSERT/UPDATE/DELETE statements run through the session (the demo's bulk inserts)."""
    if state.is_insert or state.is_update or state.is_delete:
        table = getattr(state.statement, "table", None)
        if table is not None and table.name not in NO_FIGURES:
            bump_data_version(state.session)
