"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-22 15:53:01.576325
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import staydown.db.base

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_entries",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("at", staydown.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("entity_type", sa.String(length=32), nullable=True),
        sa.Column("entity_id", sa.String(length=64), nullable=True),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("prev_digest", sa.String(length=64), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_entries")),
    )
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_entries_action"), ["action"], unique=False)

    op.create_table(
        "chain_heads",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_chain_heads")),
    )
    chain_heads = sa.table(
        "chain_heads",
        sa.column("name", sa.String),
        sa.column("seq", sa.BigInteger),
        sa.column("digest", sa.String),
    )
    op.bulk_insert(
        chain_heads,
        [{"name": "enforcement", "seq": 0, "digest": ""}, {"name": "audit", "seq": 0, "digest": ""}],
    )
    op.create_table(
        "customers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("phone", sa.String(length=64), nullable=True),
        sa.Column("organization", sa.String(length=300), nullable=True),
        sa.Column("payment_reference", sa.String(length=200), nullable=True),
        sa.Column("webhook_url", sa.String(length=2048), nullable=True),
        sa.Column("signup_ip", sa.String(length=64), nullable=True),
        sa.Column("signup_at", staydown.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "verification_level",
            sa.Enum(
                "none",
                "email",
                "identity",
                "business",
                name="verificationlevel",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column(
            "standing",
            sa.Enum(
                "good", "warned", "suspended", "terminated", name="standing", native_enum=False, length=24
            ),
            nullable=False,
        ),
        sa.Column("standing_changed_at", staydown.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "risk_flags",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
    )
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_customers_email"), ["email"], unique=False)

    op.create_table(
        "enforcement_records",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "zone",
                "block",
                "unblock",
                "hash_add",
                "hash_remove",
                "purge",
                name="feedkind",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("at", staydown.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("zone_id", sa.Integer(), nullable=True),
        sa.Column("target", sa.Text(), nullable=True),
        sa.Column("notice_id", sa.Integer(), nullable=True),
        sa.Column("item_id", sa.Integer(), nullable=True),
        sa.Column(
            "payload",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_enforcement_records")),
    )
    with op.batch_alter_table("enforcement_records", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_enforcement_records_notice_id"), ["notice_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_enforcement_records_zone_id"), ["zone_id"], unique=False)

    op.create_table(
        "timers",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=48), nullable=False),
        sa.Column("due_at", staydown.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("subject_type", sa.String(length=32), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column(
            "payload",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "pending", "done", "cancelled", "failed", name="timerstatus", native_enum=False, length=24
            ),
            nullable=False,
        ),
        sa.Column("created_at", staydown.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("done_at", staydown.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_timers")),
    )
    with op.batch_alter_table("timers", schema=None) as batch_op:
        batch_op.create_index("ix_timers_due", ["status", "due_at"], unique=False)

    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "admin",
                "agent",
                "legal",
                "submitter",
                "customer",
                "edge",
                name="role",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("trusted", sa.Boolean(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("created_at", staydown.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", staydown.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_api_keys_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_keys_customer_id"), ["customer_id"], unique=False)

    op.create_table(
        "policy_steps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "warning",
                "suspension",
                "termination_pending",
                "termination",
                "reinstatement",
                name="stepkind",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("at", staydown.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("strikes_counted", sa.Integer(), nullable=False),
        sa.Column("window_days", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("automatic", sa.Boolean(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_policy_steps_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_steps")),
    )
    with op.batch_alter_table("policy_steps", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_policy_steps_customer_id"), ["customer_id"], unique=False)

    op.create_table(
        "zones",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("hostname", sa.String(length=253), nullable=False),
        sa.Column("origin", sa.String(length=2048), nullable=False),
        sa.Column("host_contact", sa.String(length=320), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "active",
                "suspended",
                "terminated",
                name="zonestatus",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("status_changed_at", staydown.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("challenge_token", sa.String(length=128), nullable=False),
        sa.Column("dcv_method", sa.String(length=8), nullable=True),
        sa.Column("dcv_verified_at", staydown.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("dcv_last_checked_at", staydown.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("dcv_last_detail", sa.Text(), nullable=True),
        sa.Column("created_at", staydown.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_zones_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_zones")),
    )
    with op.batch_alter_table("zones", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_zones_customer_id"), ["customer_id"], unique=False)

    op.create_table(
        "notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "regime",
            sa.Enum("dmca", "dsa", "jp", name="regime", native_enum=False, length=24),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "received",
                "incomplete",
                "accepted",
                "actioned",
                "rejected",
                "closed",
                name="noticestatus",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("submitter_key_id", sa.Integer(), nullable=True),
        sa.Column("trusted", sa.Boolean(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("source_ip", sa.String(length=64), nullable=True),
        sa.Column("submitter_name", sa.String(length=300), nullable=True),
        sa.Column("submitter_email", sa.String(length=320), nullable=True),
        sa.Column("submitter_address", sa.Text(), nullable=True),
        sa.Column("submitter_phone", sa.String(length=64), nullable=True),
        sa.Column("submitter_organization", sa.String(length=300), nullable=True),
        sa.Column("on_behalf_of", sa.String(length=300), nullable=True),
        sa.Column(
            "works",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("explanation", sa.Text(), nullable=True),
        sa.Column("statement_good_faith", sa.Boolean(), nullable=False),
        sa.Column("statement_accurate", sa.Boolean(), nullable=False),
        sa.Column("statement_authorized", sa.Boolean(), nullable=False),
        sa.Column("signature", sa.String(length=300), nullable=True),
        sa.Column(
            "missing_elements",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("content_sha256", sa.String(length=64), nullable=False),
        sa.Column("received_at", staydown.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("deadline_at", staydown.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("first_actioned_at", staydown.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_at", staydown.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("time_to_action_seconds", sa.Float(), nullable=True),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["submitter_key_id"], ["api_keys.id"], name=op.f("fk_notices_submitter_key_id_api_keys")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notices")),
    )
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.create_index("ix_notices_status_deadline", ["status", "deadline_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_notices_submitter_key_id"), ["submitter_key_id"], unique=False)

    op.create_table(
        "verification_decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column(
            "previous_level",
            sa.Enum(
                "none",
                "email",
                "identity",
                "business",
                name="verificationlevel",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column(
            "level",
            sa.Enum(
                "none",
                "email",
                "identity",
                "business",
                name="verificationlevel",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("decided_at", staydown.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_by_key_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_verification_decisions_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_key_id"],
            ["api_keys.id"],
            name=op.f("fk_verification_decisions_decided_by_key_id_api_keys"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verification_decisions")),
    )
    with op.batch_alter_table("verification_decisions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_verification_decisions_customer_id"), ["customer_id"], unique=False
        )

    op.create_table(
        "verification_evidence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("reference", sa.String(length=500), nullable=True),
        sa.Column(
            "details",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("submitted_at", staydown.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("submitted_by_key_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_verification_evidence_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["submitted_by_key_id"],
            ["api_keys.id"],
            name=op.f("fk_verification_evidence_submitted_by_key_id_api_keys"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verification_evidence")),
    )
    with op.batch_alter_table("verification_evidence", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_verification_evidence_customer_id"), ["customer_id"], unique=False
        )

    op.create_table(
        "zone_hostnames",
        sa.Column("hostname", sa.String(length=253), nullable=False),
        sa.Column("zone_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["zone_id"], ["zones.id"], name=op.f("fk_zone_hostnames_zone_id_zones")),
        sa.PrimaryKeyConstraint("hostname", name=op.f("pk_zone_hostnames")),
    )
    with op.batch_alter_table("zone_hostnames", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_zone_hostnames_zone_id"), ["zone_id"], unique=False)

    op.create_table(
        "notice_items",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("canonical_url", sa.Text(), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("hostname", sa.String(length=253), nullable=False),
        sa.Column("zone_id", sa.Integer(), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("work_index", sa.Integer(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "pending_review",
                "actioned",
                "not_on_network",
                "rejected",
                "counter_noticed",
                "restored",
                name="itemstatus",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("duplicate_of_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("decided_at", staydown.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("automated", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_notice_items_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["duplicate_of_id"],
            ["notice_items.id"],
            name=op.f("fk_notice_items_duplicate_of_id_notice_items"),
        ),
        sa.ForeignKeyConstraint(
            ["notice_id"], ["notices.id"], name=op.f("fk_notice_items_notice_id_notices")
        ),
        sa.ForeignKeyConstraint(["zone_id"], ["zones.id"], name=op.f("fk_notice_items_zone_id_zones")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice_items")),
    )
    with op.batch_alter_table("notice_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notice_items_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index("ix_notice_items_notice_position", ["notice_id", "position"], unique=False)
        batch_op.create_index("ix_notice_items_zone_target", ["zone_id", "target"], unique=False)

    op.create_table(
        "outbox_messages",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created_at", staydown.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=48), nullable=False),
        sa.Column(
            "channel",
            sa.Enum("email", "webhook", name="channel", native_enum=False, length=24),
            nullable=False,
        ),
        sa.Column("recipient", sa.String(length=512), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column(
            "payload",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum("pending", "stored", "sent", "failed", name="outboxstatus", native_enum=False, length=24),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", staydown.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("sent_at", staydown.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("notice_id", sa.Integer(), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_outbox_messages_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["notice_id"], ["notices.id"], name=op.f("fk_outbox_messages_notice_id_notices")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_messages")),
    )
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_due", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_outbox_messages_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_outbox_messages_notice_id"), ["notice_id"], unique=False)

    op.create_table(
        "strikes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("zone_id", sa.Integer(), nullable=True),
        sa.Column("created_at", staydown.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "status",
            sa.Enum("active", "voided", name="strikestatus", native_enum=False, length=24),
            nullable=False,
        ),
        sa.Column("voided_at", staydown.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("void_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_strikes_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(["notice_id"], ["notices.id"], name=op.f("fk_strikes_notice_id_notices")),
        sa.ForeignKeyConstraint(["zone_id"], ["zones.id"], name=op.f("fk_strikes_zone_id_zones")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_strikes")),
        sa.UniqueConstraint("customer_id", "notice_id", name="uq_strikes_customer_notice"),
    )
    with op.batch_alter_table("strikes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_strikes_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_strikes_notice_id"), ["notice_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("strikes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_strikes_notice_id"))
        batch_op.drop_index(batch_op.f("ix_strikes_customer_id"))

    op.drop_table("strikes")
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_messages_notice_id"))
        batch_op.drop_index(batch_op.f("ix_outbox_messages_customer_id"))
        batch_op.drop_index("ix_outbox_due")

    op.drop_table("outbox_messages")
    with op.batch_alter_table("notice_items", schema=None) as batch_op:
        batch_op.drop_index("ix_notice_items_zone_target")
        batch_op.drop_index("ix_notice_items_notice_position")
        batch_op.drop_index(batch_op.f("ix_notice_items_customer_id"))

    op.drop_table("notice_items")
    with op.batch_alter_table("zone_hostnames", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_zone_hostnames_zone_id"))

    op.drop_table("zone_hostnames")
    with op.batch_alter_table("verification_evidence", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_verification_evidence_customer_id"))

    op.drop_table("verification_evidence")
    with op.batch_alter_table("verification_decisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_verification_decisions_customer_id"))

    op.drop_table("verification_decisions")
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notices_submitter_key_id"))
        batch_op.drop_index("ix_notices_status_deadline")

    op.drop_table("notices")
    with op.batch_alter_table("zones", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_zones_customer_id"))

    op.drop_table("zones")
    with op.batch_alter_table("policy_steps", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_policy_steps_customer_id"))

    op.drop_table("policy_steps")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_keys_customer_id"))

    op.drop_table("api_keys")
    with op.batch_alter_table("timers", schema=None) as batch_op:
        batch_op.drop_index("ix_timers_due")

    op.drop_table("timers")
    with op.batch_alter_table("enforcement_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_enforcement_records_zone_id"))
        batch_op.drop_index(batch_op.f("ix_enforcement_records_notice_id"))

    op.drop_table("enforcement_records")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customers_email"))

    op.drop_table("customers")
    op.drop_table("chain_heads")
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_entries_action"))

    op.drop_table("audit_entries")
