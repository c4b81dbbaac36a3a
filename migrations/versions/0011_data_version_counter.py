"""data version counter: the figures' cache key in one primary-key read

Revision ID: 0011
Revises: 0002
Create Date: 2026-11-28 06:10:00

"""
import uuid

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    table = op.create_table(
        'data_version',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('counter', sa.BigInteger(), nullable=False),
        sa.Column('generation', sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.bulk_insert(table, [{'id': 1, 'counter': 0, 'generation': uuid.uuid4().hex}])


def downgrade():
    op.drop_table('data_version')
