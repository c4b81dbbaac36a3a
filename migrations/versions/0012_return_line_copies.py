"""return line copies: each return holds its lines' numbers, so the figures never scan lines

Revision ID: 0012
Revises: 0005
Create Date: 2026-11-28 09:30:00

Adds line{N}_bev, line{N}_phev, line{N}_fcev and line{N}_all_new (N = 0..7, the line's
position) to monthly_return (fleet.models.LINE_COPIES) and fills them from the lines.
"""
import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0005'
branch_labels = None
depends_on = None

SLOTS = 8
MEASURES = ('bev', 'phev', 'fcev', 'all_new')


def upgrade():
    for position in range(SLOTS):
        for measure in MEASURES:
            op.add_column('monthly_return', sa.Column(
                f'line{position}_{measure}', sa.Integer(), server_default='0', nullable=False))
    for position in range(SLOTS):
        op.execute(sa.text(
            'UPDATE monthly_return SET ' + ', '.join(
                f'line{position}_{m} = COALESCE((SELECT return_line.{m} FROM return_line '
                'WHERE return_line.return_id = monthly_return.id '
                f'AND return_line.position = {position}), 0)' for m in MEASURES)))


def downgrade():
    with op.batch_alter_table('monthly_return') as batch:
        for position in range(SLOTS):
            for measure in MEASURES:
                batch.drop_column(f'line{position}_{measure}')
