"""Core statements run by the database driver itself, for the two places where SQLAlchemy's
own work per call or per row was most of the cost:

- read_one: the one read every signed-in request makes (fleet.domain.accounts.SIGNED_IN).
  Through SQLAlchemy it cost three round trips on PostgreSQL (BEGIN, SELECT, ROLLBACK) and, on
  either database, more than serving the cached page itself. Here it runs in autocommit: one
  round trip, no transaction left to roll back. The connection still comes from, and goes
  back to, SQLAlchemy's pool (whose checks of idle connections still apply).
- stream_rows: the rows of an export (700,000 vehicles), as the driver's tuples, on the
  session's own connection and transaction.

read_one's statement is compiled once per database, an export's at each call; values always
go as bound parameters.
"""

from collections.abc import Iterator
from functools import cache

from sqlalchemy import Engine
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select


@cache  # per statement and engine's dialect: a few entries for the life of the process
def _compiled(statement: Select, dialect) -> tuple[str, object]:
    compiled = statement.compile(dialect=dialect)
    return str(compiled), compiled


def _parameters(compiled, values: dict):
    params = compiled.construct_params(values)
    if compiled.positiontup:  # SQLite's qmark style: a tuple in the statement's order
        return tuple(params[name] for name in compiled.positiontup)
    return params


def read_one(engine: Engine, statement: Select, **values) -> tuple | None:
    """The first row of `statement` with its bind parameters `values`, as plain values (the
    driver's: SQLite gives 0/1 for booleans), or None."""
    sql, compiled = _compiled(statement, engine.dialect)
    connection = engine.raw_connection()
    try:
        driver = connection.driver_connection
        autocommit = getattr(driver, "autocommit", None)
        if autocommit is False:  # psycopg: no BEGIN now, hence no ROLLBACK at the pool
            driver.autocommit = True
        try:
            cursor = connection.cursor()
            cursor.execute(sql, _parameters(compiled, values))
            row = cursor.fetchone()
            cursor.close()
        finally:
            if autocommit is False:
                driver.autocommit = False
    finally:
        connection.close()  # back to the pool
    return tuple(row) if row is not None else None


def stream_rows(session: Session, statement: Select, batch: int) -> Iterator[tuple]:
    """The rows of `statement` as tuples, fetched `batch` at a time, on the session's
    connection: a server-side cursor on PostgreSQL (flat memory), SQLite's own stepping
    cursor there. Values are converted as SQLAlchemy would (SQLite's dates are text), column
    by column where a conversion exists."""
    connection = session.connection()
    dialect = connection.dialect
    # Compiled per call, with its own values (an IN list becomes one parameter per value).
    compiled = statement.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    converters = [(index, column.type.dialect_impl(dialect).result_processor(dialect, None))
                  for index, column in enumerate(statement.selected_columns)]
    converters = [(index, convert) for index, convert in converters if convert is not None]
    driver = connection.connection.driver_connection
    if dialect.name == "postgresql":
        cursor = driver.cursor(name="fleet_export")  # psycopg: a server-side cursor
    else:
        cursor = driver.cursor()
    try:
        cursor.execute(str(compiled), _parameters(compiled, {}))
        while rows := cursor.fetchmany(batch):
            if not converters:
                yield from rows
                continue
            for row in rows:
                row = list(row)
                for index, convert in converters:
                    row[index] = convert(row[index])
                yield row
    finally:
        cursor.close()
