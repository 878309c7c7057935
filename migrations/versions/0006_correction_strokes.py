"""Corrections keep the strokes their drawing was made with, where the page sent them.

A nullable text column: compact JSON [[[x, y, t], ...], ...] in the pixels of the drawing as
kept, t in milliseconds (web/stroke_input.py). Rows kept before, and uploads, have none; the
running total of what corrections take (corrections_usage) is unchanged, since they add nothing.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-14
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("corrections") as batch_op:
        batch_op.add_column(sa.Column("strokes", sa.Text(), nullable=True))


def downgrade():
    # The strokes' bytes leave the running total with the column.
    op.execute(
        "UPDATE corrections_usage SET stored_bytes = stored_bytes - "
        "(SELECT COALESCE(SUM(LENGTH(strokes)), 0) FROM corrections)"
    )
    with op.batch_alter_table("corrections") as batch_op:
        batch_op.drop_column("strokes")
