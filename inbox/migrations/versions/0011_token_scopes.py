"""Token scopes (``read``, ``send``, ``admin``), the dashboard's sign-in sessions, hourly run roll-ups for its stats,
and an index on task names (finding a task by name no longer reads the table).

Every token made before scopes existed could do everything: it stays ``admin``. The roll-ups start empty; the
first host to run the roll-up chore fills them from the run history kept.

Revision ID: 0011
Revises: 0007
Create Date: 2026-12-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("scope", sa.String(8), nullable=False, server_default="admin"))
    op.create_table(
        "web_sessions",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("token_digest", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_web_sessions_expires", "web_sessions", ["expires_at"])
    op.create_table(
        "run_rollups",
        sa.Column("hour", sa.DateTime(), primary_key=True),
        sa.Column("outcome", sa.String(16), primary_key=True),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.Column("input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=False),
        sa.Column("durations", sa.JSON(), nullable=False),
    )
    op.create_index(
        "ix_messages_in_name",
        "messages_in",
        ["name"],
        sqlite_where=sa.text("name IS NOT NULL"),
        postgresql_where=sa.text("name IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_messages_in_name", table_name="messages_in")
    op.drop_table("run_rollups")
    op.drop_table("web_sessions")
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("scope")
