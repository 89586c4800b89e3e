"""Delivery: channels, a session's default channel, each outbox row's delivery status, a task's own channel and
its failure alerts (docs/delivery.md).

Outbox rows written before stay in the outbox only (delivery ``none``): they were read there already.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

_DELIVERABLE = "delivery = 'pending'"


def upgrade() -> None:
    op.create_table(
        "channels",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("secret", sa.String(200)),
        sa.Column("mail_to", sa.String(320)),
        sa.Column("mail_from", sa.String(320)),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
    )
    op.create_table(
        "session_settings",
        sa.Column("session", sa.String(200), primary_key=True),
        sa.Column("deliver", sa.String(64)),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
    )
    with op.batch_alter_table("messages_out") as batch:
        batch.add_column(sa.Column("channel", sa.String(64)))
        batch.add_column(sa.Column("delivery", sa.String(16), nullable=False, server_default="none"))
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("delivery_error", sa.String(2000)))
        batch.add_column(sa.Column("next_attempt_at", sa.DateTime()))
        batch.add_column(sa.Column("delivery_owner", sa.String(100)))
    op.create_index(
        "ix_messages_out_deliverable",
        "messages_out",
        ["next_attempt_at", "id"],
        sqlite_where=sa.text(_DELIVERABLE),
        postgresql_where=sa.text(_DELIVERABLE),
    )
    with op.batch_alter_table("messages_in") as batch:
        batch.add_column(sa.Column("alerted_at", sa.DateTime()))
        batch.add_column(sa.Column("deliver", sa.String(64)))


def downgrade() -> None:
    with op.batch_alter_table("messages_in") as batch:
        batch.drop_column("deliver")
        batch.drop_column("alerted_at")
    op.drop_index("ix_messages_out_deliverable", table_name="messages_out")
    with op.batch_alter_table("messages_out") as batch:
        for column in ("delivery_owner", "next_attempt_at", "delivery_error", "attempts", "delivery", "channel"):
            batch.drop_column(column)
    op.drop_table("session_settings")
    op.drop_table("channels")
