"""bulk senders: external ids, per-item rejections, idempotent submissions, submitter webhooks

Revision ID: 0014
Revises: 0001
Create Date: 2026-12-07 09:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import staydown.db.base

revision: str = "0014"
# It alters notices and notice_items (0001) and adds tables of its own: a branch of its own.
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("external_id", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("rejected_items", staydown.db.base.JSONType, nullable=True))
        batch_op.create_index(
            "ix_notices_submitter_external", ["submitter_key_id", "external_id"], unique=False
        )
    with op.batch_alter_table("notice_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("external_id", sa.String(length=200), nullable=True))
    op.create_table(
        "notice_idempotency",
        sa.Column("id", BIGINT_PK, nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=False),
        sa.Column("request_sha256", sa.String(length=64), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=True),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("response", sa.Text(), nullable=False),
        sa.Column("created_at", staydown.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["key_id"], ["api_keys.id"], name=op.f("fk_notice_idempotency_key_id_api_keys")
        ),
        sa.ForeignKeyConstraint(
            ["notice_id"], ["notices.id"], name=op.f("fk_notice_idempotency_notice_id_notices")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice_idempotency")),
        sa.UniqueConstraint("key_id", "idempotency_key", name="uq_notice_idempotency_key"),
    )
    op.create_table(
        "submitter_webhooks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("secret", sa.String(length=128), nullable=False),
        sa.Column("created_at", staydown.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["key_id"], ["api_keys.id"], name=op.f("fk_submitter_webhooks_key_id_api_keys")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_submitter_webhooks")),
        sa.UniqueConstraint("key_id", name=op.f("uq_submitter_webhooks_key_id")),
    )


def downgrade() -> None:
    op.drop_table("submitter_webhooks")
    op.drop_table("notice_idempotency")
    with op.batch_alter_table("notice_items", schema=None) as batch_op:
        batch_op.drop_column("external_id")
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.drop_index("ix_notices_submitter_external")
        batch_op.drop_column("rejected_items")
        batch_op.drop_column("external_id")
