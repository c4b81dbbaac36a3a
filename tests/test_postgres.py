"""PostgreSQL specifically: the migrations and a return's life on the server of this machine.

The whole suite also runs on PostgreSQL (`make test-postgres`); this test checks it from the
default run too, and is skipped with a reason where no server answers.
"""

import os

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError

from fleet.domain.audit import Actor
from fleet.domain.cities import city_by_code
from fleet.extensions import db

URL = os.environ.get("FLEET_TEST_DATABASE_URL",
                     "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _reachable(url: str) -> bool:
    try:
        engine = create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:  # any failure to connect means "no server here"
        return False


pytestmark = pytest.mark.skipif(not _reachable(URL),
                                reason=f"no PostgreSQL server answers at {URL}")


def test_init_and_a_return_on_postgresql(make_app):
    from flask_migrate import upgrade

    from fleet.domain import figures, returns
    from fleet.domain.periods import period_of
    from fleet.domain.programme import get_programme, local_today

    app = make_app(create_tables=False, SQLALCHEMY_DATABASE_URI=URL)
    with app.app_context():
        assert db.engine.dialect.name == "postgresql"
        with db.engine.begin() as conn:  # a clean schema, whatever ran here before
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        upgrade()
        result = app.test_cli_runner().invoke(args=["fleet", "init"])
        assert result.exit_code == 0, result.output
        month = period_of(local_today())
        programme = get_programme(db.session)
        programme.last_period = max(programme.last_period, month)
        db.session.commit()
        shenzhen = city_by_code(db.session, "440300")
        actor = Actor(None, "pg-test", None, "city", shenzhen.id)
        ret, _ = returns.save_return(db.session, actor, shenzhen, month,
                                     {"bus_bev": "12", "bus_all_new": "15",
                                      "charging_points": "12", "notes": "测试"}, 0,
                                     submit=True)
        db.session.commit()
        assert ret.status == "submitted" and ret.version == 1
        progress = figures.national_progress(db.session, "reported", month)
        assert progress.nev == 12 and progress.city("440300").nev == 12
        # The database itself refuses what the rules refuse, should code ever slip.
        with pytest.raises(IntegrityError), db.engine.begin() as conn:
            conn.execute(text("UPDATE return_line SET bev = -1"))
