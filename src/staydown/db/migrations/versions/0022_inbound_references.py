"""inbound_references: each sender's reference (Message-ID, ACNS Case ID, X-ARF report id, content)
claimed once, by the first message read that carries it

Revision ID: 0022
Revises: 0013
Create Date: 2026-12-07 12:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# Messages stored before this table existed hold their references already: the earliest of each.
BACKFILL = (
    ("message_id", "message_id", "message_id IS NOT NULL AND message_id <> ''"),
    ("case", "format || ':' || external_id", "external_id IS NOT NULL AND format IS NOT NULL"),
    ("content", "content_sha256", "content_sha256 <> ''"),
    ("raw", "sha256", "sha256 <> ''"),
)


def upgrade() -> None:
    op.create_table(
        "inbound_references",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=500), nullable=False),
        sa.Column("message_id", BIGINT, nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["inbound_messages.id"],
            name=op.f("fk_inbound_references_message_id_inbound_messages"),
        ),
        sa.PrimaryKeyConstraint("kind", "value", name=op.f("pk_inbound_references")),
    )
    for kind, value, present in BACKFILL:
        op.execute(
            f"INSERT INTO inbound_references (kind, value, message_id) "  # noqa: S608 (constants only)
            f"SELECT '{kind}', {value}, MIN(id) FROM inbound_messages WHERE {present} GROUP BY {value}"
        )


def downgrade() -> None:
    op.drop_table("inbound_references")
