"""Reporting periods: calendar months written 'YYYY-MM'."""

import re
from datetime import date

from babel.dates import format_skeleton

_PERIOD = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])")  # ASCII digits only


def parse_period(text: str) -> str:
    """Return the canonical 'YYYY-MM' form or raise ValueError."""
    text = (text or "").strip()
    if not _PERIOD.fullmatch(text):
        raise ValueError(f"not a month: {text!r}")
    return text


def period_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def first_day(period: str) -> date:
    year, month = period.split("-")
    return date(int(year), int(month), 1)


def add_months(period: str, n: int) -> str:
    year, month = (int(x) for x in period.split("-"))
    index = year * 12 + (month - 1) + n
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def months_between(first: str, last: str) -> list[str]:
    """Every month from first to last, both included."""
    out = []
    current = first
    while current <= last:
        out.append(current)
        current = add_months(current, 1)
    return out


def format_period(period: str, locale: str) -> str:
    """'2025年9月' in Chinese, 'Sep 2025' in English."""
    return format_skeleton("yMMM", first_day(period), locale=locale)


class LazyMonth:
    """A month inside a lazy message, written the way the reader's language writes months
    ('2026年8月', 'Aug 2026') when the message is shown, like the message itself; anything
    that is not a month is shown as it is."""

    def __init__(self, text: str | None):
        self.text = text or "?"

    def __str__(self) -> str:
        from flask_babel import get_locale  # the reader's language, as lazy_gettext reads it

        try:
            period = parse_period(self.text)
        except ValueError:
            return self.text
        try:
            locale = get_locale()
        except RuntimeError:  # no app or request: the interface's first language
            locale = None
        return format_period(period, "en" if locale and locale.language == "en" else "zh")
