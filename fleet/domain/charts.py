"""Charts of the figures, drawn server-side with matplotlib as PNG or SVG.

Only the object-oriented API (matplotlib.figure.Figure on the Agg canvas): pyplot keeps
global state and leaks figures in a server. Every text is set in the Simplified Chinese face
of Noto Sans CJK, taken by its file from the noto-cjk-sans-otc package (never looked up by
family name, which would find whatever copy the system has), so a chart is the same bytes
on every machine. The language is an argument, never the request's.
Each function takes the plain values of fleet.domain.figures and returns the image bytes.

matplotlib (with numpy, about 55 MiB) is imported by the first chart drawn, not when the app
starts: most processes (a worker importing a roster, the CLI) never draw one.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING

import noto_cjk_sans_otc

from .figures import CityProgress, MonthFigures, Progress, Projection, Window
from .i18n import translator
from .periods import format_period, months_between
from .reference import CATEGORIES, label

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties

FONT_PATH = str(noto_cjk_sans_otc.FONT_PATH)
FONT_FACE = 2  # the collection's faces: JP, KR, SC, TC, HK; SC has the Simplified glyphs
FORMATS = {"png": "image/png", "svg": "image/svg+xml"}

# Colours: one per category, in the official order; readable side by side and in print.
CATEGORY_COLOURS = ("#8c8c8c", "#0b4a7d", "#3a9d5d", "#f0a202", "#c05299", "#2a9fd6",
                    "#7a5c3e", "#d1495b")
ACTUAL, TARGET, PATH, PROJECTION = "#0b4a7d", "#c0392b", "#9e9e9e", "#f0a202"



@lru_cache(maxsize=1)
def font_file():
    """The Simplified Chinese face of the bundled collection, as matplotlib names it."""
    from matplotlib.font_manager import FontPath

    return FontPath(FONT_PATH, FONT_FACE)


def font(size: float) -> FontProperties:
    """The bundled CJK face at this size, by its file."""
    from matplotlib.font_manager import FontProperties

    return FontProperties(fname=font_file(), size=size)


def _basis_label(_, basis: str) -> str:
    if basis == "reported":
        return _("reported (submitted and approved returns)")
    return _("verified (approved returns only)")


def _thousands(value, _pos=None) -> str:
    return f"{value:,.0f}"


def _figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _thousands_axis(axis) -> None:
    from matplotlib.ticker import FuncFormatter

    axis.set_major_formatter(FuncFormatter(_thousands))


def _style(ax, title: str) -> None:
    # parse_math=False: a "$" in a city's name is text, not the start of a formula.
    ax.set_title(title, fontproperties=font(12), loc="left", parse_math=False)
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", color="#e6e6e6", linewidth=0.8)
    ax.set_axisbelow(True)


def _legend(ax, **kwargs) -> None:
    ax.legend(prop=font(8), frameon=False, **kwargs)


def _tick_fonts(fig: Figure) -> None:
    """Set the tick labels in the bundled face. Ticks made later at draw time copy the
    first tick's properties, so setting the ticks that exist now covers them all."""
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            for tick in axis.get_major_ticks():
                tick.label1.set_fontproperties(font(8))


def render(fig: Figure, fmt: str) -> bytes:
    """The figure as PNG or SVG bytes (text drawn as outlines in SVG: no font needed)."""
    if fmt not in FORMATS:
        raise ValueError(f"not a chart format: {fmt!r}")
    _tick_fonts(fig)
    buffer = io.BytesIO()
    # No dates in the files: the same data gives the same bytes.
    metadata = {"Date": None} if fmt == "svg" else {"Software": None}
    fig.savefig(buffer, format=fmt, metadata=metadata)
    return buffer.getvalue()


def _month_ticks(ax, window: Window, lang: str) -> None:
    """Ticks on the quarters' first months (every month would be unreadable)."""
    months = months_between(window.first_period, window.last_period)
    positions = [i for i, p in enumerate(months) if int(p[5:]) % 3 == 1] or [0]
    ax.set_xticks(positions, [format_period(months[i], lang) for i in positions])
    ax.set_xlim(-0.5, len(months) - 0.5)


