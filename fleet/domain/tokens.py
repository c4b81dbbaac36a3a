"""API tokens: create (the secret shown once), authenticate, list, revoke.

A token acts as its user, with the user's role and city, for the machine API. Only the
SHA-256 of the secret is stored. Plain functions over a session; the caller commits.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from ..models import ApiToken, User, utcnow
from .audit import Actor, record_event
from .errors import DomainError, NotAllowed

DEFAULT_DAYS = 90
MAX_DAYS = 365
MAX_NAME_LENGTH = 100
# "flt_" tells a secret scanner (and a person) what this string is.
SECRET_PREFIX = "flt_"
# last_used_* is written at most this often per token, so that a busy client does not turn
# every read into a write.
LAST_USED_GRANULARITY = timedelta(seconds=60)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class NewToken:
    token: ApiToken
    secret: str  # shown once, never stored


def token_state(token: ApiToken, now: datetime | None = None) -> str:
    """active, expired or revoked."""
    if token.revoked:
        return "revoked"
    if token.expires_at <= (now or utcnow()):
        return "expired"
    return "active"


def create_token(session: Session, actor: Actor, user: User, name: str,
                 expires_days: int | None = DEFAULT_DAYS, *,
                 now: datetime | None = None) -> NewToken:
    """A new token for `user` (a user makes their own; the CLI any user's).

    expires_days: 1 to 365 (default 90). Raises DomainError naming the field.
    """
    if actor.role != "system" and actor.user_id != user.id:
        raise NotAllowed(_l("Your account is not allowed to do this."))
    name = (name or "").strip()
    if not name:
        raise DomainError(_l("Please give the token a name, e.g. the system that uses it."),
                          "name")
    if len(name) > MAX_NAME_LENGTH:
        raise DomainError(_l("The name is limited to %(n)s characters.", n=MAX_NAME_LENGTH),
                          "name")
    days = DEFAULT_DAYS if expires_days is None else expires_days
    if not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise DomainError(_l("A token expires after 1 to %(n)s days.", n=MAX_DAYS),
                          "expires_days")
    if user.active is False:  # (None: a user not flushed yet, active by default)
        raise DomainError(_l("This account is disabled."))
    now = now or utcnow()
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user=user, name=name, token_hash=hash_secret(secret),
                     prefix=secret[:10], created_at=now,
                     expires_at=now + timedelta(days=days))
    session.add(token)
    session.flush()
    record_event(session, actor, "token.create", "api_token", token.id, None,
                 {"user": user.username, "name": name, "expires_at": token.expires_at},
                 detail=f"{user.username}: {name}")
    return NewToken(token, secret)


def authenticate(session: Session, secret: str, ip: str | None,
                 now: datetime | None = None) -> ApiToken | None:
    """The active token with this secret, whose user is active; None otherwise.

    Records when and from where it was last used (at most once a minute per token, or when
    the address changes); the caller commits when `session.dirty`.
    """
    if not secret or len(secret) > 200:
        return None
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_secret(secret))
                           .options(joinedload(ApiToken.user)))
    now = now or utcnow()
    if token is None or token_state(token, now) != "active" or not token.user.active:
        return None
    if (token.last_used_at is None or token.last_used_ip != ip
            or now - token.last_used_at >= LAST_USED_GRANULARITY):
        token.last_used_at = now
        token.last_used_ip = ip
    return token


def tokens_of(session: Session, user: User) -> list[ApiToken]:
    """A user's tokens, newest first."""
    return list(session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)
                                .order_by(ApiToken.id.desc())))


def all_tokens(session: Session) -> list[ApiToken]:
    """Every token of every user, newest first (for the admin)."""
    return list(session.scalars(select(ApiToken).options(joinedload(ApiToken.user))
                                .order_by(ApiToken.id.desc())))


def revoke_token(session: Session, actor: Actor, token: ApiToken, *,
                 now: datetime | None = None) -> None:
    """Its owner, an admin or the CLI revokes a token; it stops working at once."""
    if actor.role not in ("admin", "system") and actor.user_id != token.user_id:
        raise NotAllowed(_l("Your account is not allowed to do this."))
    if token.revoked:
        return
    token.revoked = True
    token.revoked_at = now or utcnow()
    record_event(session, actor, "token.revoke", "api_token", token.id,
                 {"revoked": False}, {"revoked": True},
                 detail=f"{token.user.username}: {token.name}")
