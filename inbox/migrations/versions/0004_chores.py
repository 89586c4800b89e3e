"""Chores: jobs one host does for all the hosts on a store (retention), with who took each and when it is due.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chores",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("owner", sa.String(100)),
        sa.Column("started_at", sa.DateTime()),
        sa.Column("due_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("chores")
