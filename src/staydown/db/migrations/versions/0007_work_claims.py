"""outbox, timers, captures: the worker that claimed a row and until when

Revision ID: 0007_claims
Revises: 0002
Create Date: 2026-12-07 06:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from staydown.db.base import UTCDateTime

revision: str = "0007_claims"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = ("outbox_messages", "timers", "content_captures")


def upgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("claimed_by", sa.String(length=128), nullable=True))
            batch_op.add_column(sa.Column("lease_until", UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("lease_until")
            batch_op.drop_column("claimed_by")
