"""served_days, served_resources, served_reports: requests the edges served per zone and resource

Revision ID: 0021
Revises: 0014
Create Date: 2026-12-07 12:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "served_days",
        sa.Column("zone_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("requests", sa.BigInteger(), nullable=False),
        sa.Column("error", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["zone_id"], ["zones.id"], name=op.f("fk_served_days_zone_id_zones")),
        sa.PrimaryKeyConstraint("zone_id", "day", name=op.f("pk_served_days")),
    )
    op.create_table(
        "served_resources",
        sa.Column("zone_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("key_hash", sa.String(length=32), nullable=False),
        sa.Column("path_hash", sa.String(length=32), nullable=True),
        sa.Column("requests", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["zone_id"], ["zones.id"], name=op.f("fk_served_resources_zone_id_zones")),
        sa.PrimaryKeyConstraint("zone_id", "day", "key_hash", name=op.f("pk_served_resources")),
    )
    op.create_table(
        "served_reports",
        sa.Column("reporter", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("edge", sa.String(length=128), nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("reporter", "seq", name=op.f("pk_served_reports")),
    )
    op.create_index("ix_served_reports_received_at", "served_reports", ["received_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_served_reports_received_at", table_name="served_reports")
    op.drop_table("served_reports")
    op.drop_table("served_resources")
    op.drop_table("served_days")
