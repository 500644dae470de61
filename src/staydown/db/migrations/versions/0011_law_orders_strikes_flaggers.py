"""law: §512(h) subpoenas tied to their notice, strikes weighed by a notice's size, trusted-flagger awards

Revision ID: 0011
Revises: 0004
Create Date: 2026-12-07 09:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import staydown.db.base

revision: str = "0011"
# Disclosure orders arrive with the disclosure branch (0004), which this revision alters; strikes,
# notices and API keys are from 0001, below it.
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("disclosure_orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("notice_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_disclosure_orders_notice_id"), ["notice_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_disclosure_orders_notice_id_notices"), "notices", ["notice_id"], ["id"]
        )
    with op.batch_alter_table("strikes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("weight", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column("urls", sa.Integer(), nullable=True))
    op.create_table(
        "trusted_flagger_awards",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("submitter_key_id", sa.Integer(), nullable=False),
        sa.Column("entity", sa.String(length=300), nullable=False),
        sa.Column("member_state", sa.String(length=2), nullable=False),
        sa.Column("coordinator", sa.String(length=300), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=False),
        sa.Column("awarded_on", sa.Date(), nullable=False),
        sa.Column("areas", _JSON, nullable=False),
        sa.Column(
            "status",
            sa.Enum("awarded", "suspended", "revoked", name="awardstatus", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("status_on", sa.Date(), nullable=True),
        sa.Column("status_reference", sa.String(length=200), nullable=True),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("recorded_at", staydown.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=64), nullable=False),
        sa.Column("changed_at", staydown.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("changed_by", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["submitter_key_id"],
            ["api_keys.id"],
            name=op.f("fk_trusted_flagger_awards_submitter_key_id_api_keys"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trusted_flagger_awards")),
    )
    op.create_index(
        op.f("ix_trusted_flagger_awards_submitter_key_id"),
        "trusted_flagger_awards",
        ["submitter_key_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_trusted_flagger_awards_submitter_key_id"), table_name="trusted_flagger_awards")
    op.drop_table("trusted_flagger_awards")
    with op.batch_alter_table("strikes", schema=None) as batch_op:
        batch_op.drop_column("urls")
        batch_op.drop_column("weight")
    with op.batch_alter_table("disclosure_orders", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_disclosure_orders_notice_id_notices"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_disclosure_orders_notice_id"))
        batch_op.drop_column("notice_id")
