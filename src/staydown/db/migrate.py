"""Schema migrations (Alembic): a release step, run by ``staydown db upgrade`` (and by the
single-box ``staydown up``), never by the processes that serve.

Many hosts may run ``staydown db upgrade`` at once during a release: each takes one lock first
(a PostgreSQL advisory lock held on its own connection; a lock file beside a SQLite database), so
one migrates and the others, once they get the lock, find the schema current and do nothing. The
serving processes only check that the schema is the one they were built for.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, MetaData, text
from sqlalchemy.engine import make_url

from staydown.db.engine import create_db_engine

MIGRATIONS = Path(__file__).with_name("migrations")

# pg_advisory_lock's key for "staydown migrates": any constant that no other application on the
# same server uses. It reads "staydown" in ASCII.
ADVISORY_LOCK_KEY = 0x73746179646F776E


class SchemaNotCurrent(Exception):
    """The database's schema is not the one this release needs; the message says what to do."""


def metadata() -> MetaData:
    """The metadata of every domain's tables."""
    from staydown.accounts import models as _accounts  # noqa: F401
    from staydown.audit import models as _audit  # noqa: F401
    from staydown.certificates import models as _certificates  # noqa: F401
    from staydown.db.base import Base
    from staydown.db.journal import ChainHead  # noqa: F401
    from staydown.desk import models as _desk  # noqa: F401
    from staydown.disclosure import models as _disclosure  # noqa: F401
    from staydown.due_process import models as _due_process  # noqa: F401
    from staydown.enforcement import models as _enforcement  # noqa: F401
    from staydown.fingerprints import models as _fingerprints  # noqa: F401
    from staydown.hosts import models as _hosts  # noqa: F401
    from staydown.inbound import models as _inbound  # noqa: F401
    from staydown.notices import models as _notices  # noqa: F401
    from staydown.policy import models as _policy  # noqa: F401
    from staydown.serial import models as _serial  # noqa: F401
    from staydown.works import models as _works  # noqa: F401

    return Base.metadata


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["configure_logger"] = False
    return config


@contextmanager
def migration_lock(url: str) -> Iterator[None]:
    """Hold the one lock under which the database at ``url`` is migrated."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            yield
            return
        path = Path(parsed.database).with_name(Path(parsed.database).name + ".migrate.lock")
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)  # released by the kernel if this process dies
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        return
    engine = create_db_engine(url)
    try:
        # A session-level advisory lock on a connection of its own: the server drops it with the
        # connection if this process dies mid-migration.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_LOCK_KEY})
    finally:
        engine.dispose()


def upgrade(url: str, revision: str = "heads") -> None:
    """Bring the database at ``url`` to ``revision`` (by default every branch's head), under the lock.

    Each domain's tables arrive on their own branch off the initial schema, so a domain can land
    its migration without waiting for another's; a merge revision joins them when they meet.
    """
    with migration_lock(url):
        command.upgrade(alembic_config(url), revision)


def expected_heads() -> frozenset[str]:
    """The revisions a current schema is at."""
    return frozenset(ScriptDirectory(str(MIGRATIONS)).get_heads())


def current_heads(engine: Engine) -> frozenset[str]:
    """The revisions the database behind ``engine`` is at (none for an empty database)."""
    with engine.connect() as connection:
        return frozenset(MigrationContext.configure(connection).get_current_heads())


def check_current(engine: Engine) -> str | None:
    """Raise ``SchemaNotCurrent`` if the database lacks a migration this release needs.

    A database a newer release has already migrated is served, with a warning returned: during a
    rolling release the previous processes keep running on the new schema, whose migrations only
    add (columns that may be empty, tables, indexes) so that they can.
    """
    url = engine.url.render_as_string(hide_password=True)
    where = url.split("@")[-1] if engine.dialect.name != "sqlite" else (engine.url.database or url)
    current, expected = current_heads(engine), expected_heads()
    if current == expected:
        return None
    if not current:
        raise SchemaNotCurrent(f"the database at {where} has no schema yet; run `staydown db upgrade`")
    unknown = current - _known_revisions()
    if unknown:
        return (
            f"the database at {where} was migrated by a newer release ({', '.join(sorted(unknown))}); "
            "upgrade this host's staydown"
        )
    raise SchemaNotCurrent(
        f"the database at {where} needs migrations this release brings; run `staydown db upgrade`"
    )


def _known_revisions() -> frozenset[str]:
    return frozenset(rev.revision for rev in ScriptDirectory(str(MIGRATIONS)).walk_revisions())
