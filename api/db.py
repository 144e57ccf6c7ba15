"""The API's one asynchronous Neo4j driver, built from :func:`graph_model.connection.current_settings`.

The synchronous driver of :mod:`graph_model.connection` would block the event loop, so the API owns one
``AsyncDriver`` here (and nowhere else). Every statement goes through :meth:`Database.run`, which makes
round trips countable, converts Neo4j temporal values to Python ones and translates driver errors
into :mod:`graph_model.errors` (``DatabaseUnavailable``, ``QueryError``) at this one boundary.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import neo4j
from neo4j import AsyncGraphDatabase, RoutingControl

from graph_model import bolt_time
from graph_model.connection import current_settings
from graph_model.errors import translate_neo4j_error
from graph_model.settings import Settings

Row = dict[str, Any]
T = TypeVar("T")


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def from_micros(value: int | None) -> datetime | None:
    """An instant given as microseconds since the epoch (see ``api.queries.projections.micros``)."""
    return None if value is None else _EPOCH + timedelta(microseconds=value)


_PLAIN = frozenset({str, int, float, bool, type(None)})


def _native(value: Any) -> Any:
    """Neo4j temporal values as Python ones, recursively through lists and maps (a hot path: type checks
    by identity, plain values returned first)."""
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is dict:
        return {key: _native(item) for key, item in value.items()}
    if kind is list:
        return [_native(item) for item in value]
    if kind is neo4j.time.DateTime:
        return value.to_native()
    return value


async def rows(tx: neo4j.AsyncManagedTransaction, query: str, parameters: dict[str, Any]) -> list[Row]:
    """The rows of one statement inside a transaction function, as dicts of Python values."""
    result = await tx.run(query, parameters)
    return [{key: _native(value) for key, value in record.items()} async for record in result]


class Database:
    """A lazily built ``AsyncDriver`` on the configured database, with a round-trip counter."""

    def __init__(self, settings: Settings | None = None, *, retry_seconds: float = 1.0,
                 statement_timeout: float | None = 5.0, pool_size: int = 100,
                 acquisition_timeout: float = 5.0) -> None:
        self.settings = settings or current_settings()
        self.retry_seconds = retry_seconds
        self.statement_timeout = statement_timeout
        self.pool_size = pool_size
        self.acquisition_timeout = acquisition_timeout
        self.round_trips = 0
        self._driver: neo4j.AsyncDriver | None = None

    @property
    def driver(self) -> neo4j.AsyncDriver:
        """The driver, built on first use (inside the running event loop)."""
        if self._driver is None:
            bolt_time.install()
            self._driver = AsyncGraphDatabase.driver(
                self.settings.bolt_uri,
                auth=(self.settings.user, self.settings.password),
                max_connection_pool_size=self.pool_size,
                connection_acquisition_timeout=self.acquisition_timeout,
                connection_timeout=2.0,
                max_transaction_retry_time=self.retry_seconds,
                notifications_min_severity="OFF",
            )
        return self._driver

    async def run(self, query: str, parameters: dict[str, Any] | None = None, *, write: bool = False) -> list[Row]:
        """Run one parameterised statement; rows as dicts of Python values.

        Reads run as auto-commit transactions (one round trip; a failed read is not retried: the caller
        gets ``DatabaseUnavailable`` at once), writes as managed transactions retried for
        ``retry_seconds``. Either is stopped by the database after ``statement_timeout`` seconds
        (``QueryTimedOut``); no free connection within ``acquisition_timeout`` is ``DatabaseUnavailable``.
        """
        self.round_trips += 1
        statement = neo4j.Query(query, timeout=self.statement_timeout)
        try:
            if write:  # a managed transaction, retried on transient errors
                records, _, _ = await self.driver.execute_query(
                    statement, parameters or {}, database_=self.settings.database, routing_=RoutingControl.WRITE)
            else:  # an auto-commit read: one network round trip (RUN and PULL pipelined), no BEGIN/COMMIT
                async with self.driver.session(database=self.settings.database,
                                               default_access_mode=neo4j.READ_ACCESS) as session:
                    result = await session.run(statement, parameters or {})
                    records = [record async for record in result]
        except (neo4j.exceptions.Neo4jError, neo4j.exceptions.DriverError, OSError) as error:
            raise translate_neo4j_error(error) from error
        return [{key: _native(value) for key, value in record.items()} for record in records]

    async def write_transaction(self, work: Callable[[neo4j.AsyncManagedTransaction], Awaitable[T]]) -> T:
        """Run ``work(tx)`` as one managed write transaction (several statements, all or nothing), retried
        like :meth:`run`'s writes and stopped after ``statement_timeout`` seconds (the transaction counts
        once in ``round_trips``). Use :func:`rows` in ``work`` to read results as Python values."""
        @neo4j.unit_of_work(timeout=self.statement_timeout)
        async def counted(tx: neo4j.AsyncManagedTransaction) -> T:
            self.round_trips += 1
            return await work(tx)

        try:
            async with self.driver.session(database=self.settings.database) as session:
                return await session.execute_write(counted)
        except (neo4j.exceptions.Neo4jError, neo4j.exceptions.DriverError, OSError) as error:
            raise translate_neo4j_error(error) from error

    async def ping(self) -> None:
        """Raise ``DatabaseUnavailable`` unless the database answers a trivial query."""
        await self.run("RETURN 1 AS ok")

    async def close(self) -> None:
        """Close the driver (it is rebuilt on next use)."""
        if self._driver is not None:
            driver, self._driver = self._driver, None
            await driver.close()
