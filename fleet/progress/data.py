"""The figures and charts the views serve, computed once per data version and then cached.

Every key carries fleet.figures.data_version() (one cheap query), so a new return, a
review, a target or a setting changed makes new keys at once; nothing stale is served.
"""

from collections.abc import Callable
from hashlib import sha1

from flask import current_app, g

from .. import charts, figures
from ..extensions import db
from ..models import City
from ..programme import local_today


def figures_cache() -> charts.VersionedCache:
    return current_app.extensions["fleet.figures_cache"]


def chart_cache() -> charts.VersionedCache:
    return current_app.extensions["fleet.chart_cache"]


def data_version() -> str:
    """The data version, read once per request."""
    if "fleet_data_version" not in g:
        g.fleet_data_version = figures.data_version(db.session)
    return g.fleet_data_version


def _key(*parts) -> tuple:
    # `today` decides which months are due and the default month.
    return (*parts, local_today(), data_version())


def national(basis: str, through: str | None) -> figures.Progress:
    key = _key("national", basis, through)
    return figures_cache().get_or_make(key, lambda: figures.national_progress(
        db.session, basis, through, today=key[-2]))


def city(city: City, basis: str, through: str | None) -> figures.CityProgress:
    key = _key("city", city.id, basis, through)
    return figures_cache().get_or_make(key, lambda: figures.city_progress(
        db.session, city, basis, through, today=key[-2]))


def grid(through: str | None) -> figures.Grid:
    key = _key("grid", through)
    return figures_cache().get_or_make(key, lambda: figures.completeness_grid(
        db.session, through, today=key[-2]))


def chart_key(*parts) -> tuple[tuple, str]:
    """The cache key of a chart and its ETag."""
    key = _key("chart", *parts)
    return key, sha1(repr(key).encode()).hexdigest()[:24]


def chart(key: tuple, render: Callable[[], bytes]) -> bytes:
    return chart_cache().get_or_make(key, render)
