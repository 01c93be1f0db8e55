"""Releases, checklist items, owners, people, the audit log and card notes.

Revision ID: 0001
Revises:
Create Date: 2026-11-27 14:07:02.300526
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "person",
        sa.Column("slack_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("tz", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("is_bot", sa.Boolean(), nullable=False),
        sa.Column("fetched_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("slack_id"),
    )
    op.create_table(
        "release",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=150), nullable=False),
        sa.Column("name_key", sqlmodel.sql.sqltypes.AutoString(length=150), nullable=False),
        sa.Column("channel_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("launch_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("timezone", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("template", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("card_ts", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("card_version", sa.Integer(), nullable=False),
        sa.Column("card_synced_version", sa.Integer(), nullable=False),
        sa.Column("card_lease_until", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("release", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_release_channel_id"), ["channel_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_release_state"), ["state"], unique=False)
        batch_op.create_index(
            "uq_release_active_name",
            ["channel_id", "name_key"],
            unique=True,
            sqlite_where=sa.text("state IN ('planning', 'go', 'no_go')"),
            postgresql_where=sa.text("state IN ('planning', 'go', 'no_go')"),
        )

    op.create_table(
        "card_note",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("release_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("posted_ts", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["release_id"],
            ["release.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("card_note", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_card_note_release_id"), ["release_id"], unique=False)

    op.create_table(
        "checklist_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("release_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("section", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=150), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("offset_seconds", sa.Integer(), nullable=False),
        sa.Column("due_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("evidence", sa.Text(), nullable=True),
        sa.Column("evidence_required", sa.Boolean(), nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("sign_off_rule", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("signed_off_by", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("signed_off_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("thread_ts", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("synced_version", sa.Integer(), nullable=False),
        sa.Column("updated_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["release_id"],
            ["release.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("release_id", "key", name="uq_item_key"),
        sa.UniqueConstraint("release_id", "position", name="uq_item_position"),
    )
    with op.batch_alter_table("checklist_item", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_checklist_item_due_at"), ["due_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_checklist_item_release_id"), ["release_id"], unique=False)

    op.create_table(
        "release_role",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("release_id", sa.Integer(), nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("user_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["release_id"],
            ["release.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("release_id", "role", "user_id", name="uq_release_role"),
    )
    with op.batch_alter_table("release_role", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_release_role_release_id"), ["release_id"], unique=False)

    op.create_table(
        "audit_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("release_id", sa.Integer(), nullable=True),
        sa.Column("item_id", sa.Integer(), nullable=True),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("outcome", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("before", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("after", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("event_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["checklist_item.id"],
        ),
        sa.ForeignKeyConstraint(
            ["release_id"],
            ["release.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_event_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_event_item_id"), ["item_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_event_release_id"), ["release_id"], unique=False)

    op.create_table(
        "item_owner",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("slack_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["checklist_item.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("item_id", "kind", "slack_id", name="uq_item_owner"),
    )
    with op.batch_alter_table("item_owner", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_item_owner_item_id"), ["item_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("item_owner", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_item_owner_item_id"))

    op.drop_table("item_owner")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_event_release_id"))
        batch_op.drop_index(batch_op.f("ix_audit_event_item_id"))
        batch_op.drop_index(batch_op.f("ix_audit_event_at"))

    op.drop_table("audit_event")
    with op.batch_alter_table("release_role", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_release_role_release_id"))

    op.drop_table("release_role")
    with op.batch_alter_table("checklist_item", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_checklist_item_release_id"))
        batch_op.drop_index(batch_op.f("ix_checklist_item_due_at"))

    op.drop_table("checklist_item")
    with op.batch_alter_table("card_note", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_card_note_release_id"))

    op.drop_table("card_note")
    with op.batch_alter_table("release", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_release_active_name",
            sqlite_where=sa.text("state IN ('planning', 'go', 'no_go')"),
            postgresql_where=sa.text("state IN ('planning', 'go', 'no_go')"),
        )
        batch_op.drop_index(batch_op.f("ix_release_state"))
        batch_op.drop_index(batch_op.f("ix_release_channel_id"))

    op.drop_table("release")
    op.drop_table("person")
