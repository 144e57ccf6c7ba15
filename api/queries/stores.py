"""Stores: lookup by id, recent visits, visit statistics and top products, batched by store id."""

from __future__ import annotations

from datetime import datetime

from api.db import Database, Row
from api.queries.projections import PRODUCT, STORE, current_version

STORES_BY_ID = f"""
UNWIND $ids AS id
MATCH (s:Store {{storeId: id}})
RETURN {STORE} AS store
"""

VISITS_BY_STORE = """
UNWIND $ids AS id
MATCH (:Store {storeId: id})
CALL (id) {
  MATCH (v:Visit)-[:TO_STORE]->(:Store {storeId: id})
  WHERE ($from IS NULL OR v.arrivedAt >= $from) AND ($to IS NULL OR v.arrivedAt < $to)
  RETURN v ORDER BY v.arrivedAt DESC, v.visitId DESC LIMIT $first
}
RETURN id AS storeId, v {.visitId, .arrivedAt, .dwellMinutes, .source, .zones} AS visit
"""

VISIT_STATS_BY_STORE = """
UNWIND $ids AS id
MATCH (s:Store {storeId: id})
OPTIONAL MATCH (v:Visit)-[:TO_STORE]->(s)
WHERE ($from IS NULL OR v.arrivedAt >= $from) AND ($to IS NULL OR v.arrivedAt < $to)
RETURN id AS storeId, count(v) AS visits, avg(v.dwellMinutes) AS averageDwellMinutes
"""

TOP_PRODUCTS_BY_STORE = f"""
{current_version('trends')}
UNWIND $ids AS id
MATCH (:Store {{storeId: id}})
CALL (id, version) {{
  MATCH (:Store {{storeId: id}})-[r:POPULAR_AT]->(p:Product)
  WHERE version IS NULL OR r.version = version
  RETURN r, p ORDER BY r.rank LIMIT $first
}}
OPTIONAL MATCH (:Store {{storeId: id}})-[stock:STOCKS]->(p)
RETURN id AS storeId, r.rank AS rank, r.score AS score, stock.quantity AS stock, {PRODUCT} AS product
"""


async def stores_by_id(db: Database, ids: list[str]) -> dict[str, Row]:
    """Store rows by id (missing ids are absent)."""
    return {row["store"]["storeId"]: row["store"] for row in await db.run(STORES_BY_ID, {"ids": ids})}


async def visits_by_store(db: Database, ids: list[str], first: int, start: datetime | None,
                          end: datetime | None) -> dict[str, list[Row]]:
    """Each store's most recent visits."""
    grouped: dict[str, list[Row]] = {store_id: [] for store_id in ids}
    for row in await db.run(VISITS_BY_STORE, {"ids": ids, "first": first, "from": start, "to": end}):
        grouped[row["storeId"]].append(row["visit"])
    return grouped


async def visit_stats_by_store(db: Database, ids: list[str], start: datetime | None,
                               end: datetime | None) -> dict[str, Row]:
    """Each store's visit count and average dwell time in a period."""
    rows = await db.run(VISIT_STATS_BY_STORE, {"ids": ids, "from": start, "to": end})
    return {row["storeId"]: row for row in rows}


async def top_products_by_store(db: Database, ids: list[str], first: int) -> dict[str, list[Row]]:
    """Each store's most popular products (current trends run), with stock."""
    grouped: dict[str, list[Row]] = {store_id: [] for store_id in ids}
    for row in await db.run(TOP_PRODUCTS_BY_STORE, {"ids": ids, "first": first}):
        grouped[row["storeId"]].append(row)
    return grouped
