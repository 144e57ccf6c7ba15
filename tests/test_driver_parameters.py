"""Batches go to the driver as :class:`graph_model.connection.Rows`, which it packs as lists without formatting them.

The driver formats every parameter of a ``RUN`` for its DEBUG log even when that log is off; a plain list of
5,000 rows then costs milliseconds of ``repr`` per statement. These tests fail when a writer passes a batch
as a plain list again, or when the driver stops packing ``Rows`` as a list.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import pytest

from graph_model.connection import Rows, run_query
from graph_model.settings import Settings
from loaders.writers import statement_writer
from loaders.writers.events import plan_events
from loaders.writers.orders import write_orders

AT = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


class RecordingTx:
    """A transaction that records the parameters of each statement and returns no rows (a statement that
    collects its results into one record gets empty lists)."""

    def __init__(self) -> None:
        self.parameters: list[dict[str, Any]] = []

    def run(self, query: str, parameters: dict[str, Any] | None = None, **kwargs: Any) -> RecordingTx:
        self.parameters.append({**(parameters or {}), **kwargs})
        return self

    def consume(self) -> None:
        return None

    def __iter__(self) -> Any:
        return iter(())

    def single(self, strict: bool = False) -> dict[str, Any]:
        return defaultdict(list)


def _lists(parameters: list[dict[str, Any]]) -> list[Any]:
    return [value for p in parameters for value in p.values() if isinstance(value, list)]


def _event(event_id: str, session_id: str, minute: int) -> dict[str, Any]:
    return {"eventId": event_id, "sessionId": session_id, "type": "page_view",
            "at": AT.replace(minute=minute), "sku": None, "categoryId": None, "orderId": None,
            "searchText": "red mug" if minute == 1 else None, "page": "/", "query": None, "resultsCount": None,
            "quantity": None, "name": None, "properties": None}


def test_writers_pass_every_batch_as_rows() -> None:
    tx = RecordingTx()
    statement_writer("UNWIND $rows AS r RETURN r", "write_things")(tx, [{"a": 1}])  # type: ignore[arg-type]
    order = {"orderId": "O1", "line": 1, "placedAt": AT, "channel": "web", "sku": "A", "quantity": 1,
             "unitPrice": 1.0, "customerId": "C1", "storeId": None, "currency": "GBP", "cancelled": False}
    write_orders(tx, [order])  # type: ignore[arg-type]
    events = [_event("E1", "S1", 1), _event("E2", "S1", 2), _event("E3", "S2", 3)]
    tx.parameters += [parameters for _, parameters in plan_events(events, {"S2": {"E3": 0}})]
    lists = _lists(tx.parameters)
    assert len(lists) >= 7  # things, order ids, orders, fresh events, their chain, the merge rows, searches
    assert all(isinstance(value, Rows) for value in lists), [type(value) for value in lists]


def test_algorithm_results_are_written_as_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    from algorithms import writeback

    tx = RecordingTx()
    monkeypatch.setattr(writeback, "execute_write", lambda work, *args: work(tx, *args))
    writeback._write("UNWIND $rows AS r RETURN r", [{"customerId": "C1"}, {"customerId": "C2"}], batch=1,
                     version="v1")
    lists = _lists(tx.parameters)
    assert len(lists) == 2 and all(isinstance(value, Rows) for value in lists)


def test_the_driver_packs_rows_as_a_list(graph: Settings) -> None:
    rows = Rows([{"n": 1, "at": AT}, {"n": 2, "at": AT}])
    assert repr(rows) == "<2 rows>"
    out = run_query("UNWIND $rows AS r RETURN sum(r.n) AS total, max(r.at) AS at, size($rows) AS size",
                    {"rows": rows})[0]
    assert (out["total"], out["at"].to_native(), out["size"]) == (3, AT, 2)
