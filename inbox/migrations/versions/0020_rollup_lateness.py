"""Run roll-ups count lateness too: the stats page's lateness reads whole hours from ``run_rollups`` instead of
joining every run of its window to its row (docs/benchmarks.md, "Dashboard").

Hours rolled up before hold no lateness (an empty list): they count as no first attempts, and the figure covers
the hours rolled up from then on, as docs/dashboard.md says.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("run_rollups") as batch:
        batch.add_column(sa.Column("lateness", sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
        batch.add_column(sa.Column("lateness_s", sa.Float(), nullable=False, server_default=sa.text("0")))


def downgrade() -> None:
    with op.batch_alter_table("run_rollups") as batch:
        batch.drop_column("lateness_s")
        batch.drop_column("lateness")
