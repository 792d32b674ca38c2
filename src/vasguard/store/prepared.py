"""The SMS path's hot statements, compiled once and run on the driver's cursor.

Why: ``Connection.execute`` spends, per call, about as much CPU in SQLAlchemy as SQLite
spends running a small indexed statement: the compiled-cache lookup, building and
processing the parameters, the execution context, the result object (measured in
docs/smpp-throughput.md). Every MO runs two or three such statements, every submit and
receipt a share of the outbox's, and an SMPP link brings hundreds of each a second. A
``Prepared`` keeps the statement declared in Core, with its tables, columns and types,
and does once per dialect what SQLAlchemy does per call: compile it, find the order of
its parameters and each parameter's and column's type conversion. A call then only
converts and orders the parameters, runs the driver's cursor and converts the columns
back.

What it keeps of SQLAlchemy's behaviour: the transaction (a statement on a connection
outside one begins it through ``Connection.begin``, so SQLite's ``BEGIN IMMEDIATE`` hook
of ``store.engine`` runs), the type conversions (``UtcDateTime``, SQLite's booleans), the
wrapping of driver errors in ``sqlalchemy.exc.DBAPIError`` and the invalidation of a
connection the driver says is gone. What it refuses, when compiled: parameters SQLAlchemy
expands per call (``IN`` over a list given at execution), column defaults computed in
Python, and escaped parameter names. An INSERT or UPDATE names in ``values()`` every
column it sets: its columns are fixed when it is compiled, not taken from each call's
parameters as ``Connection.execute`` takes them.
What it does not do: ``before_cursor_execute`` events and statement logging, which see
none of these statements. Anything not on that path uses ``Connection.execute``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Select, String, any_, bindparam, func, literal_column, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.elements import ClauseElement, ColumnElement
from sqlalchemy.sql.expression import ReturnsRows
from sqlalchemy.types import TypeDecorator

Row = tuple[Any, ...]
_Processor = Callable[[Any], Any]


class NotPreparable(TypeError):
    """The statement needs SQLAlchemy's per-call compilation; run it with
    ``Connection.execute`` instead."""


@dataclass(frozen=True, slots=True)
class _Parameter:
    key: str
    """The name the caller gives it (``bindparam("at")``: ``at``)."""
    name: str
    """The name it has in the SQL (for named paramstyles)."""
    value: Any
    """Its value when the caller gives none (a literal compared against, say)."""
    required: bool
    convert: _Processor | None


@dataclass(slots=True)
class _Compiled:
    sql: str
    positional: bool
    parameters: tuple[_Parameter, ...]
    column_types: tuple[Any, ...]
    columns: list[tuple[int, _Processor]] | None = None
    """Which result columns need converting, and how; set from the first result, whose
    driver type codes some conversions depend on."""

    def bind(self, given: Mapping[str, Any]) -> Sequence[Any] | dict[str, Any]:
        values: list[Any] = []
        for p in self.parameters:
            if p.key in given:
                value = given[p.key]
            elif p.required:
                raise KeyError(f"the statement needs a value for {p.key!r}")
            else:
                value = p.value
            values.append(value if p.convert is None or value is None else p.convert(value))
        if self.positional:
            return values
        return {p.name: v for p, v in zip(self.parameters, values, strict=True)}

    def convert(self, rows: list[Row], description: Any, dialect: Dialect) -> list[Row]:
        if self.columns is None:
            self.columns = _column_conversions(self.column_types, description, dialect)
        if not self.columns or not rows:
            return rows
        converted = []
        for row in rows:
            values = list(row)
            for n, processor in self.columns:
                values[n] = processor(values[n])
            converted.append(tuple(values))
        return converted


class Prepared:
    """A Core statement to run often: ``rows``, ``first``, ``run`` or ``run_many`` on a
    connection.

    Rows come back as tuples in the statement's column order, converted as
    ``Connection.execute`` would convert them.
    """

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}

    def rows(self, conn: Connection, parameters: Mapping[str, Any]) -> list[Row]:
        compiled, cursor = self._execute(conn, parameters)
        try:
            return compiled.convert(cursor.fetchall(), cursor.description, conn.dialect)
        finally:
            cursor.close()

    def first(self, conn: Connection, parameters: Mapping[str, Any]) -> Row | None:
        rows = self.rows(conn, parameters)
        return rows[0] if rows else None

    def run(self, conn: Connection, parameters: Mapping[str, Any]) -> int:
        """Execute a statement that returns no rows; how many rows it changed."""
        _, cursor = self._execute(conn, parameters)
        try:
            return int(cursor.rowcount)
        finally:
            cursor.close()

    def run_many(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> int:
        """Execute a statement that returns no rows once per parameter set, in one
        ``executemany`` (an append's rows); how many rows it changed in all."""
        if not rows:
            return 0
        _, cursor = self._execute(conn, rows, many=True)
        try:
            return int(cursor.rowcount)
        finally:
            cursor.close()

    def _execute(
        self, conn: Connection, parameters: Any, *, many: bool = False
    ) -> tuple[_Compiled, Any]:
        dialect = conn.dialect
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            compiled = self._compiled[dialect.name] = _compile(self.statement, dialect)
        bound: Any = [compiled.bind(p) for p in parameters] if many else compiled.bind(parameters)
        if not conn.in_transaction():
            conn.begin()
        proxied = conn.connection
        cursor = proxied.cursor()
        try:
            if many:
                cursor.executemany(compiled.sql, bound)
            else:
                cursor.execute(compiled.sql, bound)
        except dialect.loaded_dbapi.Error as failed:
            cursor.close()
            gone = dialect.is_disconnect(failed, proxied.dbapi_connection, cursor)
            if gone:
                conn.invalidate(failed)
            raise DBAPIError.instance(
                compiled.sql,
                bound,
                failed,
                dialect.loaded_dbapi.Error,
                connection_invalidated=gone,
                dialect=dialect,
                ismulti=many,
            ) from failed
        return compiled, cursor


def _compile(statement: ClauseElement, dialect: Dialect) -> _Compiled:
    compiled: Any = statement.compile(dialect=dialect)
    if compiled.post_compile_params or compiled.literal_execute_params:
        raise NotPreparable(
            "a parameter is expanded per call (IN over a list?): write the condition "
            "without it, or use Connection.execute"
        )
    if compiled.insert_prefetch or compiled.update_prefetch:
        raise NotPreparable(
            "a column's default is computed in Python per call: give the column a value"
        )
    if compiled.escaped_bind_names:
        raise NotPreparable("a parameter name needs escaping: rename the bindparam")
    binds = compiled.binds
    names = compiled.positiontup if compiled.positional else list(binds)
    parameters = tuple(_parameter(name, binds[name], dialect) for name in names)
    column_types: tuple[Any, ...] = ()
    if isinstance(statement, ReturnsRows):
        column_types = tuple(
            c.type for c in statement.exported_columns if isinstance(c, ColumnElement)
        )
    return _Compiled(compiled.string, compiled.positional, parameters, column_types)


def _parameter(name: str, bind: Any, dialect: Dialect) -> _Parameter:
    convert = bind.type.dialect_impl(dialect).bind_processor(dialect)
    return _Parameter(bind.key, name, bind.value, bind.required, convert)


def _column_conversions(
    types: tuple[Any, ...], description: Any, dialect: Dialect
) -> list[tuple[int, _Processor]]:
    if description is not None and len(description) != len(types):
        raise NotPreparable(
            f"the driver returned {len(description)} columns, the statement declares {len(types)}"
        )
    conversions = []
    for n, type_ in enumerate(types):
        code = description[n][1] if description is not None else None
        processor = type_.dialect_impl(dialect).result_processor(dialect, code)
        if processor is not None:
            conversions.append((n, processor))
    return conversions


DIALECTS = ("postgresql", "sqlite")
"""The dialects a statement built per dialect (``one_of``) is built for."""


class _JsonList(TypeDecorator[Sequence[Any]]):
    """A list bound as one JSON text, for SQLite's ``json_each``."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: Sequence[Any] | None, dialect: Dialect) -> str | None:
        return None if value is None else json.dumps(list(value))


def one_of(column: ColumnElement[Any], name: str, dialect: str) -> ColumnElement[bool]:
    """``column`` equal to one of a list given per call as the one parameter ``name``.

    ``column.in_(list)`` is expanded by SQLAlchemy into one placeholder per element at
    each call, so its SQL changes with the list's length (and cannot be ``Prepared``, nor
    planned once by PostgreSQL). This is one text whatever the length:
    ``= ANY(array)`` on PostgreSQL, ``IN (SELECT value FROM json_each(json))`` on SQLite.
    """
    if dialect == "postgresql":
        return column == any_(bindparam(name, type_=postgresql.ARRAY(column.type)))
    values: Select[Any] = select(literal_column("value")).select_from(
        func.json_each(bindparam(name, type_=_JsonList()))
    )
    return column.in_(values)
