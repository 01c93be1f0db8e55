"""Sign-off: processed Slack events, per-owner sign-offs and reaction marks.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 14:18:19.430685
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "processed_event",
        sa.Column("event_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("received_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )
    with op.batch_alter_table("processed_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_processed_event_received_at"), ["received_at"], unique=False)

    op.create_table(
        "item_signoff",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["checklist_item.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("item_id", "user_id", name="uq_item_signoff"),
    )
    with op.batch_alter_table("item_signoff", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_item_signoff_item_id"), ["item_id"], unique=False)

    op.create_table(
        "reaction_mark",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("present", sa.Boolean(), nullable=False),
        sa.Column("event_ts", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["checklist_item.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("item_id", "user_id", "kind", name="uq_reaction_mark"),
    )
    with op.batch_alter_table("reaction_mark", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reaction_mark_item_id"), ["item_id"], unique=False)

    with op.batch_alter_table("checklist_item", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_checklist_item_thread_ts"), ["thread_ts"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("checklist_item", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_checklist_item_thread_ts"))

    with op.batch_alter_table("reaction_mark", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reaction_mark_item_id"))

    op.drop_table("reaction_mark")
    with op.batch_alter_table("item_signoff", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_item_signoff_item_id"))

    op.drop_table("item_signoff")
    with op.batch_alter_table("processed_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_processed_event_received_at"))

    op.drop_table("processed_event")
