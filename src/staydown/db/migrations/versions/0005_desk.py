"""desk users and sessions

Revision ID: 0005
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import staydown.db.base

revision: str = "0005"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "desk_users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("api_key_id", sa.Integer(), nullable=False),
        sa.Column("created_at", staydown.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("password_changed_at", staydown.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("disabled_at", staydown.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.Column("locked_until", staydown.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["api_key_id"], ["api_keys.id"], name=op.f("fk_desk_users_api_key_id_api_keys")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_desk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_desk_users_email")),
    )
    with op.batch_alter_table("desk_users", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_desk_users_api_key_id"), ["api_key_id"], unique=False)

    op.create_table(
        "desk_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("api_key_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", staydown.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", staydown.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", staydown.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", staydown.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["api_key_id"], ["api_keys.id"], name=op.f("fk_desk_sessions_api_key_id_api_keys")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["desk_users.id"], name=op.f("fk_desk_sessions_user_id_desk_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_desk_sessions")),
    )
    with op.batch_alter_table("desk_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_desk_sessions_api_key_id"), ["api_key_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_desk_sessions_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_table("desk_sessions")
    op.drop_table("desk_users")
