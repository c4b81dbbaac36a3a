"""the auditor role (审计管理员): the only reader of the audit log

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 05:50:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

ROLES_BEFORE = "role IN ('city', 'ministry', 'admin', 'viewer')"
ROLES_AFTER = "role IN ('city', 'ministry', 'admin', 'auditor', 'viewer')"


def _replace_role_check(condition):
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_constraint('ck_user_role', type_='check')
        batch_op.create_check_constraint('ck_user_role', condition)


def upgrade():
    _replace_role_check(ROLES_AFTER)


def downgrade():
    # Auditor accounts cannot exist under the old constraint: they are disabled viewers then.
    op.execute("UPDATE \"user\" SET role = 'viewer', active = false WHERE role = 'auditor'")
    _replace_role_check(ROLES_BEFORE)
