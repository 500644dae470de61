"""Declarative base and column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

import enum
import functools
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import JSON, BigInteger, DateTime, Enum, Integer, MetaData, Table, bindparam
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Session
from sqlalchemy.types import TypeDecorator

from staydown.types import as_utc

# Ids are INTEGER columns (32 bits on PostgreSQL): no row's id reaches this, and the database
# refuses a larger number as a query parameter instead of finding nothing.
ROW_ID_LIMIT = 2**31

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out, whatever the backend keeps."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return as_utc(value)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)


JSONType = JSON().with_variant(postgresql.JSONB(), "postgresql")
# BIGINT on PostgreSQL, INTEGER on SQLite (where only INTEGER PRIMARY KEY is the rowid alias).
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSONType,
        list[Any]: JSONType,
        list[str]: JSONType,
    }


def str_enum(cls: type[enum.Enum], length: int = 24) -> Enum:
    """Store an enum by value as a short string, on every backend."""
    return Enum(cls, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e])


def table_of(model: type[Base]) -> Table:
    """The Core table of a mapped class, for bulk statements that skip the ORM's per-row work."""
    return cast(Table, model.__table__)


def bulk_insert(
    session: Session, model: type[Base], columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """Insert many rows in one executemany, converting each column once through its own bind processor.

    For the hot bulk paths (notice items, feed records): the ORM's per-row parameter handling costs
    more than the database write itself at 100,000 rows.
    """
    bind = session.connection()
    sql, processors, order = _bulk_insert_statement(table_of(model), tuple(columns), bind.dialect)
    positional = order is not None
    # Rows of one bulk write share most of their converted values (the same timestamp, enum member,
    # statement text or list object): convert each object once. Keyed by identity, with the object
    # kept, so equal values of different types or time zones are never confused.
    seen: list[dict[int, tuple[Any, Any]]] = [{} for _ in columns]
    converted: list[Any] = []
    for row in rows:
        values = []
        for value, proc, cache in zip(row, processors, seen, strict=True):
            if proc is None or value is None:
                values.append(value)
                continue
            known = cache.get(id(value))
            if known is None or known[0] is not value:
                known = cache[id(value)] = (value, proc(value))
            values.append(known[1])
        if positional:
            assert order is not None
            converted.append(tuple(values[i] for i in order))
        else:
            converted.append(dict(zip(columns, values, strict=True)))
    if converted:
        bind.exec_driver_sql(sql, converted)


@functools.lru_cache(maxsize=64)
def _bulk_insert_statement(
    table: Table, columns: tuple[str, ...], dialect: Dialect
) -> tuple[str, list[Any], list[int] | None]:
    """The compiled INSERT, bind processors and positional order for ``bulk_insert``: compiling
    costs more than inserting a notice's one item, and the statement never changes."""
    processors = [table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in columns]
    compiled = table.insert().values({name: bindparam(name) for name in columns}).compile(dialect=dialect)
    order = [columns.index(name) for name in compiled.positiontup] if compiled.positiontup else None
    return str(compiled), processors, order
