"""due process: counter-notices, complaints, notifier misuse, statements of reasons

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-23 18:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import staydown.db.base

revision: str = "0003"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notifier_measures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("submitter_key_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "warning",
                "suspension",
                "trust_revoked",
                "trust_restored",
                "reversed",
                name="measurekind",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("at", staydown.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("until", staydown.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("unfounded_count", sa.Integer(), nullable=False),
        sa.Column("notices_count", sa.Integer(), nullable=False),
        sa.Column("automatic", sa.Boolean(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("reverses_measure_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["reverses_measure_id"],
            ["notifier_measures.id"],
            name=op.f("fk_notifier_measures_reverses_measure_id_notifier_measures"),
        ),
        sa.ForeignKeyConstraint(
            ["submitter_key_id"], ["api_keys.id"], name=op.f("fk_notifier_measures_submitter_key_id_api_keys")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifier_measures")),
    )
    with op.batch_alter_table("notifier_measures", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_notifier_measures_submitter_key_id"), ["submitter_key_id"], unique=False
        )

    op.create_table(
        "complaints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "subject",
            sa.Enum(
                "items",
                "policy_step",
                "notifier_measure",
                name="complaintsubject",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("notice_id", sa.Integer(), nullable=True),
        sa.Column("policy_step_id", sa.Integer(), nullable=True),
        sa.Column("measure_id", sa.Integer(), nullable=True),
        sa.Column(
            "complainant",
            sa.Enum("customer", "notifier", name="complainant", native_enum=False, length=24),
            nullable=False,
        ),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("filed_by_key_id", sa.Integer(), nullable=True),
        sa.Column(
            "item_ids",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("open", "upheld", "dismissed", name="complaintstatus", native_enum=False, length=24),
            nullable=False,
        ),
        sa.Column("received_at", staydown.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decision_taken_at", staydown.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "decision_taken_by",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("decided_at", staydown.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_complaints_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["filed_by_key_id"], ["api_keys.id"], name=op.f("fk_complaints_filed_by_key_id_api_keys")
        ),
        sa.ForeignKeyConstraint(
            ["measure_id"], ["notifier_measures.id"], name=op.f("fk_complaints_measure_id_notifier_measures")
        ),
        sa.ForeignKeyConstraint(["notice_id"], ["notices.id"], name=op.f("fk_complaints_notice_id_notices")),
        sa.ForeignKeyConstraint(
            ["policy_step_id"], ["policy_steps.id"], name=op.f("fk_complaints_policy_step_id_policy_steps")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_complaints")),
    )
    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_complaints_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_complaints_filed_by_key_id"), ["filed_by_key_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_complaints_notice_id"), ["notice_id"], unique=False)
        batch_op.create_index("ix_complaints_status_received", ["status", "received_at"], unique=False)

    op.create_table(
        "counter_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("filed_by_key_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "received",
                "incomplete",
                "pending",
                "restored",
                "court_action",
                name="counternoticestatus",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("name", sa.String(length=300), nullable=True),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("phone", sa.String(length=64), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("explanation", sa.Text(), nullable=True),
        sa.Column("statement_good_faith_mistake", sa.Boolean(), nullable=False),
        sa.Column("statement_consent_to_jurisdiction", sa.Boolean(), nullable=False),
        sa.Column("statement_accept_service", sa.Boolean(), nullable=False),
        sa.Column("signature", sa.String(length=300), nullable=True),
        sa.Column(
            "missing_elements",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("received_at", staydown.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("restore_business_days", sa.Integer(), nullable=True),
        sa.Column("restore_at", staydown.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", staydown.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("court_case", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_counter_notices_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["filed_by_key_id"], ["api_keys.id"], name=op.f("fk_counter_notices_filed_by_key_id_api_keys")
        ),
        sa.ForeignKeyConstraint(
            ["notice_id"], ["notices.id"], name=op.f("fk_counter_notices_notice_id_notices")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_counter_notices")),
    )
    with op.batch_alter_table("counter_notices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_counter_notices_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_counter_notices_notice_id"), ["notice_id"], unique=False)

    op.create_table(
        "statements_of_reasons",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("puid", sa.String(length=500), nullable=False),
        sa.Column(
            "restriction",
            sa.Enum(
                "content_disabled",
                "zone_suspended",
                "zone_terminated",
                name="restriction",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "in_force",
                "lifted",
                "reversed",
                "superseded",
                name="statementstatus",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("zone_id", sa.Integer(), nullable=True),
        sa.Column("notice_id", sa.Integer(), nullable=True),
        sa.Column("item_id", sa.BigInteger(), nullable=True),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("created_at", staydown.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", staydown.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.Text(), nullable=True),
        sa.Column("message_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "decision_visibility",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("decision_provision", sa.String(length=64), nullable=True),
        sa.Column("decision_account", sa.String(length=64), nullable=True),
        sa.Column("account_type", sa.String(length=32), nullable=True),
        sa.Column("decision_ground", sa.String(length=64), nullable=False),
        sa.Column("illegal_content_legal_ground", sa.Text(), nullable=True),
        sa.Column("illegal_content_explanation", sa.Text(), nullable=True),
        sa.Column("incompatible_content_ground", sa.Text(), nullable=True),
        sa.Column("incompatible_content_explanation", sa.Text(), nullable=True),
        sa.Column("incompatible_content_illegal", sa.String(length=8), nullable=True),
        sa.Column("category", sa.String(length=96), nullable=False),
        sa.Column(
            "category_specification",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "content_type",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("content_type_other", sa.Text(), nullable=True),
        sa.Column("content_date", sa.Date(), nullable=False),
        sa.Column("application_date", sa.Date(), nullable=False),
        sa.Column("decision_facts", sa.Text(), nullable=False),
        sa.Column("source_type", sa.String(length=48), nullable=False),
        sa.Column("automated_detection", sa.String(length=8), nullable=False),
        sa.Column("automated_decision", sa.String(length=48), nullable=False),
        sa.Column(
            "territorial_scope",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_statements_of_reasons_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["notice_id"], ["notices.id"], name=op.f("fk_statements_of_reasons_notice_id_notices")
        ),
        sa.ForeignKeyConstraint(
            ["zone_id"], ["zones.id"], name=op.f("fk_statements_of_reasons_zone_id_zones")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_statements_of_reasons")),
        sa.UniqueConstraint("puid", name=op.f("uq_statements_of_reasons_puid")),
    )
    with op.batch_alter_table("statements_of_reasons", schema=None) as batch_op:
        batch_op.create_index("ix_statements_of_reasons_created", ["created_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_statements_of_reasons_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_statements_of_reasons_item_id"), ["item_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_statements_of_reasons_notice_id"), ["notice_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_statements_of_reasons_zone_id"), ["zone_id"], unique=False)

    op.create_table(
        "unfounded_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("submitter_key_id", sa.Integer(), nullable=False),
        sa.Column("found_at", staydown.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("found_by", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["notice_id"], ["notices.id"], name=op.f("fk_unfounded_notices_notice_id_notices")
        ),
        sa.ForeignKeyConstraint(
            ["submitter_key_id"], ["api_keys.id"], name=op.f("fk_unfounded_notices_submitter_key_id_api_keys")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unfounded_notices")),
        sa.UniqueConstraint("notice_id", name=op.f("uq_unfounded_notices_notice_id")),
    )
    with op.batch_alter_table("unfounded_notices", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_unfounded_notices_submitter_key_id"), ["submitter_key_id"], unique=False
        )

    op.create_table(
        "counter_notice_items",
        sa.Column("counter_notice_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["counter_notice_id"],
            ["counter_notices.id"],
            name=op.f("fk_counter_notice_items_counter_notice_id_counter_notices"),
        ),
        sa.ForeignKeyConstraint(
            ["item_id"], ["notice_items.id"], name=op.f("fk_counter_notice_items_item_id_notice_items")
        ),
        sa.PrimaryKeyConstraint("counter_notice_id", "item_id", name=op.f("pk_counter_notice_items")),
    )
    with op.batch_alter_table("counter_notice_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_counter_notice_items_item_id"), ["item_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("counter_notice_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_counter_notice_items_item_id"))

    op.drop_table("counter_notice_items")
    with op.batch_alter_table("unfounded_notices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_unfounded_notices_submitter_key_id"))

    op.drop_table("unfounded_notices")
    with op.batch_alter_table("statements_of_reasons", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_statements_of_reasons_zone_id"))
        batch_op.drop_index(batch_op.f("ix_statements_of_reasons_notice_id"))
        batch_op.drop_index(batch_op.f("ix_statements_of_reasons_item_id"))
        batch_op.drop_index(batch_op.f("ix_statements_of_reasons_customer_id"))
        batch_op.drop_index("ix_statements_of_reasons_created")

    op.drop_table("statements_of_reasons")
    with op.batch_alter_table("counter_notices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_counter_notices_notice_id"))
        batch_op.drop_index(batch_op.f("ix_counter_notices_customer_id"))

    op.drop_table("counter_notices")
    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.drop_index("ix_complaints_status_received")
        batch_op.drop_index(batch_op.f("ix_complaints_notice_id"))
        batch_op.drop_index(batch_op.f("ix_complaints_filed_by_key_id"))
        batch_op.drop_index(batch_op.f("ix_complaints_customer_id"))

    op.drop_table("complaints")
    with op.batch_alter_table("notifier_measures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notifier_measures_submitter_key_id"))

    op.drop_table("notifier_measures")
