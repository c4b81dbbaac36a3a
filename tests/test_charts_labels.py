"""Charts a reader can read (issue 11, item 9): value labels off the lines, and a per-city
chart that says why it is empty instead of a footnote over its axis."""

from datetime import date

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.text import Annotation

from fleet.domain import charts, demo, figures
from fleet.domain.audit import Actor
from fleet.domain.cities import city_by_code
from fleet.extensions import db
from fleet.models import City


def drawn(fig):
    """Draw the figure as charts.render does (its fonts), and return the renderer."""
    FigureCanvasAgg(fig)
    charts._tick_fonts(fig)
    fig.canvas.draw()
    return fig.canvas.get_renderer()


def lines_through(fig, box) -> list[str]:
    """The lines of the chart that cross a box (display coordinates)."""
    crossing = []
    for ax in fig.axes:
        for line in ax.get_lines():
            xy = line.get_transform().transform(line.get_xydata())
            if len(xy) == 1:
                continue
            for (x0, y0), (x1, y1) in zip(xy[:-1], xy[1:], strict=True):
                t = np.linspace(0, 1, 200)
                xs, ys = x0 + (x1 - x0) * t, y0 + (y1 - y0) * t
                if np.any((xs >= box.x0) & (xs <= box.x1) & (ys >= box.y0) & (ys <= box.y1)):
                    crossing.append(str(line.get_label()))
                    break
    return crossing


def value_labels(fig) -> list[Annotation]:
    return [t for t in fig.findobj(Annotation) if t.get_text().replace(",", "").isdigit()]


def test_value_labels_sit_beside_the_lines_not_on_them(app, cities):
    demo.load_demo(db.session, Actor.system("test"))
    db.session.commit()
    shenzhen = city_by_code(db.session, "440300")
    for fig in (charts.city_figure(figures.city_progress(db.session, shenzhen)),
                charts.national_figure(figures.national_progress(db.session))):
        renderer = drawn(fig)
        labels = value_labels(fig)
        assert labels, "the last month's figure is labelled"
        for text in labels:
            box = text.get_window_extent(renderer)
            assert lines_through(fig, box) == [], text.get_text()


def test_the_city_chart_without_targets_says_so(app, cities):
    db.session.query(City).update({City.nev_target: None})
    db.session.commit()
    fig = charts.cities_figure(figures.national_progress(db.session))
    drawn(fig)
    texts = " ".join(t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text")))
    assert "尚无城市设定目标" in texts


def test_the_footnote_never_overlaps_the_axis_labels(app, cities):
    db.session.query(City).update({City.nev_target: None})
    for code in ("440300", "110000"):
        city_by_code(db.session, code).nev_target = 10_000
    db.session.commit()
    fig = charts.cities_figure(figures.national_progress(db.session))
    renderer = drawn(fig)
    note = next(t for t in fig.texts if "未设定目标" in t.get_text()
                ) if fig.texts else fig._supxlabel
    note_box = note.get_window_extent(renderer)
    ax = fig.axes[0]
    for tick in ax.get_xticklabels():
        if tick.get_text():
            assert not note_box.overlaps(tick.get_window_extent(renderer)), tick.get_text()


def test_the_city_bars_figures_are_not_crossed_by_the_target_and_time_lines(app, cities):
    """The share beside each bar sits where the 100 % and time-elapsed lines run: the line
    breaks for the figure instead of striking it through."""
    demo.load_demo(db.session, Actor.system("test"), through="2026-10", today=date(2026, 11, 15))
    db.session.commit()
    progress = figures.national_progress(db.session, through="2026-10",
                                         today=date(2026, 11, 15))
    fig = charts.cities_figure(progress)
    renderer = drawn(fig)
    ax = fig.axes[0]
    image = np.asarray(fig.canvas.buffer_rgba())[:, :, :3].astype(int)
    height = image.shape[0]
    target_x = ax.transData.transform((1.0, 0))[0]
    red = np.array([int(charts.TARGET[i:i + 2], 16) for i in (1, 3, 5)])
    shares = [t for t in fig.findobj(Annotation) if t.get_text().endswith("%")]
    assert len(shares) == 25
    crossing = 0
    for text in shares:
        box = text.get_window_extent(renderer)
        crossing += box.x0 <= target_x <= box.x1
        pixels = image[int(height - box.y1):int(height - box.y0) + 1,
                       int(box.x0):int(box.x1) + 1]
        assert not np.any(np.abs(pixels - red).sum(axis=2) < 60), text.get_text()
    assert crossing, "no figure lies on the target line: the test shows nothing"
