"""National progress: the ministry's dashboard, the completeness grid, city pages, charts."""

from flask import Blueprint

from ..charts import VersionedCache

bp = Blueprint("progress", __name__)


@bp.record_once
def _caches(state) -> None:
    # One cache of figures and one of rendered charts per application (per worker process).
    state.app.extensions.setdefault("fleet.figures_cache", VersionedCache(64))
    state.app.extensions.setdefault("fleet.chart_cache", VersionedCache(128))


from . import views  # noqa: E402,F401
