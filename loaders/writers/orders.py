"""Writing orders from their line rows: the Order, its buyer, its store, and one ``INCLUDES`` per line.

A line's natural key is ``(orderId, line)``. Orders new to the graph take the fast path (``CREATE`` of the
lines); orders already there ``MERGE`` each line and drop a line whose product changed. ``total`` is
recomputed from all the order's lines every time the order is touched.
"""

from __future__ import annotations

from typing import Any

from neo4j import ManagedTransaction

from graph_model.connection import Rows

EXISTING_ORDERS = """
UNWIND $orderIds AS orderId
MATCH (o:Order {orderId: orderId})
RETURN collect(orderId) AS orderIds
"""
"""Which of the batch's orders exist, as one list (one record: the driver takes ~30 µs per record)."""

_HEADER = """
UNWIND $orders AS r
MERGE (o:Order {orderId: r.orderId})
SET o.channel = r.channel, o.placedAt = r.placedAt, o.currency = r.currency, o.cancelled = r.cancelled
WITH o, r
CALL (o, r) {
  WITH o, r WHERE r.customerId IS NOT NULL
  MATCH (c:Customer {customerId: r.customerId})
  OPTIONAL MATCH (other:Customer)-[old:PLACED]->(o) WHERE other <> c
  DELETE old
  WITH DISTINCT o, r, c
  MERGE (c)-[p:PLACED]->(o)
  SET p.at = r.placedAt
}
CALL (o, r) {
  WITH o, r WHERE r.storeId IS NOT NULL
  MATCH (s:Store {storeId: r.storeId})
  MERGE (o)-[:AT_STORE]->(s)
}
"""

_TOTAL = """
WITH DISTINCT o
CALL (o) {
  MATCH (o)-[l:INCLUDES]->()
  RETURN round(sum(l.quantity * l.unitPrice), 2) AS total
}
SET o.total = total
"""

CREATE_ORDERS = _HEADER + """
CALL (o, r) {
  UNWIND r.lines AS l
  MATCH (p:Product {sku: l.sku})
  CREATE (o)-[:INCLUDES {line: l.line, quantity: l.quantity, unitPrice: l.unitPrice}]->(p)
}
""" + _TOTAL

MERGE_ORDERS = _HEADER + """
CALL (o, r) {
  UNWIND r.lines AS l
  MATCH (p:Product {sku: l.sku})
  OPTIONAL MATCH (o)-[stale:INCLUDES {line: l.line}]->(other:Product) WHERE other <> p
  DELETE stale
  WITH DISTINCT o, l, p
  MERGE (o)-[x:INCLUDES {line: l.line}]->(p)
  SET x.quantity = l.quantity, x.unitPrice = l.unitPrice
}
""" + _TOTAL


def group_lines(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Line rows -> one dict per order (the first row's order fields) with its ``lines``."""
    orders: dict[str, dict[str, Any]] = {}
    for row in rows:
        order = orders.get(row["orderId"])
        if order is None:
            order = {k: row[k] for k in ("orderId", "channel", "placedAt", "currency", "cancelled", "customerId",
                                         "storeId")}
            order["lines"] = {}
            orders[row["orderId"]] = order
        order["lines"][row["line"]] = {"line": row["line"], "sku": row["sku"], "quantity": row["quantity"],
                                       "unitPrice": row["unitPrice"]}
    for order in orders.values():
        order["lines"] = list(order["lines"].values())
    return list(orders.values())


def write_orders(tx: ManagedTransaction, rows: list[dict[str, Any]]) -> None:
    """Write one batch of order lines (see the module docstring)."""
    orders = group_lines(rows)
    existing = set(tx.run(EXISTING_ORDERS, orderIds=Rows(o["orderId"] for o in orders)).single(strict=True)["orderIds"])
    fresh = [o for o in orders if o["orderId"] not in existing]
    known = [o for o in orders if o["orderId"] in existing]
    if fresh:
        tx.run(CREATE_ORDERS, orders=Rows(fresh)).consume()
    if known:
        tx.run(MERGE_ORDERS, orders=Rows(known)).consume()
