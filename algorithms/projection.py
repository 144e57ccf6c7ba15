"""The thin read side: what the algorithms need from the graph, read in key-ordered batches.

Each reader pages through one label by its unique key (``WHERE key > $after ORDER BY key LIMIT $limit``,
served by the uniqueness constraint's index), one short read transaction per batch, and returns a
pandas frame. Times come back as epoch seconds (UTC).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import chain
from typing import Any

import numpy as np
import pandas as pd

from graph_model.connection import execute_read

__all__ = [
    "Projection", "read_customers", "read_orders", "read_products", "read_projection", "read_session_events",
]

BATCH = 20_000

ORDERS_BATCH = """
MATCH (o:Order) WHERE o.orderId > $after
WITH o ORDER BY o.orderId LIMIT $limit
RETURN o.orderId AS key,
       head([(c:Customer)-[:PLACED]->(o) | c.customerId]) AS customerId,
       head([(o)-[:AT_STORE]->(s:Store) | s.storeId]) AS storeId,
       o.placedAt.epochSeconds AS at,
       coalesce(o.cancelled, false) AS cancelled,
       [(o)-[i:INCLUDES]->(p:Product) | [p.sku, i.quantity, i.unitPrice]] AS lines
"""

SESSIONS_BATCH = """
MATCH (s:Session) WHERE s.sessionId > $after
WITH s ORDER BY s.sessionId LIMIT $limit
RETURN s.sessionId AS key,
       coalesce(head([(c:Customer)-[:HAD_SESSION]->(s) | c.customerId]),
                head([(s)-[:IDENTIFIED_BY]->(:Identity)-[:IDENTIFIES]->(c:Customer) | c.customerId])) AS customerId,
       [(s)-[:CONTAINS]->(e:Event)-[:ABOUT_PRODUCT]->(p:Product) | [p.sku, e.type, e.at.epochSeconds]] AS events
"""

CUSTOMERS_BATCH = """
MATCH (c:Customer) WHERE c.customerId > $after
WITH c ORDER BY c.customerId LIMIT $limit
RETURN c.customerId AS key,
       head([(c)-[:HOME_STORE]->(s:Store) | s.storeId]) AS homeStore,
       [(c)-[:MADE_VISIT]->(v:Visit)-[:TO_STORE]->(s:Store) | [s.storeId, v.arrivedAt.epochSeconds]] AS visits
