"""Per-release timing of the readiness summaries and the final call.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 15:06:58.175452
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:

    with op.batch_alter_table("release", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("summary_offsets", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True)
        )
        batch_op.add_column(sa.Column("final_call_seconds", sa.Integer(), nullable=True))


def downgrade() -> None:

    with op.batch_alter_table("release", schema=None) as batch_op:
        batch_op.drop_column("final_call_seconds")
        batch_op.drop_column("summary_offsets")
