"""Works registered by rightsholders and their reference images."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from staydown.db.base import Base


class Work(Base):
    """A copyrighted work a rightsholder keeps off the network with reference images."""

    __tablename__ = "works"

    id: Mapped[int] = mapped_column(primary_key=True)
    description: Mapped[str] = mapped_column(Text)
    owner_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"), index=True)
    created_at: Mapped[datetime]
    # The work's own automatic-block distance, tighter than the global one (None: the global one).
    auto_block_distance: Mapped[int | None] = mapped_column(Integer)


class ReferenceImage(Base):
    """One reference image of a work, as uploaded (its bytes are not kept; its fingerprint is)."""

    __tablename__ = "reference_images"

    id: Mapped[int] = mapped_column(primary_key=True)
    work_id: Mapped[int] = mapped_column(ForeignKey("works.id"), index=True)
    filename: Mapped[str | None] = mapped_column(String(300))
    content_type: Mapped[str | None] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    entry_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime]
