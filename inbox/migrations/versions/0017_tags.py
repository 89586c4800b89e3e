"""Tags, priorities and limits per tag (docs/limits.md).

Rows written before have no tags, priority 0 and no limit: they are claimed as before.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

_PENDING = "status = 'pending'"


def upgrade() -> None:
    with op.batch_alter_table("messages_in") as batch:
        batch.add_column(sa.Column("tags", sa.JSON()))
        batch.add_column(sa.Column("priority", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("gate", sa.String(64), nullable=False, server_default=""))
    op.create_index(
        "ix_messages_in_claim",
        "messages_in",
        ["gate", "priority", "process_after", "id"],
        sqlite_where=sa.text(_PENDING),
        postgresql_where=sa.text(_PENDING),
    )
    op.create_table(
        "task_tags",
        sa.Column("series_id", sa.String(26), primary_key=True),
        sa.Column("tag", sa.String(64), primary_key=True),
    )
    op.create_index("ix_task_tags_tag", "task_tags", ["tag", "series_id"])
    op.create_table(
        "tag_limits",
        sa.Column("tag", sa.String(64), primary_key=True),
        sa.Column("max_running", sa.Integer()),
        sa.Column("rate_count", sa.Integer()),
        sa.Column("rate_seconds", sa.Float()),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
    )
    op.create_table(
        "tag_starts",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("tag", sa.String(64), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_tag_starts_tag", "tag_starts", ["tag", "started_at"])


def downgrade() -> None:
    op.drop_index("ix_tag_starts_tag", table_name="tag_starts")
    op.drop_table("tag_starts")
    op.drop_table("tag_limits")
    op.drop_index("ix_task_tags_tag", table_name="task_tags")
    op.drop_table("task_tags")
    op.drop_index("ix_messages_in_claim", table_name="messages_in")
    with op.batch_alter_table("messages_in") as batch:
        for column in ("gate", "priority", "tags"):
            batch.drop_column(column)
