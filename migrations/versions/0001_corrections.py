"""Corrections, and the settings that belong to one database (the client hashes' salt).

Revision ID: 0001
Revises:
Create Date: 2026-12-02
"""

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "corrections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.Column("label", sa.SmallInteger(), nullable=False),
        sa.Column("kind", sa.String(length=5), nullable=False),
        sa.Column("predicted", sa.SmallInteger(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("model_version", sa.String(length=64), nullable=False),
        sa.Column("model_input", sa.LargeBinary(), nullable=False),
        sa.Column("drawing", sa.LargeBinary(), nullable=False),
        sa.Column("drawing_sha256", sa.String(length=64), nullable=False),
        sa.Column("client", sa.String(length=32), nullable=False),
        sa.CheckConstraint("kind IN ('wrong', 'right')", name="kind_is_known"),
        sa.CheckConstraint("label BETWEEN 0 AND 9", name="label_is_a_digit"),
        sa.CheckConstraint("predicted BETWEEN 0 AND 9", name="predicted_is_a_digit"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("drawing_sha256"),
    )
    with op.batch_alter_table("corrections") as batch_op:
        batch_op.create_index("ix_corrections_client", ["client"])
        batch_op.create_index("ix_corrections_created_at", ["created_at"])
        batch_op.create_index("ix_corrections_model_version", ["model_version"])

    settings = op.create_table(
        "settings",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=256), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    # One salt per database, made once here: every worker and server sharing the database
    # hashes a client's address the same way.
    op.bulk_insert(settings, [{"name": "client_salt", "value": secrets.token_hex(32)}])


def downgrade():
    op.drop_table("settings")
    with op.batch_alter_table("corrections") as batch_op:
        batch_op.drop_index("ix_corrections_model_version")
        batch_op.drop_index("ix_corrections_created_at")
        batch_op.drop_index("ix_corrections_client")
    op.drop_table("corrections")
