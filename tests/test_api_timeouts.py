"""Bounded work at the database: every API statement carries a transaction timeout, the database stops
one that runs past it (``QUERY_TIMEOUT``, no Cypher in the answer), and a pool with no free connection
answers ``SERVICE_UNAVAILABLE`` within its acquisition timeout instead of holding the request."""

from __future__ import annotations

import asyncio
import time

import pytest
from graphql import GraphQLError

from api.app import create_app
from api.collection.config import CollectionConfig
from api.config import ApiConfig, load_api_config
from api.db import Database
from api.errors import format_error
from graph_model.errors import DatabaseUnavailable, QueryTimedOut
from graph_model.settings import Settings

# Counts a few hundred million rows: tens of seconds on this machine, unless something stops it.
SLOW = "UNWIND range(1, 1000000000) AS x WITH x WHERE x % 7 = 3 RETURN count(*) AS n"


@pytest.mark.parametrize("write", [False, True])
def test_a_statement_past_its_timeout_is_stopped_by_the_database(neo4j_settings: Settings, write: bool) -> None:
    async def scenario() -> tuple[BaseException | None, float]:
        db = Database(neo4j_settings, statement_timeout=0.5, retry_seconds=0.0)
        started = time.monotonic()
        try:
            await db.run(SLOW, write=write)
        except QueryTimedOut as error:
            return error, time.monotonic() - started
        finally:
            await db.close()
        return None, time.monotonic() - started

    error, seconds = asyncio.run(scenario())
    assert isinstance(error, QueryTimedOut), "the slow statement ran to its end"
    assert seconds < 5, f"stopped only after {seconds:.1f} s"
    formatted = format_error(GraphQLError("x", path=["customer"], original_error=error))
    assert formatted["extensions"] == {"code": "QUERY_TIMEOUT"}
    assert "UNWIND" not in str(formatted) and "Neo." not in str(formatted)


def test_a_transaction_function_is_stopped_too(neo4j_settings: Settings) -> None:
    async def scenario() -> None:
        db = Database(neo4j_settings, statement_timeout=0.5, retry_seconds=0.0)
        try:
            await db.write_transaction(lambda tx: tx.run(SLOW))
        finally:
            await db.close()

    started = time.monotonic()
    with pytest.raises(QueryTimedOut):
        asyncio.run(scenario())
    assert time.monotonic() - started < 5


def test_no_free_connection_is_service_unavailable_within_the_acquisition_timeout(neo4j_settings: Settings) -> None:
    async def scenario() -> tuple[BaseException | None, float]:
        db = Database(neo4j_settings, pool_size=1, acquisition_timeout=0.3)
        holder = db.driver.session(database=neo4j_settings.database)
        transaction = await holder.begin_transaction()  # holds the pool's only connection
        await transaction.run("RETURN 1")
        started = time.monotonic()
        try:
            await db.run("RETURN 1 AS ok")
        except DatabaseUnavailable as error:
            return error, time.monotonic() - started
        finally:
            await transaction.rollback()
            await holder.close()
            await db.close()
        return None, time.monotonic() - started

    error, seconds = asyncio.run(scenario())
    assert isinstance(error, DatabaseUnavailable) and seconds < 3
    formatted = format_error(GraphQLError("x", path=["customer"], original_error=error))
    assert formatted["extensions"] == {"code": "SERVICE_UNAVAILABLE"}


def test_the_statement_timeout_is_configurable_and_on_by_default() -> None:
    assert load_api_config({"CUSTOMER_GRAPH_ENV": "development"}).statement_timeout == 5
    assert load_api_config({"CUSTOMER_GRAPH_ENV": "development",
                            "CUSTOMER_GRAPH_STATEMENT_TIMEOUT": "12"}).statement_timeout == 12


def test_the_app_gives_its_database_the_configured_timeout(neo4j_settings: Settings) -> None:
    app = create_app(ApiConfig(development=True, statement_timeout=7), neo4j_settings, collection=CollectionConfig())
    assert app.state.db.statement_timeout == 7
