"""Charts: a real CJK font, no missing glyphs, PNG and SVG, cached per data version."""

import json
import os
import subprocess
import sys
import textwrap
import warnings
from datetime import date

import pytest
from matplotlib import font_manager
from matplotlib.figure import Figure
from matplotlib.text import Text

from fleet.domain import charts, figures
from fleet.domain.periods import months_between
from fleet.extensions import db

from .factories import make_return
from .progress_helpers import make_progress_fixture

TODAY = date(2025, 4, 20)


@pytest.fixture
def data(users):
    return make_progress_fixture()


def glyph_warnings(caught) -> list[str]:
    return [str(w.message) for w in caught if "Glyph" in str(w.message)]


def drawn_texts(fig: Figure) -> list[Text]:
    fig.canvas.draw()  # tick labels exist only once drawn
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]


def test_every_text_is_drawn_from_the_shipped_font_file_in_a_cold_process(tmp_path):
    """Whatever fonts the system has (fonts-noto-cjk installed or not) and with an empty
    matplotlib cache, every text of every chart is drawn from the file that the
    noto-cjk-sans-otc package ships, face SC, and no glyph is missing."""
    script = textwrap.dedent("""
        import json, warnings
        from datetime import date
        from matplotlib.text import Text
        from matplotlib import font_manager
        from fleet.domain import charts
        from fleet.domain.figures import (Completeness, MonthFigures, Progress, Projection,
                                          Window, CityFigures)
        win = Window("2025-01", "2026-12", "2025-03", date(2025, 4, 20), 24, 3, ("2025-01",))
        months = tuple(MonthFigures(p, 5, 3, 1, 1, 9, 5 * (i + 1), 2, 0,
                                    {c: (1 if c == "bus" else 0) for c in
                                     ("official", "bus", "sanitation", "taxi", "postal",
                                      "logistics", "airport", "heavy_truck")})
                       for i, p in enumerate(("2025-01", "2025-02", "2025-03")))
        city = CityFigures(1, "440300", "深圳市", "Shenzhen", "广东省", 1, 100, 15, 0, 0, 15,
                           20, 5, 0.15, 0.75, 3, 0, 0.2, Completeness(), (), True)
        progress = Progress("reported", win, 700000, 15, 0, 0, 15, 20, 5, 15 / 700000,
                            87500, Projection(45, 5.0, 3, 21, 700000, False), 0.75, 3, 0,
                            0.2, 1.0, Completeness(), (), months, (city,), 100, 0)
        found = []
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for kind in charts.KINDS:
                fig = charts.FIGURES[kind](progress, "zh")
                charts.render(fig, "png")
                for text in fig.findobj(Text):
                    if text.get_visible() and text.get_text().strip():
                        path = font_manager.findfont(text.get_fontproperties())
                        found.append([text.get_text(), str(path), path.face_index])
        print(json.dumps({"texts": found,
                          "glyph": [str(w.message) for w in caught if "Glyph" in str(w.message)]}))
    """)
    env = {**os.environ, "MPLCONFIGDIR": str(tmp_path)}  # an empty font cache
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                         text=True, timeout=300, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["glyph"] == []
    texts = result["texts"]
    assert any("\u4e00" <= ch <= "\u9fff" for text, _, _ in texts for ch in text)
    assert "深圳市" in [text for text, _, _ in texts]
    for text, path, face in texts:
        assert (path, face) == (charts.FONT_PATH, 2), (text, path, face)
    assert charts.FONT_PATH.endswith("noto_cjk_sans_otc/NotoSansCJK-Regular.ttc")


def test_a_charts_language_is_its_argument_even_outside_a_request():
    """No app, no request: the title is in the language asked for."""
    win = figures.Window("2025-01", "2026-12", "2025-03", TODAY, 24, 3, ())
    progress = figures.Progress(
        "reported", win, 700000, 0, 0, 0, 0, 0, 0, 0.0, 87500,
        figures.Projection(None, 0.0, 0, 21, 700000, None), None, 0, 0, None, 1.0,
        figures.Completeness(), (), (), (), 0, 0)
    zh = charts.national_figure(progress, "zh").axes[0].get_title(loc="left")
    en = charts.national_figure(progress, "en").axes[0].get_title(loc="left")
    assert zh.startswith("全国累计新增推广新能源汽车与目标 — "), zh
    assert en.startswith("National cumulative NEVs against the target"), en


def test_the_charts_straight_path_is_the_pages_expected_by_now_at_every_month(data, app):
    """The dotted path of the national chart passes, at each month, through the
    expected_by_now that the dashboard shows when that month is `through`."""
    through = "2026-12"
    progress = figures.national_progress(db.session, "reported", "2025-03", today=TODAY)
    fig = charts.national_figure(progress, "zh")
    path = next(line for line in fig.axes[0].get_lines() if line.get_linestyle() == ":")
    xs, ys = path.get_xdata(), path.get_ydata()
    months = months_between(progress.window.first_period, through)
    assert len(xs) == len(months) == progress.window.window_months
    for x, y, month in zip(xs, ys, months, strict=True):
        shown = figures.national_progress(db.session, "reported", month,
                                          today=date(2027, 1, 20)).expected_by_now
        assert (months[int(x)], y) == (month, shown)
    assert ys[2] == 87500  # 2025-03: 3 of 24 months of 700,000


