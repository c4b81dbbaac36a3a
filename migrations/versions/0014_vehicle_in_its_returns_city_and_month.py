"""a vehicle belongs to its return's city and month: one foreign key on the three columns

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-28 12:00:00

The vehicle's two foreign keys (return_id -> monthly_return, city_id -> city) become one,
(return_id, city_id, period) -> monthly_return (id, city_id, period): the database now
refuses a vehicle filed under another city or month than its return's (the city is still
a city: the return's own key says so), and checks one key per inserted vehicle, not two.
"""
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

# PostgreSQL's names for the foreign keys 0005 made; on SQLite, where they have no name,
# the batch (a table copy) gives them these.
NAMES = {'fk': '%(table_name)s_%(column_0_name)s_fkey'}


def upgrade():
    with op.batch_alter_table('monthly_return') as batch:
        batch.create_unique_constraint('uq_return_id_city_period', ['id', 'city_id', 'period'])
    with op.batch_alter_table('vehicle', naming_convention=NAMES) as batch:
        batch.drop_constraint('vehicle_return_id_fkey', type_='foreignkey')
        batch.drop_constraint('vehicle_city_id_fkey', type_='foreignkey')
        batch.create_foreign_key('fk_vehicle_return', 'monthly_return',
                                 ['return_id', 'city_id', 'period'],
                                 ['id', 'city_id', 'period'], ondelete='CASCADE')


def downgrade():
    with op.batch_alter_table('vehicle') as batch:
        batch.drop_constraint('fk_vehicle_return', type_='foreignkey')
        batch.create_foreign_key('vehicle_return_id_fkey', 'monthly_return', ['return_id'],
                                 ['id'], ondelete='CASCADE')
        batch.create_foreign_key('vehicle_city_id_fkey', 'city', ['city_id'], ['id'])
    with op.batch_alter_table('monthly_return') as batch:
        batch.drop_constraint('uq_return_id_city_period', type_='unique')
