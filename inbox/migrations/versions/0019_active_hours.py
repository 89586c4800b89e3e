"""Active hours (docs/schedules.md#active-hours): a task's own daily window, and its session's for the tasks
without one.

Rows and sessions written before have none: their occurrences run at any hour, as before.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

_WINDOWED = "status = 'pending' AND active_hours IS NOT NULL"


def upgrade() -> None:
    with op.batch_alter_table("messages_in") as batch:
        batch.add_column(sa.Column("active_hours", sa.String(11)))
    with op.batch_alter_table("session_settings") as batch:
        batch.add_column(sa.Column("active_hours", sa.String(11)))
    op.create_index(
        "ix_messages_in_windowed",
        "messages_in",
        ["process_after", "id"],
        sqlite_where=sa.text(_WINDOWED),
        postgresql_where=sa.text(_WINDOWED),
    )


def downgrade() -> None:
    op.drop_index("ix_messages_in_windowed", table_name="messages_in")
    with op.batch_alter_table("session_settings") as batch:
        batch.drop_column("active_hours")
    with op.batch_alter_table("messages_in") as batch:
        batch.drop_column("active_hours")
