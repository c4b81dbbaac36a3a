"""Database tables. Behaviour lives in the domain modules; here only columns, constraints and
small derived properties."""

from datetime import date, datetime, timezone

from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

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


class Vehicle(db.Model):
    """One newly deployed NEV of a city-month's roster (车辆明细). A VIN is counted once in
    the whole country: the unique constraint holds it against any race."""

    id: Mapped[int] = mapped_column(primary_key=True)
    vin: Mapped[str] = mapped_column(String(17))
    return_id: Mapped[int] = mapped_column(ForeignKey("monthly_return.id", ondelete="CASCADE"))
    city_id: Mapped[int] = mapped_column(ForeignKey("city.id"))
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
        Index("ix_vehicle_return", "return_id", "vin"),
        Index("ix_vehicle_city_period", "city_id", "period"),
        Index("ix_vehicle_period", "period"),
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
