"""The thin read side: what the algorithms need from the graph, read in key-ordered batches.

Each reader pages through one label by its unique key (``WHERE key > $after ORDER BY key LIMIT $limit``,
served by the uniqueness constraint's index), one short read transaction per batch returning the batch
as columns, and returns a pandas frame. The three big readers run on parallel sessions. Times come
back as epoch seconds (UTC).

Consent is read here, once per run, with the policy's own Cypher (:func:`graph_model.privacy.policy.permits_cypher`
and the ``$consentDefaults`` of :func:`~graph_model.privacy.policy.current_policy`): each customer comes
with the booleans ``personalisation`` and ``analytics``, which :mod:`algorithms.features` applies.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import chain
from typing import Any

import numpy as np
import pandas as pd

from graph_model.connection import execute_read
from graph_model.privacy.policy import ConsentPolicy, current_policy, permits_cypher

__all__ = [
    "Projection", "read_customers", "read_orders", "read_products", "read_projection", "read_session_events",
]

BATCH = 20_000

ORDERS_BATCH = """
MATCH (o:Order) WHERE o.orderId > $after
WITH o ORDER BY o.orderId LIMIT $limit
WITH o, head([(c:Customer)-[:PLACED]->(o) | c.customerId]) AS customerId,
     head([(o)-[:AT_STORE]->(s:Store) | s.storeId]) AS storeId,
     [(o)-[i:INCLUDES]->(p:Product) | [p.sku, i.quantity, i.unitPrice]] AS lines
WITH collect([o.orderId, customerId, storeId, o.placedAt.epochSeconds, coalesce(o.cancelled, false), lines]) AS rows
RETURN ['key', 'customerId', 'storeId', 'at', 'cancelled', 'lines'] AS columns, rows
"""

SESSIONS_BATCH = """
MATCH (s:Session) WHERE s.sessionId > $after
WITH s ORDER BY s.sessionId LIMIT $limit
WITH s, coalesce(head([(c:Customer)-[:HAD_SESSION]->(s) | c.customerId]),
                 head([(s)-[:IDENTIFIED_BY]->(:Identity)-[:IDENTIFIES]->(c:Customer) | c.customerId])) AS customerId,
     [(s)-[:CONTAINS]->(e:Event)-[:ABOUT_PRODUCT]->(p:Product) | [p.sku, e.type, e.at.epochSeconds]] AS events
WITH collect([s.sessionId, customerId, events]) AS rows
RETURN ['key', 'customerId', 'events'] AS columns, rows
"""

CUSTOMERS_BATCH = f"""
MATCH (c:Customer) WHERE c.customerId > $after
WITH c ORDER BY c.customerId LIMIT $limit
WITH c, head([(c)-[:HOME_STORE]->(s:Store) | s.storeId]) AS homeStore,
     [(c)-[:MADE_VISIT]->(v:Visit)-[:TO_STORE]->(s:Store) | [s.storeId, v.arrivedAt.epochSeconds]] AS visits,
     {permits_cypher("c", "personalisation")} AS personalisation,
     {permits_cypher("c", "analytics")} AS analytics