def _cumulative(ax, window: Window, months: tuple[MonthFigures, ...], target: int | None,
                projection: Projection, lang: str) -> None:
    """Cumulative NEVs, the target, the straight path to it and the projection."""
    _ = translator(lang)
    n = window.window_months
    xs = list(range(len(months)))
    ax.plot(xs, [m.cumulative for m in months], color=ACTUAL, marker="o", markersize=3,
            linewidth=2, label=_("Cumulative NEVs"))
    if target:
        ax.axhline(target, color=TARGET, linestyle="--", linewidth=1.2,
                   label=_("Target: %(n)s", n=f"{target:,}"))
        # The same path as the pages' "expected by now" at every month (fleet.domain.figures).
        ax.plot(list(range(n)), window.straight_path(target), color=PATH, linestyle=":",
                linewidth=1.2, label=_("Straight path to the target"))
    top = max([target or 0, projection.value or 0] + [m.cumulative for m in months] + [1])
    if projection.value is not None and months and projection.months_left:
        ax.plot([xs[-1], n - 1], [months[-1].cumulative, projection.value], color=PROJECTION,
                linestyle="--", linewidth=1.8, label=_("Projection at the recent pace"))
        if _label_side(projection.value, target, top) == "above":
            _value_label(ax, projection.value, (n - 1, projection.value), PROJECTION,
                         "above", "right")
        else:  # just under the target: above the target's line, not across its own line
            _value_label(ax, projection.value, (n - 1, target), PROJECTION, "above", "right")
    if months:
        # The projection leaves the last point upwards to the right: the label goes below.
        side = ("below" if projection.value is not None and projection.months_left
                else _label_side(months[-1].cumulative, target, top))
        _value_label(ax, months[-1].cumulative, (xs[-1], months[-1].cumulative), ACTUAL,
                     side, "left")
    _thousands_axis(ax.yaxis)
    ax.set_ylim(0, top * 1.1)
    _month_ticks(ax, window, lang)
    _legend(ax, loc="lower right")


def _label_side(value: float, target: int | None, top: float) -> str:
    """Above the point, unless the target's line runs just above it: then below."""
    if target and 0 <= target - value < 0.12 * top:
        return "below"
    return "above"


def _value_label(ax, value: int, point: tuple[float, float], colour: str, side: str,
                 towards: str) -> None:
    """A figure by its point, off the lines: beside it on the side where no line runs
    (`towards` the empty side of the chart), on a white ground so no line crosses it."""
    dx = 8 if towards == "left" else -8
    dy = 10 if side == "above" else -12
    ax.annotate(f"{value:,}", point, textcoords="offset points", xytext=(dx, dy),
                ha="left" if towards == "left" else "right",
                va="bottom" if side == "above" else "top", fontproperties=font(8),
                color=colour, zorder=5,
                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.9})


def national_figure(progress: Progress, lang: str = "zh") -> Figure:
    """National cumulative NEVs against the target, with the projection to the window's end."""
    _ = translator(lang)
    fig = _figure(9, 4.2)
    ax = fig.subplots()
    _cumulative(ax, progress.window, progress.by_month, progress.target,
                progress.projection, lang)
    _style(ax, _("National cumulative NEVs against the target — %(basis)s",
                 basis=_basis_label(_, progress.basis)))
    return fig


def monthly_figure(progress: Progress, lang: str = "zh") -> Figure:
    """NEVs deployed each month, stacked by category."""
    _ = translator(lang)
    fig = _figure(9, 4.2)
    ax = fig.subplots()
    xs = list(range(len(progress.by_month)))
    bottom = [0] * len(xs)
    for colour, category in zip(CATEGORY_COLOURS, CATEGORIES, strict=True):
        values = [m.by_category[category.code] for m in progress.by_month]
        ax.bar(xs, values, bottom=bottom, color=colour, width=0.8,
               label=label(category, lang))
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    _thousands_axis(ax.yaxis)
    _month_ticks(ax, progress.window, lang)
    _style(ax, _("NEVs deployed each month, by category — %(basis)s",
                 basis=_basis_label(_, progress.basis)))
    _legend(ax, loc="upper left", ncols=4)
    ax.set_ylim(0, max(bottom + [1]) * 1.35)  # room for the legend above the bars
    return fig


