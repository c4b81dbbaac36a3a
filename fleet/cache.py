"""The versioned caches of figures, rendered charts and rendered pages, shared by every page,
file and API.

Every key carries fleet.domain.figures.data_version() (read with the signed-in user, one
query per request), so a new return, a review, a target or a setting changed makes new keys
at once; nothing stale is served. Without FLEET_REDIS_URL each worker process keeps its own
small LRU; with it, every worker of every node shares one cache in Redis.

Rendered pages are kept here too (fleet.pages decides what goes in and how a user's own
parts are filled in).
"""

import pickle
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from hashlib import sha1

from flask import Flask, current_app, g, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from .domain import figures
from .domain.programme import local_today
from .extensions import db
from .models import City


class VersionedCache:
    """A small thread-safe LRU for values computed from the database.

    Keys carry the data version, so an entry is never served after the data changed: a new
    version makes new keys, and the old entries fall out of the LRU. `made` counts
    computations, `hits` the values served without one.
    """

    def __init__(self, size: int = 128):
        self.size = size
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        self.made = 0
        self.hits = 0

    def get(self, key: Hashable):
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                self.hits += 1
                return self._items[key]
        return None

    def put(self, key: Hashable, value) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def get_or_make(self, key: Hashable, make: Callable[[], object]):
        value = self.get(key)
        if value is None:
            # Two requests may both compute on a miss; the result is the same, so no lock.
            value = make()
            with self._lock:
                self.made += 1
            self.put(key, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


class RedisCache:
    """The same interface over Redis, for several web nodes: a value computed on one node is
    served by all. Values are pickled plain dataclasses and image bytes; entries expire after
    a day (old versions are never asked for again). Redis is the operator's own server on
    the internal network, trusted like the database."""

    def __init__(self, client, prefix: str, ttl_seconds: int = 86_400):
        self.client = client
        self.prefix = prefix
        self.ttl = ttl_seconds
        self.made = 0
        self.hits = 0

    def _key(self, key: Hashable) -> str:
        return self.prefix + sha1(repr(key).encode()).hexdigest()

    def get(self, key: Hashable):
        raw = self.client.get(self._key(key))
        if raw is None:
            return None
        self.hits += 1
        return pickle.loads(raw)

    def put(self, key: Hashable, value) -> None:
        self.client.set(self._key(key), pickle.dumps(value, pickle.HIGHEST_PROTOCOL),
                        ex=self.ttl)

    def get_or_make(self, key: Hashable, make: Callable[[], object]):
        value = self.get(key)
        if value is None:
            value = make()
            self.made += 1
            self.put(key, value)
        return value

    def clear(self) -> None:
        for name in self.client.scan_iter(match=self.prefix + "*", count=500):
            self.client.delete(name)


def init_app(app: Flask) -> None:
    """In-process caches, or Redis ones when FLEET_REDIS_URL (config REDIS_URL) is set."""
    url = app.config.get("REDIS_URL")
    if url:
        import redis

        client = redis.Redis.from_url(url)
        prefix = app.config.get("REDIS_KEY_PREFIX", "fleet:")
        app.extensions.setdefault("fleet.figures_cache", RedisCache(client, prefix + "fig:"))
        app.extensions.setdefault("fleet.chart_cache", RedisCache(client, prefix + "chart:"))
        app.extensions.setdefault("fleet.page_cache", RedisCache(client, prefix + "page:"))
    else:
        app.extensions.setdefault("fleet.figures_cache", VersionedCache(64))
        app.extensions.setdefault("fleet.chart_cache", VersionedCache(128))
        app.extensions.setdefault("fleet.page_cache", VersionedCache(256))


def figures_cache() -> VersionedCache:
    return current_app.extensions["fleet.figures_cache"]


def chart_cache() -> VersionedCache:
    return current_app.extensions["fleet.chart_cache"]


def page_cache() -> VersionedCache:
    return current_app.extensions["fleet.page_cache"]


def data_version() -> str:
    """The data version, read once per request (with the signed-in user, by the user
    loader), and again after this request's own commit."""
    if "fleet_data_version" not in g:
        g.fleet_data_version = figures.data_version(db.session)
    return g.fleet_data_version


def keep_data_version(version: str) -> None:
    """The data version read along with the user (fleet.domain.accounts.signed_in)."""
    g.fleet_data_version = version


@event.listens_for(Session, "after_commit")
def _forget_data_version(_session) -> None:
    """A commit may have moved the version: the next key reads it again."""
    if has_app_context():
        g.pop("fleet_data_version", None)


def _key(*parts) -> tuple:
    # Today's date is part of every key: it decides which months are due and the default month.
    return (*parts, local_today(), data_version())


def national(basis: str, through: str | None) -> figures.Progress:
    """fleet.domain.figures.national_progress, cached."""
    today = local_today()
    return figures_cache().get_or_make(
        _key("national", basis, through),
        lambda: figures.national_progress(db.session, basis, through, today=today))


def city(city: City, basis: str, through: str | None) -> figures.CityProgress:
    """fleet.domain.figures.city_progress, cached."""
    today = local_today()
    return figures_cache().get_or_make(
        _key("city", city.id, basis, through),
        lambda: figures.city_progress(db.session, city, basis, through, today=today))


def grid(through: str | None) -> figures.Grid:
    """fleet.domain.figures.completeness_grid, cached."""
    today = local_today()
    return figures_cache().get_or_make(
        _key("grid", through),
        lambda: figures.completeness_grid(db.session, through, today=today))


def page_key(*parts) -> tuple:
    """The key of a rendered page: `parts` say what else it depends on (fleet.pages)."""
    return _key("page", *parts)


def chart_key(*parts) -> tuple[tuple, str]:
    """The cache key of a chart and its ETag."""
    key = _key("chart", *parts)
    return key, sha1(repr(key).encode()).hexdigest()[:24]


def chart(key: tuple, render: Callable[[], bytes]) -> bytes:
    return chart_cache().get_or_make(key, render)
