"""Migration 0004 on a database that has data: demo rows marked, revisions hashed."""

from datetime import date

from flask_migrate import downgrade, upgrade
from sqlalchemy import func, select

from fleet.domain import demo, integrity, returns
from fleet.domain.audit import Actor
from fleet.domain.cities import city_by_code
from fleet.extensions import db
from fleet.models import MonthlyReturn, ReturnLine, ReturnRevision


def test_upgrade_marks_the_demo_rows_and_hashes_the_revisions(make_app):
    app = make_app(create_tables=False)
    with app.app_context():
        upgrade()
        assert app.test_cli_runner().invoke(args=["fleet", "init"]).exit_code == 0
        demo.load_demo(db.session, Actor.system("test"), through="2025-04",
                       today=date(2025, 6, 20))
        city = city_by_code(db.session, "440300")
        real, _ = returns.save_return(db.session, Actor(None, "clerk", None, "city", city.id),
                                      city, "2025-06", {"bus_bev": 5, "bus_all_new": 5}, None,
                                      submit=True, today=date(2025, 7, 1))
        db.session.commit()
        real_id = real.id
        lines = db.session.scalar(select(func.count(ReturnLine.id)))
        hashes = dict(db.session.execute(select(ReturnRevision.id, ReturnRevision.hash)).all())
        demo_ids = set(db.session.scalars(select(MonthlyReturn.id)
                                          .where(MonthlyReturn.demo.is_(True))))
        db.session.remove()
        # Back to the schema before 0004 (no demo flag, no hashes), data kept, and up again.
        downgrade(revision="0004-1")
        upgrade()
        assert set(db.session.scalars(select(MonthlyReturn.id)
                                      .where(MonthlyReturn.demo.is_(True)))) == demo_ids
        assert real_id not in demo_ids and len(demo_ids) > 50
        assert dict(db.session.execute(select(ReturnRevision.id, ReturnRevision.hash))
                    .all()) == hashes
        # Nothing lost on the way (SQLite's table rebuilds cascade-delete if done carelessly).
        assert db.session.scalar(select(func.count(ReturnLine.id))) == lines
        assert integrity.verify_returns(db.session).ok
