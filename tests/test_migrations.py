"""The migrations build exactly the schema of the models."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade

from fleet.extensions import db


def test_migrations_match_the_models(make_app, tmp_path):
    app = make_app(create_tables=False)
    with app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(context, db.metadata)
        assert diff == [], "run `flask db migrate` and commit the new migration"
