"""disclosure orders and legal holds

Revision ID: 0004
Revises: 0001
Create Date: 2026-11-23 18:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import staydown.db.base

revision: str = "0004"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "disclosure_orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("authority", sa.String(length=300), nullable=False),
        sa.Column("authority_kind", sa.String(length=16), nullable=False),
        sa.Column("case_number", sa.String(length=200), nullable=False),
        sa.Column("jurisdiction", sa.String(length=64), nullable=False),
        sa.Column(
            "legal_basis",
            sa.Enum(
                "us_512h_subpoena",
                "jp_disclosure_order",
                "jp_log_preservation_order",
                "court_order",
                "authority_order",
                name="legalbasis",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("legal_basis_detail", sa.Text(), nullable=True),
        sa.Column("scope", _JSON, nullable=False),
        sa.Column("scope_note", sa.Text(), nullable=True),
        sa.Column("issued_at", staydown.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("received_at", staydown.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("deadline_at", staydown.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("gagged", sa.Boolean(), nullable=False),
        sa.Column("gag_note", sa.Text(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "received",
                "complied",
                "partially_complied",
                "contested",
                "closed",
                name="orderstatus",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("released", _JSON, nullable=False),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("decided_at", staydown.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("customer_notified_at", staydown.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_disclosure_orders_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disclosure_orders")),
    )
    with op.batch_alter_table("disclosure_orders", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_disclosure_orders_customer_id"), ["customer_id"], unique=False)

    op.create_table(
        "legal_holds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("placed_at", staydown.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("placed_by", sa.String(length=64), nullable=False),
        sa.Column("released_at", staydown.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("released_by", sa.String(length=64), nullable=True),
        sa.Column("release_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_legal_holds_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["disclosure_orders.id"], name=op.f("fk_legal_holds_order_id_disclosure_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_legal_holds")),
    )
    with op.batch_alter_table("legal_holds", schema=None) as batch_op:
        batch_op.create_index(
            "ix_legal_holds_customer_released", ["customer_id", "released_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_legal_holds_order_id"), ["order_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("legal_holds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_legal_holds_order_id"))
        batch_op.drop_index("ix_legal_holds_customer_released")
    op.drop_table("legal_holds")
    with op.batch_alter_table("disclosure_orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_disclosure_orders_customer_id"))
    op.drop_table("disclosure_orders")
