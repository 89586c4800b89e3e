"""Conversation history: the turns of each session's conversation and of each series' own conversation.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "conversation_turns",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("scope", sa.String(250), nullable=False),
        sa.Column("session", sa.String(200), nullable=False),
        sa.Column("message_id", sa.String(26)),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("turn", sa.JSON(), nullable=False),
        sa.Column("tokens", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_conversation_turns_scope", "conversation_turns", ["scope", "id"])


def downgrade() -> None:
    op.drop_table("conversation_turns")
