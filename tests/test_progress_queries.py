"""The number of SQL queries of each progress page does not grow with cities or months."""

from contextlib import contextmanager
from datetime import date

from sqlalchemy import event

from fleet.domain import demo
from fleet.domain.audit import Actor
from fleet.extensions import db
from fleet.models import City

URLS = ("/progress/?through={m}", "/progress/?through={m}&basis=verified&category=bus",
        "/progress/grid?through={m}", "/progress/cities/440300?through={m}",
        "/api/v1/progress?through={m}", "/progress/charts/cities.png?through={m}")


@contextmanager
def counting(engine):
    statements = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def query_counts(app, client, month: str) -> dict[str, tuple[int, int]]:
    """(queries with empty caches, queries once cached) for each page."""
    counts = {}
    for template in URLS:
        url = template.format(m=month)
        for cache in ("fleet.figures_cache", "fleet.chart_cache", "fleet.page_cache"):
            app.extensions[cache].clear()
        with counting(db.engine) as cold:
            assert client.get(url).status_code == 200, url
        with counting(db.engine) as warm:
            assert client.get(url).status_code == 200, url
        counts[url.replace(month, "M")] = (len(cold), len(warm))
    return counts


def seed(cities: int, through: str) -> None:
    for i in range(cities - db.session.query(City).count()):
        db.session.add(City(code=f"9{i:05d}", name_zh=f"示范市{i}", name_en=f"Demo {i}",
                            province_zh="示范省"))
    demo.load_demo(db.session, Actor.system("test"), through=through, today=date(2027, 2, 1),
                   replace=True)
    db.session.commit()


def test_same_number_of_queries_for_25_and_300_cities(app, client, auth, users):
    auth.login("ministry1")
    seed(25, "2025-03")
    small = query_counts(app, client, "2025-03")
    seed(300, "2026-12")
    assert db.session.query(City).count() == 300
    large = query_counts(app, client, "2026-12")
    assert large == small, (small, large)
    # Figures come from a handful of GROUP BY queries, not one query per city or month.
    assert all(cold <= 16 for cold, _ in small.values()), small
