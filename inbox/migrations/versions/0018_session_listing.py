"""One session's tasks listed from its index: ``ix_messages_in_session_status`` gains the listing's sort key.

``inbox tasks --session S`` and ``GET /v1/tasks?session=S`` walk a session's live rows by (due time, id); with
only (session, status) indexed they walked every session's rows by due time and skipped the others', so a
session's first page grew with the store (docs/benchmarks.md, "Paging").

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_messages_in_session_status", table_name="messages_in")
    op.create_index("ix_messages_in_session_status", "messages_in", ["session", "status", "process_after", "id"])


def downgrade() -> None:
    op.drop_index("ix_messages_in_session_status", table_name="messages_in")
    op.create_index("ix_messages_in_session_status", "messages_in", ["session", "status"])
