"""Accounts: password policy, sign-in with lock-out, user management."""

import re
import secrets
import string
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path

from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from ..models import City, DataVersion, User, utcnow
from .audit import Actor, changed_fields, record_event
from .errors import DomainError
from .figures import DATA_VERSION
from .notices import unread_of
from .reference import ROLES
from .text import clean_text

MAX_DISPLAY_NAME = 100

USERNAME = re.compile(r"^[A-Za-z0-9_.-]{3,64}$")
COMMON_PASSWORDS_FILE = Path(__file__).parent / "data" / "common_passwords.txt"
# Letters that people write as digits or symbols ("P@ssw0rd", "Adm1n"), read back as letters
# (a 1 stands for an l or an i: both readings are tried).
UNLEET = (str.maketrans("@4$5013!7|", "aassoleitl"), str.maketrans("@4$5013!7|", "aassoieitl"))
EDGES = string.digits + string.punctuation + string.whitespace
# The one answer to every refused sign-in, whether the name exists, the password is wrong or
# the account is locked: it must not tell anyone which names exist.
SIGN_IN_REFUSED = _l("Wrong user name or password, or the account is locked for a while after "
                     "repeated failures.")


@cache
def common_passwords() -> frozenset[str]:
    """The most common passwords (lower-case), shipped in data/ (see its README for the source)."""
    with open(COMMON_PASSWORDS_FILE, encoding="utf-8") as fh:
        return frozenset(line.strip() for line in fh if line.strip())


def is_common_password(password: str) -> bool:
    """True when the password, ignoring case, is a common one, or one with digits and symbols
    written for letters (P@ssw0rd), or one with digits or symbols merely added before or after
    (Password123!, Admin@123456): guessers try exactly these variations first."""
    lower = (password or "").lower()
    core = lower.strip(EDGES)
    candidates = {lower, core}
    for table in UNLEET:
        # "P@ssw0rd2024": the word without what was added around it, read as letters.
        candidates |= {lower.translate(table), core.translate(table)}
    common = common_passwords()
    return any(candidate in common for candidate in candidates if candidate)

# Enough to catch a typo; the mail server has the last word.
EMAIL = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$")


class PasswordPolicy:
    """Length, character classes and no common password, as MLPS 2.0 (等保2.0) assessors expect.
    Configurable."""

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
        if is_common_password(password):
            raise DomainError(_l("This password is one of the most common ones (or one of them "
                                 "with a few digits or symbols added): choose another."),
                              "password")

    def generate(self) -> str:
        """A random password that satisfies the policy (for one-time passwords)."""
        alphabet = string.ascii_letters + string.digits + "-_@#%"
        while True:
            candidate = "".join(secrets.choice(alphabet)
                                for _ in range(max(14, self.min_length)))
            if (self.classes(candidate) >= max(self.min_classes, 3)
                    and not is_common_password(candidate)):
                return candidate


class SignInRefused(DomainError):
    pass


def user_by_username(session: Session, username: str) -> User | None:
    wanted = (username or "").strip().lower()
    return session.scalar(select(User).where(func.lower(User.username) == wanted))


@cache
def _dummy_hash() -> str:
    """The hash that an unknown user name's password is checked against, made like real ones,
    so that an unknown name costs the same time as a known one."""
    return generate_password_hash(secrets.token_urlsafe(16))


def authenticate(session: Session, username: str, password: str, ip: str | None, *,
                 max_failures: int, lockout_minutes: int, now: datetime | None = None) -> User:
    """Check the credentials; count failures and lock the account after too many.

    Every refusal is audited. An unknown name, a wrong password and a locked account get the
    same SignInRefused message after the same work (one password hash checked), so that
    neither the answer nor its time tells whether the name exists. Only the holder of the
    right password learns that an account is disabled.
    """
    now = now or utcnow()
    user = user_by_username(session, username)
    password_ok = check_password_hash(user.password_hash if user else _dummy_hash(),
                                      password or "")
    actor = Actor(user.id if user else None, (username or "")[:64], ip)
    if user is not None and user.locked_until and user.locked_until > now:
        record_event(session, actor, "auth.login_refused", "user", user.id, detail="locked")
        raise SignInRefused(SIGN_IN_REFUSED)
    if user is None or not password_ok:
        if user is not None:
            user.failed_logins += 1
            if user.failed_logins >= max_failures:
                user.locked_until = now + timedelta(minutes=lockout_minutes)
                user.failed_logins = 0
                record_event(session, actor, "auth.locked", "user", user.id,
                             detail=f"locked for {lockout_minutes} minutes")
        record_event(session, actor, "auth.login_failed", "user", user.id if user else "")
        raise SignInRefused(SIGN_IN_REFUSED)
    if not user.active:
        record_event(session, actor, "auth.login_refused", "user", user.id, detail="disabled")
        raise SignInRefused(_l("This account is disabled. Ask an administrator."))
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    record_event(session, actor, "auth.login", "user", user.id)
    return user


