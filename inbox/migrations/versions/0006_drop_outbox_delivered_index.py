"""Drop the index on ``messages_out.delivered_at``: nothing sets or reads that column, and every outbox row a
reminder or a reply writes paid for one more index entry (a sixth of a reminder's ending on SQLite).

The column stays, so databases written by older releases keep their data as it is.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_messages_out_delivered", table_name="messages_out")


def downgrade() -> None:
    op.create_index("ix_messages_out_delivered", "messages_out", ["delivered_at"])
