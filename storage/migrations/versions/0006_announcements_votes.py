"""Announcements, go/no-go votes, release trains; release columns for them.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 17:05:55.874517
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "train",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=150), nullable=False),
        sa.Column("name_key", sqlmodel.sql.sqltypes.AutoString(length=150), nullable=False),
        sa.Column("channel_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("rule", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("anchor_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("timezone", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("template", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("lead_days", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("skip", sa.Text(), nullable=False),
        sa.Column("last_launch_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("train", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_train_channel_id"), ["channel_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_train_name_key"), ["name_key"], unique=False)

    op.create_table(
        "announcement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("release_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("channel_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("offset_seconds", sa.Integer(), nullable=True),
        sa.Column("post_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("context", sa.Text(), nullable=True),
        sa.Column("approved_by", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("approved_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("posted_channel", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("posted_ts", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["release_id"],
            ["release.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("announcement", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_announcement_post_at"), ["post_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_announcement_release_id"), ["release_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_announcement_state"), ["state"], unique=False)

    op.create_table(
        "vote",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("release_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("choice", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["release_id"],
            ["release.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("release_id", "user_id", name="uq_vote"),
    )
    with op.batch_alter_table("vote", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_vote_release_id"), ["release_id"], unique=False)

    with op.batch_alter_table("release", schema=None) as batch_op:
        batch_op.add_column(sa.Column("details", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("announce_channel", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True)
        )
        batch_op.add_column(sa.Column("announce_lead_seconds", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("auto_approve", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column("plan_approved_by", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True)
        )
        batch_op.add_column(
            sa.Column("plan_approved_at", storage.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("decision_rule", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True)
        )
        batch_op.add_column(sa.Column("decided_at", storage.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("launched_at", storage.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("override_by", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True)
        )
        batch_op.add_column(sa.Column("override_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("closed_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("train_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_release_train_id"), ["train_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("release", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_release_train_id"))
        batch_op.drop_column("train_id")
        batch_op.drop_column("closed_reason")
        batch_op.drop_column("override_reason")
        batch_op.drop_column("override_by")
        batch_op.drop_column("launched_at")
        batch_op.drop_column("decided_at")
        batch_op.drop_column("decision_rule")
        batch_op.drop_column("plan_approved_at")
        batch_op.drop_column("plan_approved_by")
        batch_op.drop_column("auto_approve")
        batch_op.drop_column("announce_lead_seconds")
        batch_op.drop_column("announce_channel")
        batch_op.drop_column("details")

    with op.batch_alter_table("vote", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_vote_release_id"))

    op.drop_table("vote")
    with op.batch_alter_table("announcement", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_announcement_state"))
        batch_op.drop_index(batch_op.f("ix_announcement_release_id"))
        batch_op.drop_index(batch_op.f("ix_announcement_post_at"))

    op.drop_table("announcement")
    with op.batch_alter_table("train", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_train_name_key"))
        batch_op.drop_index(batch_op.f("ix_train_channel_id"))

    op.drop_table("train")
