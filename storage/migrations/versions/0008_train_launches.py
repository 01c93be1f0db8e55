"""Release trains: each launch becomes one release, and active train names are unique in a channel.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 17:18:12.641583
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("release", schema=None) as batch_op:
        batch_op.create_index(
            "uq_release_train_launch",
            ["train_id", "launch_at"],
            unique=True,
            sqlite_where=sa.text("train_id IS NOT NULL"),
            postgresql_where=sa.text("train_id IS NOT NULL"),
        )
    with op.batch_alter_table("train", schema=None) as batch_op:
        batch_op.create_index(
            "uq_train_active_name",
            ["channel_id", "name_key"],
            unique=True,
            sqlite_where=sa.text("active"),
            postgresql_where=sa.text("active"),
        )


def downgrade() -> None:
    with op.batch_alter_table("train", schema=None) as batch_op:
        batch_op.drop_index("uq_train_active_name")
    with op.batch_alter_table("release", schema=None) as batch_op:
        batch_op.drop_index("uq_release_train_launch")
