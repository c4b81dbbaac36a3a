"""Helpers for the machine API tests: tokens for users, bearer headers, a return body."""

from fleet.domain import tokens
from fleet.domain.audit import Actor
from fleet.extensions import db


def token_for(user, name: str = "test", days: int = 90) -> str:
    """A new API token's secret for `user`, made as the CLI makes it."""
    new = tokens.create_token(db.session, Actor.system("test"), user, name, days)
    db.session.commit()
    return new.secret


def bearer(secret: str, version=None, lang: str | None = None) -> dict:
    headers = {"Authorization": f"Bearer {secret}"}
    if version is not None:
        headers["If-Match"] = f'"{version}"'
    if lang:
        headers["Accept-Language"] = lang
    return headers


def body(notes: str = "", charging_points: int = 0, swap_stations: int = 0, **lines) -> dict:
    """A PUT body: the given lines (by form field name), zeros elsewhere."""
    return {"lines": lines,
            "infrastructure": {"charging_points": charging_points,
                               "swap_stations": swap_stations},
            "notes": notes}
