"""The one place that builds the Neo4j driver and configures neomodel.

Everything else asks this module for a session or runs a query through it::

    from graph_model import run_query, session
    rows = run_query("MATCH (c:Customer {customerId: $id}) RETURN c.name AS name", {"id": "C1"})
    with session() as s:
        s.execute_write(my_idempotent_transaction_function, rows)

Driver errors are translated into :mod:`graph_model.errors` at this boundary.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import neo4j
import neomodel
from neo4j import GraphDatabase, RoutingControl

from graph_model import bolt_time
from graph_model.errors import CustomerGraphError, translate_neo4j_error
from graph_model.settings import Settings, load_settings

log = logging.getLogger(__name__)

T = TypeVar("T")

_lock = threading.Lock()
_driver: neo4j.Driver | None = None
_settings: Settings | None = None


def configure(settings: Settings) -> None:
    """Use ``settings`` from now on (closes a driver built with other settings)."""
    global _settings
    with _lock:
        if _settings != settings:
            _close_locked()
        _settings = settings


def current_settings() -> Settings:
    """The settings in use (read from the environment the first time)."""
    global _settings
    with _lock:
        if _settings is None:
            _settings = load_settings()
        return _settings


def get_driver() -> neo4j.Driver:
    """The process-wide driver, built on first use; neomodel shares it."""
    global _driver
    settings = current_settings()
    with _lock:
        if _driver is None:
            bolt_time.install()
            driver = GraphDatabase.driver(
                settings.bolt_uri,
                auth=(settings.user, settings.password),
                max_connection_pool_size=100,
                connection_acquisition_timeout=10.0,
                connection_timeout=5.0,
                max_transaction_retry_time=15.0,
                # Warnings such as "label does not exist yet" are normal on a young graph; errors still raise.
                notifications_min_severity="OFF",
            )
            neomodel.get_config().update(database_name=settings.database)
            neomodel.db.set_connection(driver=driver)
            _driver = driver
        return _driver


def _close_locked() -> None:
    global _driver
    if _driver is not None:
        try:
            neomodel.db.close_connection()
        finally:
            _driver.close()
            _driver = None


def close_driver() -> None:
    """Close the driver (it is rebuilt on next use)."""
    with _lock:
        _close_locked()


def verify_connectivity() -> None:
    """Raise :class:`~graph_model.errors.DatabaseUnavailable` unless the database answers a query."""
    run_query("RETURN 1 AS ok")


class Rows(list):
    """A list parameter (an ``UNWIND`` batch) that the driver does not format for its debug log.

    The driver (6.1) builds the text of a DEBUG ``RUN`` log line from every parameter even when that log is
    off; a 5,000-row batch then costs ~6 ms of repr before it is sent (a bare ``UNWIND`` of 5,000 rows took
    31 ms a run as a list, 14 ms as ``Rows``). Pass batches as ``Rows(batch)``; it packs as a list.

    >>> Rows([{"sku": "A"}, {"sku": "B"}])
    <2 rows>
    >>> Rows([1, 2]) == [1, 2]
    True
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return f"<{len(self)} rows>"


@contextmanager
def session(**kwargs: Any) -> Iterator[neo4j.Session]:
    """A driver session on the configured database; driver errors leave as project errors."""
    try:
        with get_driver().session(database=current_settings().database, **kwargs) as s:
            yield s
    except CustomerGraphError:
        raise
    except (neo4j.exceptions.Neo4jError, neo4j.exceptions.DriverError, OSError) as error:
        raise translate_neo4j_error(error) from error


def run_query(query: str | neo4j.Query, parameters: dict[str, Any] | None = None, *,
              write: bool = True) -> list[dict[str, Any]]:
    """Run one parameterised statement in a managed (retried) transaction; return its rows as dicts.

    ``query`` may be a :class:`neo4j.Query` to give the transaction its own timeout (instead of the server's
    ``db.transaction.timeout``).
    """
    try:
        records, _, _ = get_driver().execute_query(
            query,
            parameters or {},
            database_=current_settings().database,
            routing_=RoutingControl.WRITE if write else RoutingControl.READ,
        )
    except (neo4j.exceptions.Neo4jError, neo4j.exceptions.DriverError, OSError) as error:
        raise translate_neo4j_error(error) from error
    return [record.data() for record in records]


def _saying_why(work: Callable[..., T]) -> Callable[..., T]:
    """``work`` that logs the code and message of an error the driver will retry (a deadlock, a leader
    switch): the driver's own line says only "Transaction failed and will be retried in 1.02s ()"."""

    @functools.wraps(work)
    def attempt(tx: neo4j.ManagedTransaction, *args: Any, **kwargs: Any) -> T:
        try:
            return work(tx, *args, **kwargs)
        except neo4j.exceptions.Neo4jError as error:
            if error.is_retryable():
                name = getattr(work, "__name__", "transaction")
                log.warning("%s: %s, retried: %s", name, error.code, " ".join((error.message or "").split())[:500],
                            extra={"transaction": name, "code": error.code})
            raise

    return attempt


def execute_write(work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run an idempotent transaction function for writing, retried on transient errors (each one logged with
    its code)."""
    with session() as s:
        return s.execute_write(_saying_why(work), *args, **kwargs)


def execute_read(work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a transaction function for reading, retried on transient errors."""
    with session() as s:
        return s.execute_read(work, *args, **kwargs)
