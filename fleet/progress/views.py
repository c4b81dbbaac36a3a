"""Views of national progress: thin wrappers around fleet.figures and fleet.charts."""

from flask import Response, abort, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from .. import charts, figures, returns
from ..cities import city_by_code
from ..extensions import db
from ..models import City
from ..periods import months_between, parse_period, period_of
from ..programme import get_programme, local_today
from ..reference import CATEGORY_BY_CODE
from ..web import format_period_for_user, lang, roles_required
from . import bp, data

MINISTRY_SIDE = ("ministry", "viewer", "admin")


def _basis() -> str:
    try:
        return figures.parse_basis(request.args.get("basis"))
    except ValueError:
        abort(400)


def _through() -> str | None:
    text = request.args.get("through")
    if not text:
        return None
    try:
        return parse_period(text)
    except ValueError:
        abort(400)


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


def _visible_city(code: str) -> City:
    """The city, if the user may see it; a city user sees only its own (else 404)."""
    city = city_by_code(db.session, code)
    if city is None:
        abort(404)
    if current_user.role == "city" and current_user.city_id != city.id:
        abort(404)
    return city


@bp.route("/")
@roles_required(*MINISTRY_SIDE)
def dashboard():
    """The ministry's dashboard: headline, cities, breakdowns, charts."""
    basis, through, category = _basis(), _through(), _category()
    progress = data.national(basis, through)
    return render_template("progress/dashboard.html", progress=progress, basis=basis,
                           category=CATEGORY_BY_CODE.get(category),
                           months=_month_choices(), chart_args=_chart_args(progress))


@bp.route("/grid")
@roles_required(*MINISTRY_SIDE)
def grid():
    """Cities × months: the state of every return, with counts."""
    grid = data.grid(_through())
    return render_template("progress/grid.html", grid=grid, months=_month_choices(),
                           month_labels={m: format_period_for_user(m) for m in grid.months},
                           cell_url=_cell_links(grid.window.through))


@bp.route("/cities/<code>")
@login_required
def city(code: str):
    """One city's progress against its target over time, and its returns."""
    city = _visible_city(code)
    basis, through = _basis(), _through()
    progress = data.city(city, basis, through)
    programme = get_programme(db.session)
    calendar = {row.period: row for row in returns.city_months(db.session, programme, city)}
    return render_template("progress/city.html", city=city, progress=progress, basis=basis,
                           months=_month_choices(), calendar=calendar,
                           chart_args=_chart_args(progress), return_url=_return_url)


@bp.route("/my-city")
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
    key, etag = data.chart_key(*key_parts, fmt, lang())
    if request.if_none_match.contains(etag):
        response = Response(status=304)
    else:
        response = Response(data.chart(key, render), mimetype=charts.FORMATS[fmt])
    response.set_etag(etag)
    # Revalidate every time: a new return must show at once; the 304 keeps it cheap.
    response.cache_control.private = True
    response.cache_control.no_cache = True
    return response


@bp.route("/charts/<kind>.<fmt>")
@login_required
def chart(kind: str, fmt: str):
    """A national chart as PNG or SVG. City users get the national headline chart only."""
    if kind not in charts.KINDS:
        abort(404)
    if kind != "national" and current_user.role not in MINISTRY_SIDE:
        abort(403)
    basis, through, language = _basis(), _through(), lang()
    return _image((kind, basis, through), fmt, lambda: charts.progress_chart(
        kind, data.national(basis, through), fmt, language))


@bp.route("/cities/<code>/chart.<fmt>")
@login_required
def city_chart(code: str, fmt: str):
    """One city's cumulative NEVs against its target, as PNG or SVG."""
    city = _visible_city(code)
    basis, through, language = _basis(), _through(), lang()
    return _image(("city", city.id, basis, through), fmt, lambda: charts.city_chart(
        data.city(city, basis, through), fmt, language))
