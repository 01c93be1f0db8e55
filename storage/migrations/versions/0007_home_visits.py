"""Home tab visits: who has opened App Home (and at which page), so refreshes go only to them.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 17:06:29.603768
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "home_visit",
        sa.Column("slack_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("opened_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("page", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("slack_id"),
    )


def downgrade() -> None:
    op.drop_table("home_visit")
