"""Accounts: password policy, sign-in with lock-out, user management."""

import re
import secrets
import string
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from ..models import City, User, utcnow
from .audit import Actor, changed_fields, record_event
from .errors import DomainError
from .reference import ROLES
from .text import clean_text

MAX_DISPLAY_NAME = 100

USERNAME = re.compile(r"^[A-Za-z0-9_.-]{3,64}$")


class PasswordPolicy:
    """Length and character classes, as MLPS 2.0 (等保2.0) assessors expect. Configurable."""

    def __init__(self, min_length: int = 10, min_classes: int = 3):
        self.min_length = min_length
        self.min_classes = min_classes

    @staticmethod
    def classes(password: str) -> int:
        groups = (
            any(c.islower() for c in password),
            any(c.isupper() for c in password),
            any(c.isdigit() for c in password),
            any(not c.isalnum() for c in password),
        )
        return sum(groups)

    def check(self, password: str, username: str = "") -> None:
        """Raise DomainError (field 'password') when the password is too weak."""
        if len(password or "") < self.min_length:
            raise DomainError(
                _l("The password must have at least %(n)s characters.", n=self.min_length),
                "password")
        if self.classes(password) < self.min_classes:
            raise DomainError(
                _l("The password must mix at least %(n)s of: lower-case letters, upper-case "
                   "letters, digits, symbols.", n=self.min_classes), "password")
        if username and username.lower() in password.lower():
            raise DomainError(_l("The password must not contain the user name."), "password")

    def generate(self) -> str:
        """A random password that satisfies the policy (for one-time passwords)."""
        alphabet = string.ascii_letters + string.digits + "-_@#%"
        while True:
            candidate = "".join(secrets.choice(alphabet)
                                for _ in range(max(14, self.min_length)))
            if self.classes(candidate) >= max(self.min_classes, 3):
                return candidate


class SignInRefused(DomainError):
    pass


def user_by_username(session: Session, username: str) -> User | None:
    wanted = (username or "").strip().lower()
    return session.scalar(select(User).where(func.lower(User.username) == wanted))


def authenticate(session: Session, username: str, password: str, ip: str | None, *,
                 max_failures: int, lockout_minutes: int, now: datetime | None = None) -> User:
    """Check the credentials; count failures and lock the account after too many.

    Every refusal is audited and raises SignInRefused with a message that does not say
    whether the user name exists (except for lock-out, which the owner must learn of).
    """
    now = now or utcnow()
    user = user_by_username(session, username)
    actor = Actor(user.id if user else None, (username or "")[:64], ip)
    if user is not None and user.locked_until and user.locked_until > now:
        record_event(session, actor, "auth.login_refused", "user", user.id, detail="locked")
        minutes = max(1, int((user.locked_until - now).total_seconds() // 60) + 1)
        raise SignInRefused(_l("Too many failed attempts: the account is locked for "
                               "%(n)s more minutes.", n=minutes))
    if user is None or not check_password_hash(user.password_hash, password or ""):
        if user is not None:
            user.failed_logins += 1
            if user.failed_logins >= max_failures:
                user.locked_until = now + timedelta(minutes=lockout_minutes)
                user.failed_logins = 0
                record_event(session, actor, "auth.locked", "user", user.id,
                             detail=f"locked for {lockout_minutes} minutes")
        record_event(session, actor, "auth.login_failed", "user", user.id if user else "")
        raise SignInRefused(_l("Wrong user name or password."))
    if not user.active:
        record_event(session, actor, "auth.login_refused", "user", user.id, detail="disabled")
        raise SignInRefused(_l("This account is disabled. Ask an administrator."))
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    record_event(session, actor, "auth.login", "user", user.id)
    return user


def _check_role_city(role: str, city: City | None) -> None:
    if role not in ROLES:
        raise DomainError(_l("Unknown role."), "role")
    if role == "city" and city is None:
        raise DomainError(_l("A city user must belong to a city."), "city")
    if role != "city" and city is not None:
        raise DomainError(_l("Only city users belong to a city."), "city")


def _snapshot(user: User) -> dict:
    return dict(username=user.username, display_name=user.display_name, role=user.role,
                city=user.city.code if user.city else None, active=user.active,
                must_change_password=user.must_change_password)


def create_user(session: Session, actor: Actor, policy: PasswordPolicy, *, username: str,
                password: str, role: str, city: City | None = None, display_name: str = "",
                must_change_password: bool = True) -> User:
    """Create an account. A password chosen by someone else must be changed at first sign-in."""
    username = (username if isinstance(username, str) else "").strip()
    if not USERNAME.fullmatch(username):
        raise DomainError(_l("User names have 3 to 64 letters, digits, dots, dashes or "
                             "underscores."), "username")
    if user_by_username(session, username):
        raise DomainError(_l("This user name is already taken."), "username")
    _check_role_city(role, city)
    policy.check(password, username)
    display_name = clean_text(display_name, "display_name", max_length=MAX_DISPLAY_NAME)
    user = User(username=username, display_name=display_name,
                password_hash=generate_password_hash(password), role=role, city=city,
                must_change_password=must_change_password, password_changed_at=utcnow())
    session.add(user)
    session.flush()
    record_event(session, actor, "user.create", "user", user.id, after=_snapshot(user))
    return user


def update_user(session: Session, actor: Actor, user: User, *, role: str,
                city: City | None, display_name: str, active: bool) -> User:
    """Change a user's role, city, name or active flag."""
    _check_role_city(role, city)
    display_name = clean_text(display_name, "display_name", max_length=MAX_DISPLAY_NAME)
    if actor.user_id == user.id and (not active or role != user.role):
        raise DomainError(_l("You cannot disable your own account or change your own role."),
                          "active")
    before = _snapshot(user)
    user.role = role
    user.city = city
    user.display_name = display_name
    user.active = active
    if active and not before["active"]:
        user.failed_logins = 0
        user.locked_until = None
    old, new = changed_fields(before, _snapshot(user))
    if new:
        record_event(session, actor, "user.update", "user", user.id, old, new)
    return user


def reset_password(session: Session, actor: Actor, policy: PasswordPolicy, user: User,
                   password: str) -> User:
    """An admin sets a new password; the user must change it at next sign-in."""
    policy.check(password, user.username)
    user.password_hash = generate_password_hash(password)
    user.must_change_password = True
    user.failed_logins = 0
    user.locked_until = None
    user.password_changed_at = utcnow()
    record_event(session, actor, "user.reset_password", "user", user.id)
    return user


def change_password(session: Session, actor: Actor, policy: PasswordPolicy, user: User,
                    current: str, new: str) -> User:
    """The user replaces their own password."""
    if not check_password_hash(user.password_hash, current or ""):
        raise DomainError(_l("The current password is wrong."), "current_password")
    if current == new:
        raise DomainError(_l("The new password must differ from the current one."), "password")
    policy.check(new, user.username)
    user.password_hash = generate_password_hash(new)
    user.must_change_password = False
    user.password_changed_at = utcnow()
    record_event(session, actor, "user.change_password", "user", user.id)
    return user


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.role, User.username)))
