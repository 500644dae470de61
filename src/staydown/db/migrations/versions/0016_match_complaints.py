"""complaints: a customer's complaint against a stay-down match's block

Revision ID: 0016
Revises: 0008
Create Date: 2026-12-07 10:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.add_column(sa.Column("match_id", sa.BigInteger(), nullable=True))
        batch_op.create_index("ix_complaints_match_id", ["match_id"])


def downgrade() -> None:
    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.drop_index("ix_complaints_match_id")
        batch_op.drop_column("match_id")
