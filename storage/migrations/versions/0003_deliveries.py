"""Scheduled deliveries, the scheduler's marks, people's preferences and snoozes.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 14:32:35.957651
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "person_prefs",
        sa.Column("slack_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("tz_override", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("work_start", sqlmodel.sql.sqltypes.AutoString(length=5), nullable=False),
        sa.Column("work_end", sqlmodel.sql.sqltypes.AutoString(length=5), nullable=False),
        sa.Column("work_days", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("muted", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("slack_id"),
    )
    op.create_table(
        "scheduler_mark",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("release_id", sa.Integer(), nullable=True),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
        sa.Column("recipient", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("slot", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("item_ids", sa.Text(), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("not_before", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("lease_until", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("claim_token", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("unknown_outcome", sa.Boolean(), nullable=False),
        sa.Column("channel_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("message_ts", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["release_id"],
            ["release.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_delivery_release_id"), ["release_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_delivery_slot"), ["slot"], unique=False)
        batch_op.create_index(batch_op.f("ix_delivery_state"), ["state"], unique=False)

    op.create_table(
        "snooze",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("until", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["checklist_item.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("item_id", "user_id", name="uq_snooze"),
    )
    with op.batch_alter_table("snooze", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_snooze_item_id"), ["item_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("snooze", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_snooze_item_id"))

    op.drop_table("snooze")
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_delivery_state"))
        batch_op.drop_index(batch_op.f("ix_delivery_slot"))
        batch_op.drop_index(batch_op.f("ix_delivery_release_id"))

    op.drop_table("delivery")
    op.drop_table("scheduler_mark")
    op.drop_table("person_prefs")