@dataclass(frozen=True, eq=False)
class SessionUser:
    """The signed-in user as every request reads it: plain values, no ORM object. Loading a
    User through the ORM cost more than serving a cached page; a view that changes the user
    loads the User itself (fleet.web.signed_in_user)."""

    id: int
    username: str
    display_name: str
    role: str
    city_id: int | None
    active: bool
    must_change_password: bool
    session_epoch: int
    language: str


_SESSION_USER_COLUMNS = [User.__table__.c[name] for name in SessionUser.__dataclass_fields__]


@dataclass(frozen=True)
class SignedIn:
    """A signed-in user with the two numbers every page of theirs needs: the data version
    that keys the caches (fleet.domain.figures.data_version) and the unread notices of the
    menu."""

    user: SessionUser
    data_version: str
    unread: int


# The one read of every signed-in request (see signed_in).
SIGNED_IN = (select(*_SESSION_USER_COLUMNS, DATA_VERSION, unread_of(User.id).label("unread"))
             .outerjoin(DataVersion, DataVersion.id == 1)
             .where(User.id == bindparam("user_id")))


def signed_in(row: tuple | None, make_user: type[SessionUser] = SessionUser
              ) -> SignedIn | None:
    """The user of a session (None if there is no such user), the data version and the
    user's unread notices, from the row of SIGNED_IN: one query, as round trips are most of
    what a cached page costs and every request of a signed-in user asks for all three.
    `make_user` is the class to build (the web's adds Flask-Login's methods)."""
    if row is None:
        return None
    *values, version, unread = row
    fields = dict(zip(SessionUser.__dataclass_fields__, values, strict=True))
    for name in ("active", "must_change_password"):  # SQLite's driver gives 0/1
        fields[name] = bool(fields[name])
    return SignedIn(make_user(**fields), version or "empty", unread or 0)


def end_sessions(user: User) -> None:
    """End every session of this user signed in until now, in every browser: each session
    carries the epoch it was signed in with, and a session behind the user's is refused."""
    user.session_epoch = (user.session_epoch or 0) + 1


def sign_out(session: Session, actor: Actor, user: User) -> None:
    """Sign out: this session and every other one of the user end on the server, so a copied
    cookie is worth nothing afterwards."""
    end_sessions(user)
    record_event(session, actor, "auth.logout", "user", user.id)


def unlock_user(session: Session, actor: Actor, user: User) -> User:
    """An admin lifts a lock-out before it runs out (the owner asked, on the phone)."""
    if not user.locked_until and not user.failed_logins:
        raise DomainError(_l("This account is not locked."))
    before = dict(locked_until=user.locked_until.isoformat() if user.locked_until else None,
                  failed_logins=user.failed_logins)
    user.locked_until = None
    user.failed_logins = 0
    record_event(session, actor, "user.unlock", "user", user.id, before,
                 dict(locked_until=None, failed_logins=0))
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


def check_email(email: str | None) -> str | None:
    """An e-mail address for notices (optional): None when empty, DomainError if malformed."""
    email = (email or "").strip()
    if not email:
        return None
    if len(email) > 254 or not EMAIL.match(email):
        raise DomainError(_l("This is not an e-mail address (name@example.org)."), "email")
    return email


def update_user(session: Session, actor: Actor, user: User, *, role: str,
                city: City | None, display_name: str, active: bool,
                email: str | None = None) -> User:
    """Change a user's role, city, name, active flag, or e-mail address (None: unchanged;
    an empty text removes it)."""
    _check_role_city(role, city)
    display_name = clean_text(display_name, "display_name", max_length=MAX_DISPLAY_NAME)
    if email is not None:
        email = check_email(email)
        if email != user.email:
            record_event(session, actor, "user.email", "user", user.id,
                         {"email": user.email}, {"email": email})
            user.email = email
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
    if before["active"] and not active:
        end_sessions(user)  # a disabled user is out at once, not at the next sign-in
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
    end_sessions(user)  # whoever knew the old password is out, in every browser
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
    end_sessions(user)  # the caller signs the current browser in again with the new epoch
    record_event(session, actor, "user.change_password", "user", user.id)
    return user


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.role, User.username)))
