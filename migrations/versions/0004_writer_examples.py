"""Writers' own examples: corrections name their writer; writers have a revision.

Each correction names the anonymous writer who made it, and each writer has a revision that
every change of their examples raises (workers cache a writer's examples and check the revision
on each of that writer's predictions).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "writers",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("corrections") as batch_op:
        batch_op.add_column(sa.Column("writer", sa.String(length=64), nullable=True))
        batch_op.create_index("ix_corrections_writer_id", ["writer", "id"])


def downgrade():
    with op.batch_alter_table("corrections") as batch_op:
        batch_op.drop_index("ix_corrections_writer_id")
        batch_op.drop_column("writer")
    op.drop_table("writers")
