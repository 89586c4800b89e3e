"""``messages_in.script_by``: who wrote a task's script, which may differ from who made the task (an agent can
attach a script to a task a person made). Unsandboxed runners refuse scripts an agent wrote.

Rows written before keep the only author known for them: their creator.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("messages_in", sa.Column("script_by", sa.String(200), nullable=True))
    op.execute("UPDATE messages_in SET script_by = created_by")


def downgrade() -> None:
    with op.batch_alter_table("messages_in") as batch:
        batch.drop_column("script_by")
