"""Events: what was emitted, what each event did to each listening series, the patterns series listen to, and the
``state`` a series' pre-script hands to its next run.

A series no time starts (only events) keeps its live row at ``process_after`` 9999-12-31; nothing in the existing
rows changes.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("session", sa.String(200)),
        sa.Column("data", sa.JSON()),
        sa.Column("key", sa.String(200)),
        sa.Column("scope", sa.String(200), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("uq_events_key", "events", ["key", "scope"], unique=True)
    op.create_index("ix_events_name", "events", ["name", "id"])
    op.create_table(
        "event_matches",
        sa.Column("event_id", sa.String(26), primary_key=True),
        sa.Column("series_id", sa.String(26), primary_key=True),
        sa.Column("message_id", sa.String(26)),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_event_matches_series", "event_matches", ["series_id", "event_id"])
    op.create_table(
        "event_triggers",
        sa.Column("series_id", sa.String(26), primary_key=True),
        sa.Column("pattern", sa.String(200), primary_key=True),
        sa.Column("head", sa.String(200), nullable=False),
        sa.Column("session", sa.String(200), nullable=False),
    )
    op.create_index("ix_event_triggers_head", "event_triggers", ["head", "session"])
    op.create_table(
        "series_state",
        sa.Column("series_id", sa.String(26), primary_key=True),
        sa.Column("state", sa.JSON()),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    for table in ("series_state", "event_triggers", "event_matches", "events"):
        op.drop_table(table)
