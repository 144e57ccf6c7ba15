"""Recommendation candidates: precomputed ``RECOMMENDED`` and ``BUY_AGAIN`` edges, the contract's fallbacks,
and context.

Nothing is computed here that the algorithms precompute: personal candidates are read from
``RECOMMENDED``, fallbacks from ``POPULAR_IN`` / ``POPULAR_AT`` / ``trendRank``, context candidates one
hop from the context product (``AFFINITY``), the session's viewed products (``AFFINITY``) and the store
(``POPULAR_AT``, ``STOCKS``). :mod:`api.blend` combines them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from api.db import Database, Row
from api.queries.projections import CUSTOMER, PRODUCT, current_version
from graph_model.privacy.policy import current_policy, permits_cypher

PERSONALISED = permits_cypher("c", "personalisation")
ANALYSED = permits_cypher("c", "analytics")


def _personal_rows(stock: str) -> str:
    """The subqueries reading a customer's ``RECOMMENDED`` (``recommendations``) and ``BUY_AGAIN``
    (``again``) rows of the current ``recommend`` run, best first, ``stock`` being the stock expression."""
    return f"""
CALL (c, version, personalised) {{
  OPTIONAL MATCH (c)-[r:RECOMMENDED]->(p:Product)
  WHERE personalised AND (version IS NULL OR r.version = version)
  WITH r, p ORDER BY r.rank, r.score DESC LIMIT $limit
  RETURN collect(CASE WHEN p IS NULL THEN null ELSE {{product: {PRODUCT}, score: r.score, rank: r.rank,
                 reason: r.reason, evidence: r.evidence, stock: {stock}}} END) AS recommendations
}}
CALL (c, version, personalised) {{
  OPTIONAL MATCH (c)-[r:BUY_AGAIN]->(p:Product)
  WHERE personalised AND (version IS NULL OR r.version = version)
  WITH r, p ORDER BY r.rank, r.probability DESC LIMIT $limit
  RETURN collect(CASE WHEN p IS NULL THEN null ELSE {{product: {PRODUCT}, score: r.probability, rank: r.rank,
                 reason: r.reason, evidence: ['buy_again'], stock: {stock}}} END) AS again
}}"""


STOCK_AT_STORE = "head([(:Store {storeId: $storeId})-[stock:STOCKS]->(p) | stock.quantity])"

# The customer's live consent decision comes with their RECOMMENDED and BUY_AGAIN edges (the algorithms
# only catch up at their next run): with personalisation withdrawn the edges are not read at all.
PERSONAL = f"""
{current_version('recommend')}
UNWIND $ids AS id
MATCH (c:Customer {{customerId: id}})
WITH c, id, version, {PERSONALISED} AS personalised, {ANALYSED} AS analysed
{_personal_rows(STOCK_AT_STORE)}
RETURN id AS customerId, personalised, analysed, recommendations, again
"""

CUSTOMERS_WITH_PERSONAL = f"""
{current_version('recommend')}
UNWIND $ids AS id
MATCH (c:Customer {{customerId: id}})
WITH c, version, {PERSONALISED} AS personalised, {ANALYSED} AS analysed
{_personal_rows("null")}
RETURN {CUSTOMER} AS customer, personalised, analysed, recommendations, again
"""

FALLBACK = f"""
{current_version('segments', 'segmentsVersion')}
{current_version('trends', 'trendsVersion')}
UNWIND $customers AS who
MATCH (c:Customer {{customerId: who.id}})
WITH c, who.id AS id, who.personalised AS personalised, who.analysed AS analysed, segmentsVersion, trendsVersion
CALL (c, personalised, analysed, segmentsVersion, trendsVersion) {{
  MATCH (c)-[m:IN_SEGMENT]->(g:Segment)-[r:POPULAR_IN]->(p:Product)
  WHERE analysed AND (segmentsVersion IS NULL OR m.version = segmentsVersion)
    AND (trendsVersion IS NULL OR r.version = trendsVersion)
    AND (NOT personalised OR NOT EXISTS {{ (c)-[:PLACED]->(:Order)-[:INCLUDES]->(p) }})
  RETURN p, r.score AS score, 'SEGMENT_POPULAR' AS source, g.name AS about
  ORDER BY r.rank LIMIT $limit
  UNION ALL
  MATCH (c)-[:HOME_STORE]->(s:Store)-[r:POPULAR_AT]->(p:Product)
  WHERE (trendsVersion IS NULL OR r.version = trendsVersion)
    AND (NOT personalised OR NOT EXISTS {{ (c)-[:PLACED]->(:Order)-[:INCLUDES]->(p) }})
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



@dataclass(frozen=True)
class Personal:
    """One customer's live consent decisions and, when personalisation is permitted, their ``RECOMMENDED``
    (``rows``) and ``BUY_AGAIN`` (``again``) rows."""

    personalised: bool
    analysed: bool
    rows: list[Row] = field(default_factory=list)
    again: list[Row] = field(default_factory=list)


NOT_PERMITTED = Personal(personalised=False, analysed=False)


def _personal(row: Row) -> Personal:
    return Personal(bool(row["personalised"]), bool(row["analysed"]), list(row["recommendations"]), list(row["again"]))


async def personal(db: Database, ids: list[str], limit: int, store_id: str | None) -> dict[str, Personal]:
    """Each customer's consent decisions and ``RECOMMENDED`` products of the current run, best first (with
    stock at the store); an unknown customer is :data:`NOT_PERMITTED`."""
    rows = await db.run(PERSONAL, {"ids": ids, "limit": limit, "storeId": store_id, **current_policy().parameters()})
    found = {row["customerId"]: _personal(row) for row in rows}
    return {customer_id: found.get(customer_id, NOT_PERMITTED) for customer_id in ids}


async def customers_with_personal(db: Database, ids: list[str], limit: int) -> dict[str, tuple[Row, Personal]]:
    """Customer rows with their consent decisions and ``RECOMMENDED`` products in one round trip (missing
    customers are absent)."""
    rows = await db.run(CUSTOMERS_WITH_PERSONAL, {"ids": ids, "limit": limit, **current_policy().parameters()})
    return {row["customer"]["customerId"]: (row["customer"], _personal(row)) for row in rows}


async def fallback(db: Database, who: dict[str, Personal], limit: int, store_id: str | None) -> dict[str, list[Row]]:
    """Popular in the customers' segments (only for those whose analytics is permitted) and at their home
    store; for personalised customers, leaving out what each bought (for customers without enough
    ``RECOMMENDED``, or without personalisation)."""
    customers = [{"id": customer_id, "personalised": p.personalised, "analysed": p.analysed}
                 for customer_id, p in who.items()]
    grouped: dict[str, list[Row]] = {customer_id: [] for customer_id in who}
    for row in await db.run(FALLBACK, {"customers": customers, "limit": limit, "storeId": store_id}):
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