def cities_figure(progress: Progress, lang: str = "zh") -> Figure:
    """Each city's cumulative NEVs as a share of its own target, sorted (largest on top)."""
    _ = translator(lang)
    rows = sorted((c for c in progress.cities if c.pct_of_target is not None),
                  key=lambda c: (c.pct_of_target, c.code))
    fig = _figure(9, max(3.0, 0.8 + 0.24 * len(rows)))
    ax = fig.subplots()
    ys = list(range(len(rows)))
    elapsed = progress.window.elapsed_share
    colours = [TARGET if c.behind_time else ACTUAL for c in rows]
    ax.barh(ys, [c.pct_of_target for c in rows], color=colours, height=0.7)
    for y, c in zip(ys, rows, strict=True):
        # Beside the bar's end, where the time-elapsed and target lines may run: on a white
        # ground above them, so the figure stays readable (the line breaks for it).
        ax.annotate(f"{c.pct_of_target:.1%}", (c.pct_of_target, y),
                    textcoords="offset points", xytext=(3, 0), va="center",
                    fontproperties=font(7), zorder=5,
                    bbox={"boxstyle": "square,pad=0.15", "fc": "white", "ec": "none"})
    ax.set_yticks(ys, [c.name(lang) for c in rows], parse_math=False)
    ax.axvline(elapsed, color=PATH, linestyle=":", linewidth=1.5,
               label=_("Time elapsed: %(p)s", p=f"{elapsed:.1%}"))
    ax.axvline(1.0, color=TARGET, linestyle="--", linewidth=1, label=_("Target"))
    from matplotlib.ticker import PercentFormatter

    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_xlim(0, max([1.1] + [c.pct_of_target * 1.12 for c in rows]))
    ax.set_ylim(-0.7, max(len(rows), 1) - 0.3)
    _style(ax, _("Share of each city's own target reached — %(basis)s",
                 basis=_basis_label(_, progress.basis)))
    ax.grid(axis="x", color="#e6e6e6", linewidth=0.8)
    ax.grid(axis="y", visible=False)
    missing = len(progress.cities) - len(rows)
    if not rows:
        # Nothing to draw yet: say so where the bars would be, not an empty frame.
        ax.text(0.5, 0.5, _("No city has a target yet: the admin sets them under Cities & "
                            "targets."), transform=ax.transAxes, ha="center", va="center",
                fontproperties=font(10), color="#444444")
        ax.set_yticks([])
    elif missing:
        # A figure-level x label: the constrained layout leaves room for it under the ticks.
        fig.supxlabel(_("%(n)s cities without a target are not shown.", n=missing),
                      x=0.01, ha="left", fontproperties=font(7), color="#555555")
    _legend(ax, loc="lower right")
    return fig


def city_figure(progress: CityProgress, lang: str = "zh") -> Figure:
    """One city's cumulative NEVs against its own target, with the projection."""
    _ = translator(lang)
    fig = _figure(9, 3.8)
    ax = fig.subplots()
    _cumulative(ax, progress.window, progress.by_month, progress.city.target,
                progress.projection, lang)
    _style(ax, _("%(city)s: cumulative NEVs against its target — %(basis)s",
                 city=progress.city.name(lang), basis=_basis_label(_, progress.basis)))
    return fig


FIGURES: dict[str, Callable[[Progress, str], Figure]] = {
    "national": national_figure, "monthly": monthly_figure, "cities": cities_figure}
KINDS = tuple(FIGURES)


def progress_chart(kind: str, progress: Progress, fmt: str = "png", lang: str = "zh") -> bytes:
    """A national chart by name ('national', 'monthly' or 'cities') as PNG or SVG bytes."""
    return render(FIGURES[kind](progress, lang), fmt)


def city_chart(progress: CityProgress, fmt: str = "png", lang: str = "zh") -> bytes:
    """A city's chart as PNG or SVG bytes."""
    return render(city_figure(progress, lang), fmt)
