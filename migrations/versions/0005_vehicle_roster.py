"""vehicle roster: vehicles (VIN unique nationwide), refused claims, pending uploads

Revision ID: 0005
Revises: 0006
Create Date: 2026-11-28 05:50:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('roster_conflict',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('vin', sa.String(length=17), nullable=False),
    sa.Column('city_id', sa.Integer(), nullable=False),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('holder_city_id', sa.Integer(), nullable=False),
    sa.Column('holder_period', sa.String(length=7), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['city_id'], ['city.id'], ),
    sa.ForeignKeyConstraint(['holder_city_id'], ['city.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_roster_conflict_at'), 'roster_conflict', ['at'], unique=False)
    op.create_index(op.f('ix_roster_conflict_vin'), 'roster_conflict', ['vin'], unique=False)
    op.create_table('roster_upload',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('city_id', sa.Integer(), nullable=False),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['city_id'], ['city.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_roster_upload_created_at'), 'roster_upload', ['created_at'], unique=False)
    op.create_table('vehicle',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('vin', sa.String(length=17), nullable=False),
    sa.Column('return_id', sa.Integer(), nullable=False),
    sa.Column('city_id', sa.Integer(), nullable=False),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('category', sa.String(length=16), nullable=False),
    sa.Column('powertrain', sa.String(length=8), nullable=False),
    sa.Column('in_service_date', sa.Date(), nullable=False),
    sa.Column('plate', sa.String(length=16), nullable=False),
    sa.Column('operator', sa.String(length=200), nullable=False),
    sa.Column('model', sa.String(length=100), nullable=False),
    sa.Column('maker', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['city_id'], ['city.id'], ),
    sa.ForeignKeyConstraint(['return_id'], ['monthly_return.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('vin', name='uq_vehicle_vin')
    )
    op.create_index('ix_vehicle_city_period', 'vehicle', ['city_id', 'period'], unique=False)
    op.create_index('ix_vehicle_period', 'vehicle', ['period'], unique=False)
    op.create_index('ix_vehicle_return', 'vehicle', ['return_id', 'vin'], unique=False)
    op.add_column('monthly_return', sa.Column('roster_count', sa.Integer(), nullable=True))
    op.add_column('programme', sa.Column('roster_required_from', sa.String(length=7), nullable=True))
    op.add_column('return_revision', sa.Column('roster_sha256', sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table('return_revision') as batch_op:
        batch_op.drop_column('roster_sha256')
    with op.batch_alter_table('programme') as batch_op:
        batch_op.drop_column('roster_required_from')
    with op.batch_alter_table('monthly_return') as batch_op:
        batch_op.drop_column('roster_count')
    op.drop_index('ix_vehicle_return', table_name='vehicle')
    op.drop_index('ix_vehicle_period', table_name='vehicle')
    op.drop_index('ix_vehicle_city_period', table_name='vehicle')
    op.drop_table('vehicle')
    op.drop_index(op.f('ix_roster_upload_created_at'), table_name='roster_upload')
    op.drop_table('roster_upload')
    op.drop_index(op.f('ix_roster_conflict_vin'), table_name='roster_conflict')
    op.drop_index(op.f('ix_roster_conflict_at'), table_name='roster_conflict')
    op.drop_table('roster_conflict')
