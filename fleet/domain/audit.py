"""The one audit function every write goes through."""

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import AuditEvent, User


@dataclass(frozen=True)
class Actor:
    """Who acts, and from which address. Views build it from the request; the CLI too."""

    user_id: int | None
    username: str
    ip: str | None = None
    # What the actor may do: the role, and for a city user the one city it acts for.
    role: str | None = None
    city_id: int | None = None

    @classmethod
    def of(cls, user: User | None, ip: str | None = None) -> "Actor":
        if user is None:
            return cls(None, "", ip)
        return cls(user.id, user.username, ip, user.role, user.city_id)

    @classmethod
    def system(cls, name: str = "cli") -> "Actor":
        """The command line: acts with full rights, recorded under its own name."""
        return cls(None, name, None, "system")


def _plain(value):
    """JSON-safe copy of before/after values."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


def record_event(
    session: Session,
    actor: Actor,
    action: str,
    target_type: str = "",
    target_id: object = "",
    before: dict | None = None,
    after: dict | None = None,
    detail: str = "",
) -> AuditEvent:
    """Add an audit event to the session; it commits (or rolls back) with the change itself."""
    event = AuditEvent(
        user_id=actor.user_id,
        username=actor.username,
        ip=actor.ip,
        action=action,
        target_type=target_type,
        target_id=str(target_id or ""),
        before=_plain(before) if before is not None else None,
        after=_plain(after) if after is not None else None,
        detail=detail[:2000],
    )
    session.add(event)
    return event


def changed_fields(before: dict, after: dict) -> tuple[dict, dict]:
    """Only the keys whose values differ, for compact audit entries."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


def recent_events(session: Session, *, action: str | None = None, username: str | None = None,
                  target_type: str | None = None, target_id: str | None = None,
                  limit: int = 100, offset: int = 0):
    """Audit events, newest first, optionally filtered."""
    query = select(AuditEvent).order_by(AuditEvent.id.desc())
    if action:
        query = query.where(AuditEvent.action == action)
    if username:
        query = query.where(AuditEvent.username == username)
    if target_type:
        query = query.where(AuditEvent.target_type == target_type)
    if target_id:
        query = query.where(AuditEvent.target_id == target_id)
    return session.scalars(query.limit(limit).offset(offset)).all()
