"""Dependencies: the edges of the task graph (with each upstream's latest ending not yet taken by a round) and the
rounds each downstream task ran, one row per (downstream, round).

Nothing in the existing rows changes: no task depends on another until one is given ``--after``.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dependencies",
        sa.Column("downstream_id", sa.String(26), primary_key=True),
        sa.Column("upstream_id", sa.String(26), primary_key=True),
        sa.Column("when", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("ended_message_id", sa.String(26)),
        sa.Column("ended_run_id", sa.String(26)),
        sa.Column("ended_outcome", sa.String(16)),
        sa.Column("ended_at", sa.DateTime()),
    )
    op.create_index("ix_dependencies_upstream", "dependencies", ["upstream_id", "downstream_id"])
    op.create_table(
        "dependency_rounds",
        sa.Column("downstream_id", sa.String(26), primary_key=True),
        sa.Column("round_no", sa.Integer(), primary_key=True),
        sa.Column("message_id", sa.String(26), nullable=False),
        sa.Column("upstream", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_dependency_rounds_message", "dependency_rounds", ["message_id"])


def downgrade() -> None:
    for table in ("dependency_rounds", "dependencies"):
        op.drop_table(table)
