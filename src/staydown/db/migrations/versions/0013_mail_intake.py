"""mail intake: received messages stored raw, and senders bound to API keys

Revision ID: 0013
Revises: 0002
Create Date: 2026-12-07 09:55:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import staydown.db.base

revision: str = "0013"
# It refers to notices and api_keys (0001) alone, so it follows 0002 on a branch of its own.
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")
UTC = staydown.db.base.UTCDateTime(timezone=True)
FORMATS = ("acns", "xarf", "csv", "text", "unknown")
STATUSES = ("pending", "notice", "triage", "not_applicable", "duplicate", "refused")


def upgrade() -> None:
    op.create_table(
        "inbound_messages",
        sa.Column("id", BIGINT_PK, nullable=False),
        sa.Column("received_at", UTC, nullable=False),
        sa.Column("via", sa.String(length=16), nullable=False),
        sa.Column("envelope_from", sa.String(length=320), nullable=True),
        sa.Column("recipients", JSON, nullable=False),
        sa.Column("from_address", sa.String(length=320), nullable=True),
        sa.Column("subject", sa.String(length=500), nullable=True),
        sa.Column("message_id", sa.String(length=500), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content_sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column(
            "format", sa.Enum(*FORMATS, name="inboundformat", native_enum=False, length=24), nullable=True
        ),
        sa.Column(
            "status", sa.Enum(*STATUSES, name="inboundstatus", native_enum=False, length=24), nullable=False
        ),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("external_id", sa.String(length=200), nullable=True),
        sa.Column("notice_id", sa.Integer(), nullable=True),
        sa.Column("duplicate_of_id", BIGINT_PK, nullable=True),
        sa.Column("extracted", JSON, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("processed_at", UTC, nullable=True),
        sa.Column("answered_at", UTC, nullable=True),
        sa.Column("answered_by", sa.String(length=64), nullable=True),
        sa.Column("claimed_by", sa.String(length=128), nullable=True),
        sa.Column("lease_until", UTC, nullable=True),
        sa.ForeignKeyConstraint(
            ["notice_id"], ["notices.id"], name=op.f("fk_inbound_messages_notice_id_notices")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_messages")),
    )
    op.create_index("ix_inbound_messages_due", "inbound_messages", ["status", "received_at"], unique=False)
    for column in ("message_id", "sha256", "content_sha256", "external_id"):
        op.create_index(op.f(f"ix_inbound_messages_{column}"), "inbound_messages", [column], unique=False)
    op.create_table(
        "mail_senders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["key_id"], ["api_keys.id"], name=op.f("fk_mail_senders_key_id_api_keys")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_senders")),
        sa.UniqueConstraint("address", name=op.f("uq_mail_senders_address")),
    )


def downgrade() -> None:
    op.drop_table("mail_senders")
    for column in ("message_id", "sha256", "content_sha256", "external_id"):
        op.drop_index(op.f(f"ix_inbound_messages_{column}"), table_name="inbound_messages")
    op.drop_index("ix_inbound_messages_due", table_name="inbound_messages")
    op.drop_table("inbound_messages")
