"""The migrations build exactly the schema of the models."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade
from sqlalchemy import text

from fleet.extensions import db


def test_migrations_match_the_models(make_app, tmp_path):
    app = make_app(create_tables=False)
    with app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(context, db.metadata)
        assert diff == [], "run `flask db migrate` and commit the new migration"


def test_an_installation_of_the_first_release_upgrades_with_its_data(make_app):
    """A database at revision 0002 (the first release) with a user, a submitted return, its
    line and revision: `flask db upgrade` keeps every row (on SQLite the tables that are
    rebuilt must not take the rows that point at them along) and verify finds them intact."""
    app = make_app(create_tables=False)
    with app.app_context():
        upgrade(revision="0002")
        with db.engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO city (id, code, name_zh, name_en, province_zh, active) "
                "VALUES (1, '440300', '深圳市', 'Shenzhen', '广东省', TRUE)"))
            conn.execute(text(
                "INSERT INTO \"user\" (id, username, display_name, password_hash, role, "
                "city_id, active, must_change_password, failed_logins, created_at) "
                "VALUES (1, 'sz', '', 'x', 'city', 1, TRUE, FALSE, 0, '2025-02-01')"))
            conn.execute(text(
                "INSERT INTO monthly_return (id, city_id, period, status, charging_points, "
                "swap_stations, notes, version, created_at, updated_at, submitted_by_id, "
                "submitted_late, review_comment) VALUES (1, 1, '2025-01', 'submitted', 0, 0, "
                "'', 1, '2025-02-01', '2025-02-01', 1, FALSE, '')"))
            conn.execute(text(
                "INSERT INTO return_line (return_id, category, position, bev, phev, fcev, "
                "all_new) VALUES (1, 'bus', 0, 5, 0, 0, 5)"))
            conn.execute(text(
                "INSERT INTO return_revision (return_id, number, created_at, late, data) "
                "VALUES (1, 1, '2025-02-01', FALSE, :data)"),
                {"data": '{"lines": {"bus": {"bev": 5, "phev": 0, "fcev": 0, "all_new": 5}},'
                         ' "charging_points": 0, "swap_stations": 0, "notes": ""}'})
        db.engine.dispose()
        upgrade()
        with db.engine.connect() as conn:
            counts = [conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar()
                      for table in ("\"user\"", "monthly_return", "return_line",
                                    "return_revision")]
        assert counts == [1, 1, 1, 1]
        with db.engine.connect() as conn:  # 0012 copied the line onto its return
            copies = conn.execute(text("SELECT line0_bev, line0_all_new, line1_bev "
                                       "FROM monthly_return")).one()
        assert tuple(copies) == (5, 5, 0)
        result = app.test_cli_runner().invoke(args=["fleet", "verify"])
        assert result.exit_code == 0 and "all 1 returns verified" in result.output


def test_0014_keeps_the_vehicles_and_their_returns(make_app):
    """0014 turns the vehicle's two foreign keys into one on (return, city, month): on SQLite
    by copying the tables, which must keep every vehicle and return."""
    app = make_app(create_tables=False)
    with app.app_context():
        upgrade(revision="0013")
        with db.engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO city (id, code, name_zh, name_en, province_zh, active) "
                "VALUES (1, '440300', '深圳市', 'Shenzhen', '广东省', TRUE)"))
            conn.execute(text(
                "INSERT INTO monthly_return (id, city_id, period, status, charging_points, "
                "swap_stations, notes, version, created_at, updated_at, submitted_late, "
                "review_comment) VALUES (7, 1, '2025-01', 'draft', 0, 0, '', 1, "
                "'2025-02-01', '2025-02-01', FALSE, '')"))
            conn.execute(text(
                "INSERT INTO vehicle (vin, return_id, city_id, period, category, powertrain, "
                "in_service_date, plate, operator, model, maker, created_at) VALUES "
                "('LFV2A21K0A3000001', 7, 1, '2025-01', 'bus', 'bev', '2025-01-05', '', "
                "'公交集团', '', '', '2025-02-01')"))
        db.engine.dispose()
        upgrade()
        with db.engine.connect() as conn:
            kept = conn.execute(text("SELECT vin, return_id, city_id, period FROM vehicle")).all()
            returns = conn.execute(text("SELECT count(*) FROM monthly_return")).scalar()
        assert [tuple(row) for row in kept] == [("LFV2A21K0A3000001", 7, 1, "2025-01")]
        assert returns == 1
