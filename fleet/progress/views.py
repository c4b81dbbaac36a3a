"""Views of national progress: thin wrappers around fleet.domain.figures and charts."""

from flask import Response, abort, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from .. import cache, downloads
from ..domain import charts, notices, returns
from ..domain.periods import months_between, period_of
from ..domain.programme import get_programme, local_today
from ..domain.reference import CATEGORY_BY_CODE
from ..extensions import db
from ..pages import cached_page
from ..web import (
    MINISTRY_SIDE,
    basis_and_through,
    format_period_for_user,
    lang,
    refuse,
    roles_required,
    visible_city,
)
from . import bp
from .reminders import remind_panel


def _category() -> str | None:
    code = request.args.get("category") or None
    if code is not None and code not in CATEGORY_BY_CODE:
        abort(400)
    return code


def _month_choices() -> list[str]:
    """Months one may look at: the window up to the current month, newest first."""
    programme = get_programme(db.session)
    last = min(programme.last_period, max(period_of(local_today()), programme.first_period))
    return months_between(programme.first_period, last)[::-1]


@bp.route("/progress/")
@roles_required(*MINISTRY_SIDE)
@cached_page
def dashboard():
    """The ministry's dashboard: headline, cities, breakdowns, charts."""
    basis, through = basis_and_through()
    category = _category()
    progress = cache.national(basis, through)
    return render_template("progress/dashboard.html", progress=progress, basis=basis,
                           category=CATEGORY_BY_CODE.get(category),
                           months=_month_choices(), chart_args=_chart_args(progress),
                           remind=remind_panel(progress.window.through),
                           summary_job=downloads.summary_in_background(
                               None, len(progress.cities)))


@bp.route("/progress/grid")
@roles_required(*MINISTRY_SIDE)
@cached_page
def grid():
    """Cities × months: the state of every return, with counts."""
    grid = cache.grid(basis_and_through()[1])
    return render_template("progress/grid.html", grid=grid, months=_month_choices(),
                           month_labels={m: format_period_for_user(m) for m in grid.months},
                           cell_url=_cell_links(grid.window.through),
                           marks=notices.reminder_marks(db.session, grid.months),
                           remind=remind_panel(grid.window.through))


@bp.route("/progress/cities/<code>")
@login_required
@cached_page
def city(code: str):
    """One city's progress against its target over time, and its returns."""
    city = visible_city(code)
    basis, through = basis_and_through()
    progress = cache.city(city, basis, through)
    programme = get_programme(db.session)
    calendar = {row.period: row for row in returns.city_months(db.session, programme, city)}
    return render_template("progress/city.html", city=city, progress=progress, basis=basis,
                           months=_month_choices(), calendar=calendar,
                           chart_args=_chart_args(progress), return_url=_return_url)


@bp.route("/progress/my-city")
@roles_required("city")
def my_city():
    """A city user's own city page."""
    return redirect(url_for("progress.city", code=current_user.city.code))


def _chart_args(progress) -> dict:
    return {"basis": progress.basis, "through": progress.window.through}


def _return_url(period: str, ret) -> str | None:
    """Where a return is read: the review page for the ministry, the form for the city."""
    if ret is None:
        return None
    if current_user.role == "city":
        return url_for("returns.edit", period=period)
    return url_for("review.detail", return_id=ret.id)


def _cell_links(through: str):
    """A grid cell links to its return, or to the city's month when there is none.

    The URLs are built from two patterns, not by url_for per cell: a grid has thousands.
    """
    marker = "999999999"
    review = url_for("review.detail", return_id=int(marker)).replace(marker, "{}")
    city = url_for("progress.city", code=marker, through=through).replace(marker, "{}")

    def link(row, cell) -> str:
        if cell.return_id is not None:
            return review.format(cell.return_id)
        return city.format(row.code) + f"#m-{cell.period}"

    return link


# --- charts -------------------------------------------------------------------------------------

def _image(key_parts: tuple, fmt: str, render) -> Response:
    """A chart from the cache (rendered on a miss), with an ETag; 304 when unchanged."""
    if fmt not in charts.FORMATS:
        abort(404)
    key, etag = cache.chart_key(*key_parts, fmt, lang())
    if request.if_none_match.contains(etag):
        response = Response(status=304)
    else:
        response = Response(cache.chart(key, render), mimetype=charts.FORMATS[fmt])
    response.set_etag(etag)
    # Revalidate every time: a new return must show at once; the 304 keeps it cheap.
    response.cache_control.private = True
    response.cache_control.no_cache = True
    return response


@bp.route("/progress/charts/<kind>.<fmt>")
@login_required
def chart(kind: str, fmt: str):
    """A national chart as PNG or SVG. City users get the national headline chart only."""
    if kind not in charts.KINDS:
        abort(404)
    if kind != "national" and current_user.role not in MINISTRY_SIDE:
        refuse(403)
    basis, through = basis_and_through()
    language = lang()
    return _image((kind, basis, through), fmt, lambda: charts.progress_chart(
        kind, cache.national(basis, through), fmt, language))


@bp.route("/progress/cities/<code>/chart.<fmt>")
@login_required
def city_chart(code: str, fmt: str):
    """One city's cumulative NEVs against its target, as PNG or SVG."""
    city = visible_city(code)
    basis, through = basis_and_through()
    language = lang()
    return _image(("city", city.id, basis, through), fmt, lambda: charts.city_chart(
        cache.city(city, basis, through), fmt, language))
