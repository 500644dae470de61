"""certificates: zones' certificates (ACME, upload, demo), ACME orders, zones' HTTPS settings

Revision ID: 0015
Revises: 0006
Create Date: 2026-12-07 09:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("zones", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("https_redirect", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("hsts_max_age", sa.Integer(), nullable=True))
    op.create_table(
        "certificates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("zone_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("hostnames", _JSON, nullable=False),
        sa.Column("chain_pem", sa.Text(), nullable=False),
        sa.Column("key_sealed", sa.Text(), nullable=False),
        sa.Column("serial", sa.String(length=64), nullable=False),
        sa.Column("issuer", sa.String(length=1000), nullable=False),
        sa.Column("fingerprint_sha256", sa.String(length=64), nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("not_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["zone_id"], ["zones.id"], name=op.f("fk_certificates_zone_id_zones")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certificates")),
    )
    op.create_index(op.f("ix_certificates_zone_id"), "certificates", ["zone_id"], unique=False)
    op.create_table(
        "certificate_orders",
        sa.Column("id", _ID, nullable=False),
        sa.Column("zone_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("certificate_id", sa.Integer(), nullable=True),
        sa.Column("renews_id", sa.Integer(), nullable=True),
        sa.Column("claimed_by", sa.String(length=128), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["zone_id"], ["zones.id"], name=op.f("fk_certificate_orders_zone_id_zones")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certificate_orders")),
    )
    op.create_index(op.f("ix_certificate_orders_zone_id"), "certificate_orders", ["zone_id"], unique=False)
    op.create_index("ix_certificate_orders_due", "certificate_orders", ["status", "due_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_certificate_orders_due", table_name="certificate_orders")
    op.drop_index(op.f("ix_certificate_orders_zone_id"), table_name="certificate_orders")
    op.drop_table("certificate_orders")
    op.drop_index(op.f("ix_certificates_zone_id"), table_name="certificates")
    op.drop_table("certificates")
    with op.batch_alter_table("zones", schema=None) as batch_op:
        batch_op.drop_column("hsts_max_age")
        batch_op.drop_column("https_redirect")
