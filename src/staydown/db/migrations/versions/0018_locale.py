"""api_keys.locale: the language the desk speaks to whoever signs in with a key

A desk user acts through a key of their own, so their setting is kept on it too (desk_users is
created on another branch of the history, which this one need not follow).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 12:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("api_keys", sa.Column("locale", sa.String(length=8), nullable=True))


def downgrade() -> None:
    op.drop_column("api_keys", "locale")
