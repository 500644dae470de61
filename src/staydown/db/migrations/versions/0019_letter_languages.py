"""notices.language, customers.locale: the language of the letters to the notifier and the customer

Revision ID: 0019
Revises: 0016
Create Date: 2026-12-07 12:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Rows from before have none: their letters go out in the configured default language.
    op.add_column("notices", sa.Column("language", sa.String(length=8), nullable=True))
    op.add_column("customers", sa.Column("locale", sa.String(length=8), nullable=True))


def downgrade() -> None:
    op.drop_column("customers", "locale")
    op.drop_column("notices", "language")
