"""law: zone service types, per-regime notifier sanctions, caching triggers, the Japanese sender inquiry, complaint windows from notification

Revision ID: 0008
Revises: 0001
Create Date: 2026-12-07 06:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import staydown.db.base

revision: str = "0008"
# Complaints arrive with the due-process branch (0003) and this revision alters them, so it follows
# 0003 on that branch (a dependency instead would leave 0003 a head the version table no longer names).
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("zones", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("service_type", sa.String(length=16), nullable=False, server_default="caching")
        )
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sanction", sa.Text(), nullable=True))
    with op.batch_alter_table("notice_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("caching_trigger", sa.String(length=32), nullable=True))
        batch_op.add_column(
            sa.Column("inquiry_due_at", staydown.db.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("election", sa.Boolean(), nullable=True))
    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("informed_at", staydown.db.base.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.drop_column("informed_at")
    with op.batch_alter_table("notice_items", schema=None) as batch_op:
        batch_op.drop_column("election")
        batch_op.drop_column("inquiry_due_at")
        batch_op.drop_column("caching_trigger")
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.drop_column("sanction")
    with op.batch_alter_table("zones", schema=None) as batch_op:
        batch_op.drop_column("service_type")
