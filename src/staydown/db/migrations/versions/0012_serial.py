"""serial infringers: RDAP answers, forwards to hosts, serial-infringer reviews, customer links,
content probes

Revision ID: 0012
Revises: 0002
Create Date: 2026-12-07 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import staydown.db.base

revision: str = "0012"
# New tables only, referring to customers, zones, notices (0001) and policy steps: a branch of its
# own after 0002.
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
WHEN = staydown.db.base.UTCDateTime(timezone=True)


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=16)


def upgrade() -> None:
    op.create_table(
        "host_lookups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("status", _enum("lookupstatus", "found", "no_contact", "failed"), nullable=False),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("handle", sa.String(length=100), nullable=True),
        sa.Column("network", sa.String(length=200), nullable=True),
        sa.Column("holder", sa.String(length=300), nullable=True),
        sa.Column("abuse_email", sa.String(length=320), nullable=True),
        sa.Column("abuse_name", sa.String(length=300), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("fetched_at", WHEN, nullable=False),
        sa.Column("expires_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_host_lookups")),
        sa.UniqueConstraint("address", name=op.f("uq_host_lookups_address")),
    )
    op.create_table(
        "host_forwards",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("zone_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("urls", JSON, nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("complainant_email", sa.String(length=320), nullable=True),
        sa.Column("complainant_trusted", sa.Boolean(), nullable=False),
        sa.Column(
            "status", _enum("forwardstatus", "pending", "sent", "unreachable", "answered"), nullable=False
        ),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("host_contact", sa.String(length=320), nullable=True),
        sa.Column("contact_source", sa.String(length=16), nullable=True),
        sa.Column("host_name", sa.String(length=300), nullable=True),
        sa.Column("rdap_source", sa.Text(), nullable=True),
        sa.Column("origin_addresses", JSON, nullable=False),
        sa.Column("reasons", JSON, nullable=False),
        sa.Column("sent_at", WHEN, nullable=True),
        sa.Column("reminders", sa.Integer(), nullable=False),
        sa.Column("last_reminded_at", WHEN, nullable=True),
        sa.Column("answered_at", WHEN, nullable=True),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("claimed_by", sa.String(length=128), nullable=True),
        sa.Column("lease_until", WHEN, nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_host_forwards_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["notice_id"], ["notices.id"], name=op.f("fk_host_forwards_notice_id_notices")
        ),
        sa.ForeignKeyConstraint(["zone_id"], ["zones.id"], name=op.f("fk_host_forwards_zone_id_zones")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_host_forwards")),
    )
    op.create_index("ix_host_forwards_due", "host_forwards", ["status", "created_at"], unique=False)
    op.create_index(op.f("ix_host_forwards_customer_id"), "host_forwards", ["customer_id"], unique=False)
    op.create_index(op.f("ix_host_forwards_notice_id"), "host_forwards", ["notice_id"], unique=False)
    op.create_index(op.f("ix_host_forwards_zone_id"), "host_forwards", ["zone_id"], unique=False)
    op.create_table(
        "serial_reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("status", _enum("reviewstatus", "open", "decided"), nullable=False),
        sa.Column("trigger", sa.Text(), nullable=False),
        sa.Column("evidence", JSON, nullable=False),
        sa.Column("opened_at", WHEN, nullable=False),
        sa.Column("due_at", WHEN, nullable=False),
        sa.Column("decision", _enum("reviewdecision", "terminate", "suspend", "keep"), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("decided_at", WHEN, nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("policy_step_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_serial_reviews_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["policy_step_id"],
            ["policy_steps.id"],
            name=op.f("fk_serial_reviews_policy_step_id_policy_steps"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_serial_reviews")),
    )
    op.create_index(
        "ix_serial_reviews_customer_status", "serial_reviews", ["customer_id", "status"], unique=False
    )
    op.create_table(
        "customer_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("linked_customer_id", sa.Integer(), nullable=False),
        sa.Column("evidence", JSON, nullable=False),
        sa.Column("found_during", sa.String(length=32), nullable=False),
        sa.Column("status", _enum("linkstatus", "open", "cleared", "confirmed"), nullable=False),
        sa.Column("found_at", WHEN, nullable=False),
        sa.Column("reviewed_at", WHEN, nullable=True),
        sa.Column("reviewed_by", sa.String(length=64), nullable=True),
        sa.Column("review_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_customer_links_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["linked_customer_id"],
            ["customers.id"],
            name=op.f("fk_customer_links_linked_customer_id_customers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_links")),
        sa.UniqueConstraint("customer_id", "linked_customer_id", name=op.f("uq_customer_links_customer_id")),
    )
    op.create_index(op.f("ix_customer_links_customer_id"), "customer_links", ["customer_id"], unique=False)
    op.create_table(
        "identity_marks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_identity_marks_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_marks")),
        sa.UniqueConstraint("customer_id", "kind", "digest", name=op.f("uq_identity_marks_customer_id")),
    )
    op.create_index("ix_identity_marks_digest", "identity_marks", ["digest"], unique=False)
    op.create_table(
        "content_probes",
        sa.Column("zone_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("probed_at", WHEN, nullable=False),
        sa.Column("matched", sa.Integer(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["zone_id"], ["zones.id"], name=op.f("fk_content_probes_zone_id_zones")),
        sa.PrimaryKeyConstraint("zone_id", name=op.f("pk_content_probes")),
    )


def downgrade() -> None:
    op.drop_table("content_probes")
    op.drop_index("ix_identity_marks_digest", table_name="identity_marks")
    op.drop_table("identity_marks")
    op.drop_index(op.f("ix_customer_links_customer_id"), table_name="customer_links")
    op.drop_table("customer_links")
    op.drop_index("ix_serial_reviews_customer_status", table_name="serial_reviews")
    op.drop_table("serial_reviews")
    op.drop_index(op.f("ix_host_forwards_zone_id"), table_name="host_forwards")
    op.drop_index(op.f("ix_host_forwards_notice_id"), table_name="host_forwards")
    op.drop_index(op.f("ix_host_forwards_customer_id"), table_name="host_forwards")
    op.drop_index("ix_host_forwards_due", table_name="host_forwards")
    op.drop_table("host_forwards")
    op.drop_table("host_lookups")
