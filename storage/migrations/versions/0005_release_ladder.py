"""Per-release reminder ladder: heads-up days, overdue repetition, escalation threshold.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 15:25:38.006057
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:

    with op.batch_alter_table("release", schema=None) as batch_op:
        batch_op.add_column(sa.Column("heads_up_days", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("overdue_daily", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("escalate_after_hours", sa.Float(), nullable=True))


def downgrade() -> None:

    with op.batch_alter_table("release", schema=None) as batch_op:
        batch_op.drop_column("escalate_after_hours")
        batch_op.drop_column("overdue_daily")
        batch_op.drop_column("heads_up_days")
