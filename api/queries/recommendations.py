"""Recommendation candidates: precomputed ``RECOMMENDED`` edges, the contract's fallbacks, and context.

Nothing is computed here that the algorithms precompute: personal candidates are read from
``RECOMMENDED``, fallbacks from ``POPULAR_IN`` / ``POPULAR_AT`` / ``trendRank``, context candidates one
hop from the context product (``AFFINITY``), the session's viewed products (``AFFINITY``) and the store
(``POPULAR_AT``, ``STOCKS``). :mod:`api.blend` combines them.
"""

from __future__ import annotations

from api.db import Database, Row
from api.queries.projections import CUSTOMER, PRODUCT, current_version

PERSONAL = f"""
{current_version('recommend')}
UNWIND $ids AS id
MATCH (c:Customer {{customerId: id}})
CALL (c, version) {{
  MATCH (c)-[r:RECOMMENDED]->(p:Product)
  WHERE version IS NULL OR r.version = version
  RETURN r, p ORDER BY r.rank, r.score DESC LIMIT $limit
}}
OPTIONAL MATCH (:Store {{storeId: $storeId}})-[stock:STOCKS]->(p)
RETURN id AS customerId, {PRODUCT} AS product, r.score AS score, r.rank AS rank, r.reason AS reason,
       r.evidence AS evidence, stock.quantity AS stock
"""

CUSTOMERS_WITH_PERSONAL = f"""
{current_version('recommend')}
UNWIND $ids AS id
MATCH (c:Customer {{customerId: id}})
CALL (c, version) {{
  OPTIONAL MATCH (c)-[r:RECOMMENDED]->(p:Product)
  WHERE version IS NULL OR r.version = version
  WITH r, p ORDER BY r.rank, r.score DESC LIMIT $limit
  RETURN collect(CASE WHEN p IS NULL THEN null ELSE {{product: {PRODUCT}, score: r.score, rank: r.rank,
                 reason: r.reason, evidence: r.evidence, stock: null}} END) AS recommendations
}}
RETURN {CUSTOMER} AS customer, recommendations
"""

FALLBACK = f"""
{current_version('segments', 'segmentsVersion')}
{current_version('trends', 'trendsVersion')}
UNWIND $ids AS id
MATCH (c:Customer {{customerId: id}})
CALL (c, segmentsVersion, trendsVersion) {{
  MATCH (c)-[m:IN_SEGMENT]->(g:Segment)-[r:POPULAR_IN]->(p:Product)
  WHERE (segmentsVersion IS NULL OR m.version = segmentsVersion)
    AND (trendsVersion IS NULL OR r.version = trendsVersion)
    AND NOT EXISTS {{ (c)-[:PLACED]->(:Order)-[:INCLUDES]->(p) }}
  RETURN p, r.score AS score, 'SEGMENT_POPULAR' AS source, g.name AS about
  ORDER BY r.rank LIMIT $limit
  UNION ALL
  MATCH (c)-[:HOME_STORE]->(s:Store)-[r:POPULAR_AT]->(p:Product)
  WHERE (trendsVersion IS NULL OR r.version = trendsVersion)
    AND NOT EXISTS {{ (c)-[:PLACED]->(:Order)-[:INCLUDES]->(p) }}
  RETURN p, r.score AS score, 'STORE_POPULAR' AS source, s.name AS about
  ORDER BY r.rank LIMIT $limit
}}
OPTIONAL MATCH (:Store {{storeId: $storeId}})-[stock:STOCKS]->(p)
RETURN id AS customerId, {PRODUCT} AS product, score, source, about, stock.quantity AS stock
"""

TRENDING = f"""
MATCH (p:Product) WHERE p.trendRank IS NOT NULL
WITH p ORDER BY p.trendRank LIMIT $limit
OPTIONAL MATCH (:Store {{storeId: $storeId}})-[stock:STOCKS]->(p)
RETURN {PRODUCT} AS product, p.trendScore AS score, 'TRENDING' AS source, null AS about, stock.quantity AS stock
"""

