"""the vehicle's indexes on city and month go: filters reach vehicles through their returns

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-28 15:00:00

ix_vehicle_city_period and ix_vehicle_period served the exports filtered by city or month.
The same vehicles are found through their returns (monthly_return by city and month, then
ix_vehicle_return), so the two indexes only cost: every vehicle of an import was written
into each of them, a fifth of the insert on SQLite and on PostgreSQL.
"""
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('vehicle') as batch:
        batch.drop_index('ix_vehicle_period')
        batch.drop_index('ix_vehicle_city_period')


def downgrade():
    with op.batch_alter_table('vehicle') as batch:
        batch.create_index('ix_vehicle_city_period', ['city_id', 'period'])
        batch.create_index('ix_vehicle_period', ['period'])