def test_chinese_labels_render_with_the_cjk_font_and_no_missing_glyph(data, app):
    progress = figures.national_progress(db.session, "reported", "2025-03", today=TODAY)
    city = figures.city_progress(db.session, data["sz"], "reported", "2025-03", today=TODAY)
    builders = [lambda: charts.national_figure(progress, "zh"),
                lambda: charts.monthly_figure(progress, "zh"),
                lambda: charts.cities_figure(progress, "zh"),
                lambda: charts.city_figure(city, "zh")]
    for build in builders:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fig = build()
            texts = drawn_texts(fig)
            charts.render(fig, "png")
            charts.render(fig, "svg")
        assert glyph_warnings(caught) == []
        assert any("\u4e00" <= ch <= "\u9fff" for t in texts for ch in t.get_text())
        for text in texts:
            path = font_manager.findfont(text.get_fontproperties())
            assert path.endswith("NotoSansCJK-Regular.ttc"), (text.get_text(), path)
    monthly = drawn_texts(charts.monthly_figure(progress, "zh"))
    assert {"城市公交", "出租(含网约车)", "城市物流配送"} <= {t.get_text() for t in monthly}
    ranked = [t.get_text() for t in drawn_texts(charts.cities_figure(progress, "zh"))]
    assert "深圳市" in ranked and "北京市" in ranked and "无锡市" not in ranked  # no target


def test_the_check_would_catch_a_font_without_chinese():
    # The same text in matplotlib's default font: the warning the test above guards against.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig = Figure()
        fig.text(0.1, 0.5, "城市公交", fontfamily="DejaVu Sans")
        charts.render(fig, "png")
    assert glyph_warnings(caught)


def test_formats_and_same_bytes_for_same_data(data, app):
    progress = figures.national_progress(db.session, "reported", "2025-03", today=TODAY)
    png = charts.progress_chart("national", progress, "png", "zh")
    svg = charts.progress_chart("national", progress, "svg", "en")
    assert png.startswith(b"\x89PNG") and b"<svg" in svg
    assert charts.progress_chart("national", progress, "png", "zh") == png
    with pytest.raises(ValueError):
        charts.progress_chart("national", progress, "gif", "zh")


def test_chart_is_rendered_once_then_served_from_cache_with_etag(client, auth, data, app):
    auth.login("ministry1")
    cache = app.extensions["fleet.chart_cache"]
    url = "/progress/charts/monthly.png?through=2025-03"
    first = client.get(url)
    assert first.status_code == 200 and first.mimetype == "image/png"
    assert first.data.startswith(b"\x89PNG") and cache.made == 1
    etag = first.headers["ETag"]
    assert "no-cache" in first.headers["Cache-Control"]
    again = client.get(url)
    assert again.status_code == 200 and again.data == first.data
    assert cache.made == 1 and cache.hits >= 1  # served without rendering
    unchanged = client.get(url, headers={"If-None-Match": etag})
    assert unchanged.status_code == 304 and unchanged.data == b""
    assert cache.made == 1
    # New data: a new version, a new ETag, one new rendering.
    make_return(data["wx"], "2025-03", "submitted", {"bus": {"bev": 9}})
    changed = client.get(url, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert cache.made == 2
    svg = client.get("/progress/charts/monthly.svg?through=2025-03")
    assert svg.mimetype == "image/svg+xml" and b"<svg" in svg.data


def test_a_city_target_change_renders_the_chart_again(client, auth, data, app):
    auth.login("ministry1")
    url = "/progress/charts/cities.png?through=2025-03"
    etag = client.get(url).headers["ETag"]
    data["wx"].nev_target = 100
    db.session.commit()
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 200


def test_chart_access_by_role(client, auth, data):
    auth.login("shenzhen")
    assert client.get("/progress/cities/440300/chart.png?through=2025-03").status_code == 200
    assert client.get("/progress/cities/110000/chart.png").status_code == 404
    assert client.get("/progress/cities/110000/chart.svg").status_code == 404
    assert client.get("/progress/charts/national.svg").status_code == 200  # the headline
    assert client.get("/progress/charts/cities.png").status_code == 403
    assert client.get("/progress/charts/monthly.png").status_code == 403
    auth.logout()
    assert client.get("/progress/charts/national.png").status_code == 302
    auth.login("viewer1")
    assert client.get("/progress/cities/110000/chart.svg").status_code == 200
    assert client.get("/progress/charts/pie.png").status_code == 404
    assert client.get("/progress/charts/national.gif").status_code == 404