WITH collect([c.customerId, homeStore, visits, personalisation, analytics]) AS rows
RETURN ['key', 'homeStore', 'visits', 'personalisation', 'analytics'] AS columns, rows
"""

PRODUCTS_BATCH = """
MATCH (p:Product) WHERE p.sku > $after
WITH p ORDER BY p.sku LIMIT $limit
WITH collect([p.sku, p.name]) AS rows
RETURN ['key', 'name'] AS columns, rows
"""

STORES_BATCH = """
MATCH (s:Store) WHERE s.storeId > $after
WITH s ORDER BY s.storeId LIMIT $limit
WITH collect([s.storeId, s.name]) AS rows
RETURN ['key', 'name'] AS columns, rows
"""

Columns = dict[str, list[Any]]


def _fetch(query: str, parameters: dict[str, Any]) -> Columns:
    """One batch as one record holding a list of rows (the driver decodes one big list several times
    faster than thousands of records), turned into columns (lists, nulls kept)."""
    def work(tx: Any) -> Columns:
        names, rows = tx.run(query, parameters).single(strict=True).values()
        if not rows:
            return {name: [] for name in names}
        return {name: list(values) for name, values in zip(names, zip(*rows, strict=True), strict=True)}

    return execute_read(work)


def _pages(query: str, batch: int, parameters: dict[str, Any] | None = None) -> Iterator[Columns]:
    after = ""
    while True:
        columns = _fetch(query, {**(parameters or {}), "after": after, "limit": batch})
        keys = columns["key"]
        if not keys:
            return
        yield columns
        if len(keys) < batch:
            return
        after = max(keys)  # the page is key-ordered; max() does not rely on collect() keeping that order


def _explode(columns: Columns, list_field: str, keep: tuple[str, ...], width: int) -> tuple[
        dict[str, np.ndarray], list[np.ndarray]]:
    lists = columns[list_field]
    lengths = np.fromiter((len(items) for items in lists), dtype=np.int64, count=len(lists))
    repeated = {name: np.repeat(np.array(columns[name], dtype=object), lengths) for name in keep}
    flat = list(chain.from_iterable(lists))
    exploded = [np.array([item[i] for item in flat], dtype=object) for i in range(width)]
    return repeated, exploded


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


CUSTOMER_COLUMNS = ["customerId", "homeStore", "personalisation", "analytics"]


def read_customers(batch: int = BATCH, policy: ConsentPolicy | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Customers (``customerId, homeStore, personalisation, analytics``) and their store visits
    (``customerId, storeId, at``).

    ``personalisation`` and ``analytics`` (bool) are ``policy``'s decisions (default: the process's
    :func:`~graph_model.privacy.policy.current_policy`), evaluated in the same query as the page."""
    parameters = (policy or current_policy()).parameters()
    customers, visits = [], []
    for rows in _pages(CUSTOMERS_BATCH, batch, parameters):
        customers.append(pd.DataFrame({"customerId": rows["key"], "homeStore": rows["homeStore"],
                                       "personalisation": np.array(rows["personalisation"], dtype=bool),
                                       "analytics": np.array(rows["analytics"], dtype=bool)}))
        repeated, (store, at) = _explode(rows, "visits", ("key",), 2)
        visits.append(pd.DataFrame({"customerId": repeated["key"], "storeId": store, "at": at.astype(np.int64)}))
    empty = pd.DataFrame({"customerId": pd.Series(dtype=object), "homeStore": pd.Series(dtype=object),
                          "personalisation": pd.Series(dtype=bool), "analytics": pd.Series(dtype=bool)})
    return (pd.concat(customers, ignore_index=True) if customers else empty,
            pd.concat(visits, ignore_index=True) if visits else pd.DataFrame(columns=["customerId", "storeId", "at"]))


def _read_names(query: str, key: str, batch: int) -> pd.DataFrame:
    frames = [pd.DataFrame({key: rows["key"], "name": rows["name"]}) for rows in _pages(query, batch)]
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


def read_projection(progress: Callable[[str], None] | None = None, batch: int = BATCH,
                    policy: ConsentPolicy | None = None) -> Projection:
    """Read the whole projection (customers with their consent under ``policy``, products, stores, order
    lines, session events, visits).

    Customers, order lines and session events are read on three sessions at once (the server works on
    one while the driver decodes another)."""
    say = progress or (lambda _message: None)
    products = read_products(batch)
    stores = read_stores(batch)
    with ThreadPoolExecutor(max_workers=3, thread_name_prefix="projection") as pool:
        customers_future = pool.submit(read_customers, batch, policy or current_policy())
        orders_future = pool.submit(read_orders, batch)
        events_future = pool.submit(read_session_events, batch)
        customers, visits = customers_future.result()
        say(f"read {len(customers):,} customers ({int((~customers.personalisation).sum()):,} without "
            f"personalisation, {int((~customers.analytics).sum()):,} without analytics), {len(products):,} "
            f"products, {len(stores):,} stores, {len(visits):,} visits")
        orders = orders_future.result()
        say(f"read {len(orders):,} order lines")
        events = events_future.result()
        say(f"read {len(events):,} session product events")
    return Projection(customers=customers, products=products, stores=stores, orders=orders, events=events,
                      visits=visits)
