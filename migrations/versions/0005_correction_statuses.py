"""Every correction gets a status: unchecked, trusted, quarantined, accepted or rejected.

Set by the label-quality check of `flask --app app models retrain` (training/label_quality.py)
and by a person on the review page (`/admin/`); only trusted and accepted rows are trained on
and measured on. Rows kept before statuses are unchecked until the next check.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("corrections") as batch_op:
        batch_op.add_column(sa.Column("status", sa.String(length=12), nullable=False, server_default="unchecked"))
        batch_op.create_index("ix_corrections_status", ["status"])
        batch_op.create_check_constraint(
            "status_is_known", "status IN ('unchecked', 'trusted', 'quarantined', 'accepted', 'rejected')"
        )


def downgrade():
    with op.batch_alter_table("corrections") as batch_op:
        batch_op.drop_constraint("status_is_known", type_="check")
        batch_op.drop_index("ix_corrections_status")
        batch_op.drop_column("status")
