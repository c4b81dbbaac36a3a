"""demo rows marked, revision hash chain, integrity check results

Revision ID: 0004
Revises: 0008
Create Date: 2026-11-28 06:00:00

- monthly_return.demo: the rows `flask fleet demo` wrote. A database that has demo data
  loaded (programme.demo_data) marks as demo every return that was not created through the
  app (the app audits each creation as `return.create`; the demo loader writes in bulk).
- return_revision.hash: SHA-256 chain over each revision's canonical form, computed here for
  the revisions that exist (fleet.domain.integrity.revision_hash, the one definition).
- integrity_check: the results of `flask fleet verify`.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0008'
branch_labels = None
depends_on = None


def _mark_demo_rows(conn) -> None:
    conn.execute(sa.text(
        "UPDATE monthly_return SET demo = :yes "
        "WHERE EXISTS (SELECT 1 FROM programme WHERE programme.demo_data = :yes) "
        "AND CAST(id AS VARCHAR(64)) NOT IN ("
        "  SELECT target_id FROM audit_event "
        "  WHERE action = 'return.create' AND target_type = 'return')"
    ), {"yes": True})


def _hash_revisions(conn) -> None:
    from fleet.domain.integrity import revision_hash

    rows = conn.execute(sa.text(
        "SELECT r.id, c.code, m.period, r.number, r.created_at, r.created_by_id, r.late, "
        "r.data FROM return_revision r JOIN monthly_return m ON m.id = r.return_id "
        "JOIN city c ON c.id = m.city_id ORDER BY r.return_id, r.number"
    ).columns(sa.column("id"), sa.column("code"), sa.column("period"), sa.column("number"),
              sa.column("created_at", sa.DateTime()), sa.column("created_by_id"),
              sa.column("late", sa.Boolean()), sa.column("data", sa.JSON()))).all()
    previous, last_return = "", None
    updates = []
    for rid, code, period, number, created_at, created_by_id, late, data in rows:
        key = (code, period)
        if key != last_return:
            previous, last_return = "", key
        previous = revision_hash(city_code=code, period=period, number=number,
                                 created_at=created_at, created_by_id=created_by_id,
                                 late=late, data=data, previous=previous)
        updates.append({"h": previous, "id": rid})
    if updates:
        conn.execute(sa.text("UPDATE return_revision SET hash = :h WHERE id = :id"), updates)


def upgrade():
    op.create_table('integrity_check',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('by', sa.String(length=64), nullable=False),
    sa.Column('returns_checked', sa.Integer(), nullable=False),
    sa.Column('revisions_checked', sa.Integer(), nullable=False),
    sa.Column('mismatch_count', sa.Integer(), nullable=False),
    sa.Column('mismatches', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('integrity_check', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_integrity_check_at'), ['at'], unique=False)

    # Plain ALTER TABLE ... ADD COLUMN, not batch mode: on SQLite, batch mode would recreate
    # monthly_return for a server default, and dropping the old table cascade-deletes every
    # line and revision (foreign keys are on).
    op.add_column('monthly_return', sa.Column('demo', sa.Boolean(), server_default=sa.false(),
                                              nullable=False))
    op.add_column('return_revision', sa.Column('hash', sa.String(length=64), nullable=True))

    conn = op.get_bind()
    _mark_demo_rows(conn)
    _hash_revisions(conn)

    # Recreates return_revision on SQLite: safe, no table refers to it.
    with op.batch_alter_table('return_revision', schema=None) as batch_op:
        batch_op.alter_column('hash', existing_type=sa.String(length=64), nullable=False)


def downgrade():
    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+), not batch mode: recreating
    # monthly_return on SQLite would cascade-delete every line and revision.
    op.drop_column('return_revision', 'hash')
    op.drop_column('monthly_return', 'demo')
    with op.batch_alter_table('integrity_check', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_integrity_check_at'))
    op.drop_table('integrity_check')
