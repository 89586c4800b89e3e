"""The host's pass finds due reminders, due http tasks and due rows held to a window through partial indexes.

All three lead with ``status`` and ``process_after``, as the due index ``ix_messages_in_status_due`` does. SQLite,
which plans without statistics, took that due index for "due reminders" and "due rows with a window" (one more
equality than the window index of 0019 offered) and read every due row, and no index served "due http tasks": with
100,000 due rows held by tag limits a pass took 0.7-1.4 s. Given the same leading columns, the planner takes the
partial index, which holds only what the query wants (docs/benchmarks.md, "Claims").

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

_WINDOWED = "status = 'pending' AND active_hours IS NOT NULL"
_REMINDERS = "status = 'pending' AND remind = true"
_HTTP = {
    "sqlite": "status = 'pending' AND json_extract(content, '$.do') = 'http'",
    "postgresql": "status = 'pending' AND (content ->> 'do') = 'http'",
}


def upgrade() -> None:
    op.drop_index("ix_messages_in_windowed", table_name="messages_in")
    for name, where in (("ix_messages_in_windowed", _WINDOWED), ("ix_messages_in_reminders", _REMINDERS)):
        op.create_index(
            name,
            "messages_in",
            ["status", "process_after", "id"],
            sqlite_where=sa.text(where),
            postgresql_where=sa.text(where),
        )
    op.create_index(
        "ix_messages_in_http",
        "messages_in",
        ["status", "process_after", "id"],
        sqlite_where=sa.text(_HTTP["sqlite"]),
        postgresql_where=sa.text(_HTTP["postgresql"]),
    )


def downgrade() -> None:
    op.drop_index("ix_messages_in_http", table_name="messages_in")
    op.drop_index("ix_messages_in_reminders", table_name="messages_in")
    op.drop_index("ix_messages_in_windowed", table_name="messages_in")
    op.create_index(
        "ix_messages_in_windowed",
        "messages_in",
        ["process_after", "id"],
        sqlite_where=sa.text(_WINDOWED),
        postgresql_where=sa.text(_WINDOWED),
    )