CONTEXT = f"""
{current_version('affinity', 'affinityVersion')}
{current_version('trends', 'trendsVersion')}
CALL (affinityVersion, trendsVersion) {{
  MATCH (ctx:Product {{sku: $productSku}})-[a:AFFINITY]->(p:Product)
  WHERE affinityVersion IS NULL OR a.version = affinityVersion
  RETURN p, a.score AS score, 'CONTEXT_PRODUCT' AS source, ctx.name AS about
  ORDER BY a.rank, a.score DESC LIMIT $limit
  UNION ALL
  MATCH (:Session {{sessionId: $sessionId}})-[:CONTAINS]->(:Event)-[:ABOUT_PRODUCT]->(seen:Product)
  WITH DISTINCT seen, affinityVersion LIMIT 20
  MATCH (seen)-[a:AFFINITY]->(p:Product)
  WHERE affinityVersion IS NULL OR a.version = affinityVersion
  RETURN p, a.score AS score, 'CONTEXT_SESSION' AS source, seen.name AS about
  ORDER BY a.score DESC LIMIT $limit
  UNION ALL
  MATCH (s:Store {{storeId: $storeId}})-[r:POPULAR_AT]->(p:Product)
  WHERE trendsVersion IS NULL OR r.version = trendsVersion
  RETURN p, r.score AS score, 'CONTEXT_STORE' AS source, s.name AS about
  ORDER BY r.rank LIMIT $limit
}}
OPTIONAL MATCH (:Store {{storeId: $storeId}})-[stock:STOCKS]->(p)
RETURN {PRODUCT} AS product, score, source, about, stock.quantity AS stock
"""

CONTEXT_STORE = """
MATCH (s:Store)
WHERE ($storeId IS NOT NULL AND s.storeId = $storeId)
   OR ($storeId IS NULL AND point.distance(s.location, point({latitude: $latitude, longitude: $longitude})) <= $meters)
RETURN s.storeId AS storeId, s.name AS name
ORDER BY point.distance(s.location, point({latitude: coalesce($latitude, 0.0), longitude: coalesce($longitude, 0.0)}))
LIMIT 1
"""



async def personal(db: Database, ids: list[str], limit: int, store_id: str | None) -> dict[str, list[Row]]:
    """Each customer's ``RECOMMENDED`` products of the current run, best first (with stock at the store)."""
    grouped: dict[str, list[Row]] = {customer_id: [] for customer_id in ids}
    for row in await db.run(PERSONAL, {"ids": ids, "limit": limit, "storeId": store_id}):
        grouped[row["customerId"]].append(row)
    return grouped


async def customers_with_personal(db: Database, ids: list[str], limit: int) -> dict[str, tuple[Row, list[Row]]]:
    """Customer rows with their ``RECOMMENDED`` products in one round trip (missing customers are absent)."""
    rows = await db.run(CUSTOMERS_WITH_PERSONAL, {"ids": ids, "limit": limit})
    return {row["customer"]["customerId"]: (row["customer"], row["recommendations"]) for row in rows}


async def fallback(db: Database, ids: list[str], limit: int, store_id: str | None) -> dict[str, list[Row]]:
    """Popular in the customers' segments and at their home store, leaving out what each bought (for
    customers without enough ``RECOMMENDED``)."""
    grouped: dict[str, list[Row]] = {customer_id: [] for customer_id in ids}
    for row in await db.run(FALLBACK, {"ids": ids, "limit": limit, "storeId": store_id}):
        grouped[row["customerId"]].append(row)
    return grouped


async def trending(db: Database, limit: int, store_id: str | None) -> list[Row]:
    """The fastest-rising products (the last fallback)."""
    return await db.run(TRENDING, {"limit": limit, "storeId": store_id})


async def context_candidates(db: Database, *, limit: int, product_sku: str | None, session_id: str | None,
                             store_id: str | None) -> list[Row]:
    """Candidates one hop from the context: the product's and the session's affinities, the store's popular."""
    return await db.run(CONTEXT, {"limit": limit, "productSku": product_sku, "sessionId": session_id,
                                  "storeId": store_id})


async def context_store(db: Database, *, store_id: str | None, latitude: float | None, longitude: float | None,
                        radius_km: float) -> Row | None:
    """The context store: the given one if it exists, else the nearest within ``radius_km`` of the location."""
    if store_id is None and (latitude is None or longitude is None):
        return None
    rows = await db.run(CONTEXT_STORE, {"storeId": store_id, "latitude": latitude, "longitude": longitude,
                                        "meters": radius_km * 1000.0})
    return rows[0] if rows else None
