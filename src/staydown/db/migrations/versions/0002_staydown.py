"""stay-down: works, reference images, the hash bank, content captures, matches; match strikes

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 18:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import staydown.db.base

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=24)


def upgrade() -> None:
    op.create_table(
        "works",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("owner_key_id", sa.Integer(), nullable=True),
        sa.Column("created_at", staydown.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_key_id"], ["api_keys.id"], name=op.f("fk_works_owner_key_id_api_keys")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_works")),
    )
    op.create_index(op.f("ix_works_owner_key_id"), "works", ["owner_key_id"], unique=False)

    op.create_table(
        "reference_images",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("work_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=300), nullable=True),
        sa.Column("content_type", sa.String(length=200), nullable=True),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=True),
        sa.Column("created_at", staydown.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["work_id"], ["works.id"], name=op.f("fk_reference_images_work_id_works")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reference_images")),
    )
    op.create_index(op.f("ix_reference_images_work_id"), "reference_images", ["work_id"], unique=False)

    op.create_table(
        "bank_entries",
        sa.Column("id", BIGINT_PK, nullable=False),
        sa.Column("scope", _enum("bankscope", "zone", "customer", "network"), nullable=False),
        sa.Column("zone_id", sa.Integer(), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("source", _enum("banksource", "notice", "reference"), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=True),
        sa.Column("item_id", BIGINT_PK, nullable=True),
        sa.Column("work_id", sa.Integer(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("pdq", staydown.db.base.JSONType, nullable=False),
        sa.Column("quality", sa.Integer(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("status", _enum("bankstatus", "active", "removed"), nullable=False),
        sa.Column("created_at", staydown.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("removed_at", staydown.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("removed_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["zone_id"], ["zones.id"], name=op.f("fk_bank_entries_zone_id_zones")),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_bank_entries_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["notice_id"], ["notices.id"], name=op.f("fk_bank_entries_notice_id_notices")
        ),
        sa.ForeignKeyConstraint(
            ["item_id"], ["notice_items.id"], name=op.f("fk_bank_entries_item_id_notice_items")
        ),
        sa.ForeignKeyConstraint(["work_id"], ["works.id"], name=op.f("fk_bank_entries_work_id_works")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_entries")),
    )
    op.create_index(op.f("ix_bank_entries_notice_id"), "bank_entries", ["notice_id"], unique=False)
    op.create_index(op.f("ix_bank_entries_item_id"), "bank_entries", ["item_id"], unique=False)
    op.create_index(op.f("ix_bank_entries_work_id"), "bank_entries", ["work_id"], unique=False)
    op.create_index(op.f("ix_bank_entries_sha256"), "bank_entries", ["sha256"], unique=False)

    op.create_table(
        "content_captures",
        sa.Column("id", BIGINT_PK, nullable=False),
        sa.Column("item_id", BIGINT_PK, nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("zone_id", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column(
            "status",
            _enum("capturestatus", "pending", "banked", "not_image", "rejected", "failed", "cancelled"),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", staydown.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", staydown.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("done_at", staydown.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("content_type", sa.String(length=200), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("entry_id", BIGINT_PK, nullable=True),
        sa.ForeignKeyConstraint(
            ["item_id"], ["notice_items.id"], name=op.f("fk_content_captures_item_id_notice_items")
        ),
        sa.ForeignKeyConstraint(
            ["notice_id"], ["notices.id"], name=op.f("fk_content_captures_notice_id_notices")
        ),
        sa.ForeignKeyConstraint(["zone_id"], ["zones.id"], name=op.f("fk_content_captures_zone_id_zones")),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["bank_entries.id"], name=op.f("fk_content_captures_entry_id_bank_entries")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_content_captures")),
    )
    op.create_index("ix_content_captures_due", "content_captures", ["status", "next_attempt_at"])
    op.create_index(op.f("ix_content_captures_item_id"), "content_captures", ["item_id"], unique=False)

    op.create_table(
        "staydown_matches",
        sa.Column("id", BIGINT_PK, nullable=False),
        sa.Column("entry_id", BIGINT_PK, nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=True),
        sa.Column("work_id", sa.Integer(), nullable=True),
        sa.Column("zone_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("distance", sa.Integer(), nullable=False),
        sa.Column("exact", sa.Boolean(), nullable=False),
        sa.Column("copy_sha256", sa.String(length=64), nullable=False),
        sa.Column("outcome", _enum("matchoutcome", "block", "review"), nullable=False),
        sa.Column(
            "status",
            _enum("matchstatus", "blocked", "pending_review", "confirmed", "dismissed"),
            nullable=False,
        ),
        sa.Column("reported_by", sa.String(length=64), nullable=False),
        sa.Column("found_at", staydown.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", staydown.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["bank_entries.id"], name=op.f("fk_staydown_matches_entry_id_bank_entries")
        ),
        sa.ForeignKeyConstraint(
            ["notice_id"], ["notices.id"], name=op.f("fk_staydown_matches_notice_id_notices")
        ),
        sa.ForeignKeyConstraint(["work_id"], ["works.id"], name=op.f("fk_staydown_matches_work_id_works")),
        sa.ForeignKeyConstraint(["zone_id"], ["zones.id"], name=op.f("fk_staydown_matches_zone_id_zones")),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_staydown_matches_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staydown_matches")),
    )
    op.create_index("ix_staydown_matches_copy", "staydown_matches", ["entry_id", "zone_id", "target"])
    op.create_index(op.f("ix_staydown_matches_notice_id"), "staydown_matches", ["notice_id"], unique=False)
    op.create_index(op.f("ix_staydown_matches_work_id"), "staydown_matches", ["work_id"], unique=False)
    op.create_index(
        op.f("ix_staydown_matches_customer_id"), "staydown_matches", ["customer_id"], unique=False
    )
    op.create_index(op.f("ix_staydown_matches_status"), "staydown_matches", ["status"], unique=False)

    # A confirmed stay-down match is a strike of its own: strikes gain match_id, notice_id becomes
    # optional (a registered work has no notice), and "one strike per notice" covers notice strikes only.
    with op.batch_alter_table("strikes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("match_id", BIGINT_PK, nullable=True))
        batch_op.alter_column("notice_id", existing_type=sa.Integer(), nullable=True)
        batch_op.drop_constraint("uq_strikes_customer_notice", type_="unique")
        batch_op.create_foreign_key(
            op.f("fk_strikes_match_id_staydown_matches"), "staydown_matches", ["match_id"], ["id"]
        )
    op.create_index(
        "uq_strikes_customer_notice",
        "strikes",
        ["customer_id", "notice_id"],
        unique=True,
        sqlite_where=sa.text("match_id IS NULL"),
        postgresql_where=sa.text("match_id IS NULL"),
    )
    op.create_index("uq_strikes_match_id", "strikes", ["match_id"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_strikes_match_id", table_name="strikes")
    op.drop_index("uq_strikes_customer_notice", table_name="strikes")
    with op.batch_alter_table("strikes", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("fk_strikes_match_id_staydown_matches"), type_="foreignkey")
        batch_op.create_unique_constraint("uq_strikes_customer_notice", ["customer_id", "notice_id"])
        batch_op.alter_column("notice_id", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column("match_id")
    op.drop_table("staydown_matches")
    op.drop_table("content_captures")
    op.drop_table("bank_entries")
    op.drop_table("reference_images")
    op.drop_table("works")
