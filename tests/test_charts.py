"""Charts: a real CJK font, no missing glyphs, PNG and SVG, cached per data version."""

import warnings
from datetime import date

import pytest
from matplotlib import font_manager
from matplotlib.figure import Figure
from matplotlib.text import Text

from fleet import charts, figures
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


def test_the_font_is_the_bundled_noto_cjk():
    found = font_manager.findfont(font_manager.FontProperties(family=charts.FONT_FAMILY),
                                  fallback_to_default=False)
    assert found == charts.FONT_PATH and found.endswith("NotoSansCJK-Regular.ttc")
    assert found.face_index == 2  # the Simplified Chinese face of the collection
    charts.register_font()  # registering again adds nothing
    assert sum(e.fname == charts.FONT_PATH and e.name == charts.FONT_FAMILY
               for e in font_manager.fontManager.ttflist) == 1


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
