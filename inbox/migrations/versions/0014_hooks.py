"""Webhooks (their names, secrets and sessions) and the drop folder's ingested files.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hooks",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("secret", sa.String(100), nullable=False),
        sa.Column("session", sa.String(200)),
        sa.Column("message", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
    )
    op.create_table(
        "drop_ingested",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("path", sa.String(1000), nullable=False),
        sa.Column("message_id", sa.String(26)),
        sa.Column("event_id", sa.String(26)),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("drop_ingested")
    op.drop_table("hooks")
