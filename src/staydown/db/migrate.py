"""Schema migrations (Alembic), run by ``staydown db upgrade`` and at the start of ``staydown up``."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import MetaData

MIGRATIONS = Path(__file__).with_name("migrations")


def metadata() -> MetaData:
    """The metadata of every domain's tables."""
    from staydown.accounts import models as _accounts  # noqa: F401
    from staydown.audit import models as _audit  # noqa: F401
    from staydown.db.base import Base
    from staydown.db.journal import ChainHead  # noqa: F401
    from staydown.desk import models as _desk  # noqa: F401
    from staydown.disclosure import models as _disclosure  # noqa: F401
    from staydown.due_process import models as _due_process  # noqa: F401
    from staydown.enforcement import models as _enforcement  # noqa: F401
    from staydown.fingerprints import models as _fingerprints  # noqa: F401
    from staydown.notices import models as _notices  # noqa: F401
    from staydown.policy import models as _policy  # noqa: F401
    from staydown.works import models as _works  # noqa: F401

    return Base.metadata


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["configure_logger"] = False
    return config


def upgrade(url: str, revision: str = "heads") -> None:
    """Bring the database at ``url`` to ``revision`` (by default every branch's head).

    Each domain's tables arrive on their own branch off the initial schema, so a domain can land
    its migration without waiting for another's; a merge revision joins them when they meet.
    """
    command.upgrade(alembic_config(url), revision)
