"""The due-rows index also orders by id, so taking a batch of rows due at one instant reads only that batch.

With (status, process_after) alone, ``ORDER BY process_after, id LIMIT n`` sorted every row sharing the oldest
due instant before returning the first n: 10,000 series due at 09:00 meant sorting 10,000 rows per batch.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_messages_in_status_due", table_name="messages_in")
    op.create_index("ix_messages_in_status_due", "messages_in", ["status", "process_after", "id"])


def downgrade() -> None:
    op.drop_index("ix_messages_in_status_due", table_name="messages_in")
    op.create_index("ix_messages_in_status_due", "messages_in", ["status", "process_after"])