"""

PRODUCTS_BATCH = """
MATCH (p:Product) WHERE p.sku > $after
WITH p ORDER BY p.sku LIMIT $limit
RETURN p.sku AS key, p.name AS name
"""

STORES_BATCH = """
MATCH (s:Store) WHERE s.storeId > $after
WITH s ORDER BY s.storeId LIMIT $limit
RETURN s.storeId AS key, s.name AS name
"""


class _Rows(list):  # type: ignore[type-arg]
    """Rows of one batch as lists of values; ``column(name)`` is the list of one column."""

    def __init__(self, keys: list[str], values: list[list[Any]]) -> None:
        super().__init__(values)
        self.index = {key: i for i, key in enumerate(keys)}

    def column(self, name: str) -> list[Any]:
        i = self.index[name]
        return [row[i] for row in self]


def _fetch(query: str, parameters: dict[str, Any]) -> _Rows:
    def work(tx: Any) -> _Rows:
        result = tx.run(query, parameters)
        keys = list(result.keys())
        return _Rows(keys, result.values())  # plain values: ~2x faster than record.data() on nested lists

    return execute_read(work)


def _pages(query: str, batch: int) -> Iterator[_Rows]:
    after = ""
    while True:
        rows = _fetch(query, {"after": after, "limit": batch})
        if not rows:
            return
        yield rows
        if len(rows) < batch:
            return
        after = rows[-1][rows.index["key"]]


def _explode(rows: _Rows, list_field: str, keep: tuple[str, ...], width: int) -> tuple[
        dict[str, np.ndarray], list[np.ndarray]]:
    lists = rows.column(list_field)
    lengths = np.fromiter((len(items) for items in lists), dtype=np.int64, count=len(lists))
    repeated = {name: np.repeat(np.array(rows.column(name), dtype=object), lengths) for name in keep}
    flat = list(chain.from_iterable(lists))
    columns = [np.array([item[i] for item in flat], dtype=object) for i in range(width)]
    return repeated, columns


def read_orders(batch: int = BATCH) -> pd.DataFrame:
    """Order lines: ``orderId, customerId, storeId, at, cancelled, sku, quantity, unitPrice``."""
    frames = []
    for rows in _pages(ORDERS_BATCH, batch):
        repeated, (sku, quantity, price) = _explode(rows, "lines", ("key", "customerId", "storeId", "at", "cancelled"), 3)
        frames.append(pd.DataFrame({
            "orderId": repeated["key"], "customerId": repeated["customerId"], "storeId": repeated["storeId"],
            "at": repeated["at"].astype(np.int64), "cancelled": repeated["cancelled"].astype(bool),
            "sku": sku, "quantity": quantity.astype(np.float64), "unitPrice": price.astype(np.float64),
        }))
    columns = ["orderId", "customerId", "storeId", "at", "cancelled", "sku", "quantity", "unitPrice"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def read_session_events(batch: int = BATCH) -> pd.DataFrame:
    """Product events of sessions: ``sessionId, customerId, sku, type, at``."""
    frames = []
    for rows in _pages(SESSIONS_BATCH, batch):
        repeated, (sku, kind, at) = _explode(rows, "events", ("key", "customerId"), 3)
        frames.append(pd.DataFrame({"sessionId": repeated["key"], "customerId": repeated["customerId"],
                                    "sku": sku, "type": kind, "at": at.astype(np.int64)}))
    columns = ["sessionId", "customerId", "sku", "type", "at"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def read_customers(batch: int = BATCH) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Customers (``customerId, homeStore``) and their store visits (``customerId, storeId, at``)."""
    customers, visits = [], []
    for rows in _pages(CUSTOMERS_BATCH, batch):
        customers.append(pd.DataFrame({"customerId": rows.column("key"), "homeStore": rows.column("homeStore")}))
        repeated, (store, at) = _explode(rows, "visits", ("key",), 2)
        visits.append(pd.DataFrame({"customerId": repeated["key"], "storeId": store, "at": at.astype(np.int64)}))
    return (pd.concat(customers, ignore_index=True) if customers else pd.DataFrame(columns=["customerId", "homeStore"]),
            pd.concat(visits, ignore_index=True) if visits else pd.DataFrame(columns=["customerId", "storeId", "at"]))


def _read_names(query: str, key: str, batch: int) -> pd.DataFrame:
    frames = [pd.DataFrame({key: rows.column("key"), "name": rows.column("name")}) for rows in _pages(query, batch)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=[key, "name"])


def read_products(batch: int = BATCH) -> pd.DataFrame:
    """Products: ``sku, name``."""
    return _read_names(PRODUCTS_BATCH, "sku", batch)


def read_stores(batch: int = BATCH) -> pd.DataFrame:
    """Stores: ``storeId, name``."""
    return _read_names(STORES_BATCH, "storeId", batch)


@dataclass
class Projection:
    """Everything the algorithm families read, as plain frames."""

    customers: pd.DataFrame
    products: pd.DataFrame
    stores: pd.DataFrame
    orders: pd.DataFrame
    events: pd.DataFrame
    visits: pd.DataFrame


def read_projection(progress: Callable[[str], None] | None = None, batch: int = BATCH) -> Projection:
    """Read the whole projection (customers, products, stores, order lines, session events, visits)."""
    say = progress or (lambda _message: None)
    products = read_products(batch)
    stores = read_stores(batch)
    customers, visits = read_customers(batch)
    say(f"read {len(customers):,} customers, {len(products):,} products, {len(stores):,} stores, {len(visits):,} visits")
    orders = read_orders(batch)
    say(f"read {len(orders):,} order lines")
    events = read_session_events(batch)
    say(f"read {len(events):,} session product events")
    return Projection(customers=customers, products=products, stores=stores, orders=orders, events=events,
                      visits=visits)
