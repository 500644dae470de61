"""bank hygiene: flood quarantines, allowlist notes, per-work automatic-block distances

Revision ID: 0010
Revises: 0001
Create Date: 2026-12-07 08:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import staydown.db.base

revision: str = "0010"
# It alters bank_entries (0002), so it follows 0002 on a branch of its own.
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "bank_quarantines",
        sa.Column("id", BIGINT_PK, nullable=False),
        sa.Column("entry_id", BIGINT_PK, nullable=False),
        sa.Column(
            "status",
            sa.Enum("open", "released", "removed", name="quarantinestatus", native_enum=False, length=24),
            nullable=False,
        ),
        sa.Column("urls", sa.Integer(), nullable=False),
        sa.Column("window_seconds", sa.Integer(), nullable=False),
        sa.Column("started_at", staydown.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", staydown.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["bank_entries.id"], name=op.f("fk_bank_quarantines_entry_id_bank_entries")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_quarantines")),
    )
    op.create_index(op.f("ix_bank_quarantines_entry_id"), "bank_quarantines", ["entry_id"], unique=False)
    op.create_index(op.f("ix_bank_quarantines_status"), "bank_quarantines", ["status"], unique=False)
    op.create_index(
        "ix_staydown_matches_entry_found", "staydown_matches", ["entry_id", "found_at"], unique=False
    )
    with op.batch_alter_table("works", schema=None) as batch_op:
        batch_op.add_column(sa.Column("auto_block_distance", sa.Integer(), nullable=True))
    with op.batch_alter_table("bank_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("auto_block_distance", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("note", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("bank_entries", schema=None) as batch_op:
        batch_op.drop_column("note")
        batch_op.drop_column("auto_block_distance")
    with op.batch_alter_table("works", schema=None) as batch_op:
        batch_op.drop_column("auto_block_distance")
    op.drop_index("ix_staydown_matches_entry_found", table_name="staydown_matches")
    op.drop_index(op.f("ix_bank_quarantines_status"), table_name="bank_quarantines")
    op.drop_index(op.f("ix_bank_quarantines_entry_id"), table_name="bank_quarantines")
    op.drop_table("bank_quarantines")
