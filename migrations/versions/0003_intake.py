"""Intake: the running total of what corrections take, and no client salt in the database.

The salt of the client hashes left the database (web/database.py: DIGITPAD_CLIENT_SALT, or a
file in the instance folder for SQLite): a dump that held both the hashes and their salt let
anyone find every IPv4 address by trying all 2**32. The running total (one row) lets the
storage caps be checked on each correction without counting the table.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07
"""

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "corrections_usage",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("stored_rows", sa.BigInteger(), nullable=False),
        sa.Column("stored_bytes", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    # What is kept already, counted once here.
    op.execute(
        "INSERT INTO corrections_usage (id, stored_rows, stored_bytes) "
        "SELECT 1, COUNT(*), COALESCE(SUM(LENGTH(drawing) + LENGTH(model_input)), 0) FROM corrections"
    )
    op.execute("DELETE FROM settings WHERE name = 'client_salt'")


def downgrade():
    op.drop_table("corrections_usage")
    # The old code reads the salt from the database: a new one (older hashes will not match).
    settings = sa.table("settings", sa.column("name", sa.String), sa.column("value", sa.String))
    op.bulk_insert(settings, [{"name": "client_salt", "value": secrets.token_hex(32)}])
