"""Initial schema: inbound messages (tasks are rows), outbound messages, run history.

Revision ID: 0001
Revises:
Create Date: 2026-11-22

Self-contained on purpose: a migration describes the schema as it was, so it uses plain SQLAlchemy types
(instants are naive UTC ``DateTime``) and never imports the live models.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

LIVE_ROW = "status IN ('pending', 'running', 'paused') AND NOT is_extra"


def upgrade() -> None:
    op.create_table(
        "messages_in",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("session", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("process_after", sa.DateTime(), nullable=False),
        sa.Column("recurrence", sa.String(200)),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("series_id", sa.String(26)),
        sa.Column("occurrence_at", sa.DateTime()),
        sa.Column("occurrence_no", sa.Integer(), nullable=False),
        sa.Column("is_extra", sa.Boolean(), nullable=False),
        sa.Column("tries", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("name", sa.String(200)),
        sa.Column("catch_up", sa.String(8), nullable=False),
        sa.Column("max_runs", sa.Integer()),
        sa.Column("retries", sa.Integer(), nullable=False),
        sa.Column("timeout_s", sa.Float()),
        sa.Column("context", sa.String(16)),
        sa.Column("remind", sa.Boolean(), nullable=False),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("next_status", sa.String(16)),
        sa.Column("reason", sa.String(2000)),
        sa.Column("lease_owner", sa.String(100)),
        sa.Column("lease_expires_at", sa.DateTime()),
        sa.UniqueConstraint("series_id", "occurrence_at", name="uq_messages_in_series_slot"),
    )
    op.create_index("ix_messages_in_status_due", "messages_in", ["status", "process_after"])
    op.create_index("ix_messages_in_session_status", "messages_in", ["session", "status"])
    op.create_index("ix_messages_in_series", "messages_in", ["series_id", "id"])
    op.create_index(
        "uq_messages_in_one_live_row",
        "messages_in",
        ["series_id"],
        unique=True,
        sqlite_where=sa.text(LIVE_ROW),
        postgresql_where=sa.text(LIVE_ROW),
    )

    op.create_table(
        "messages_out",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("session", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("in_reply_to", sa.String(26)),
        sa.Column("series_id", sa.String(26)),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("delivered_at", sa.DateTime()),
    )
    op.create_index("ix_messages_out_session", "messages_out", ["session", "id"])
    op.create_index("ix_messages_out_delivered", "messages_out", ["delivered_at"])

    op.create_table(
        "runs",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("message_id", sa.String(26), nullable=False),
        sa.Column("series_id", sa.String(26)),
        sa.Column("session", sa.String(200), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("error", sa.String(4000)),
        sa.Column("script_output", sa.String(4000)),
        sa.Column("model_output", sa.String(16384)),
        sa.Column("input_tokens", sa.Integer(), nullable=False),
        sa.Column("output_tokens", sa.Integer(), nullable=False),
        sa.Column("runner", sa.String(100)),
    )
    op.create_index("ix_runs_series", "runs", ["series_id", "started_at"])
    op.create_index("ix_runs_message", "runs", ["message_id"])
    op.create_index("ix_runs_ended", "runs", ["ended_at"])


def downgrade() -> None:
    op.drop_table("runs")
    op.drop_table("messages_out")
    op.drop_table("messages_in")
