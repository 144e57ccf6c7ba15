"""Customers: lookup by id or identifier, and what hangs one hop off them (batched by customer id)."""

from __future__ import annotations

from api.db import Database, Row
from api.queries.projections import CUSTOMER, SEGMENT, STORE, current_version
from graph_model.privacy.keys import identity_hash
from graph_model.privacy.policy import current_policy, permits_cypher

CUSTOMERS_BY_ID = f"""
UNWIND $ids AS id
MATCH (c:Customer {{customerId: id}})
RETURN {CUSTOMER} AS customer
"""

# an erased identifier names no one, even if a node with its key came back
CUSTOMER_BY_IDENTITY = f"""
MATCH (:Identity {{identityKey: $key}})-[:IDENTIFIES]->(c:Customer)
WHERE NOT EXISTS {{ MATCH (:Tombstone {{hash: $hash}}) }}
RETURN {CUSTOMER} AS customer
LIMIT 1
"""

CUSTOMERS_BY_NAME = f"""
CALL db.index.fulltext.queryNodes('customer_name_text', $query, {{limit: $first}}) YIELD node AS c, score
RETURN {CUSTOMER} AS customer
ORDER BY score DESC, c.customerId
"""

LUCENE_SPECIAL = set('+-&|!(){}[]^"~*?:\\/')
MAX_NAME_WORDS = 5


def name_query(name: str) -> str | None:
    """A Lucene query matching every word of ``name`` as a prefix (at most five words of 40 characters,
    special characters escaped); ``None`` when no word is left.

    >>> name_query("  anne  O'Neil ")
    "anne* AND o'neil*"
    >>> print(name_query('a+b (c)'), name_query('*?'))
    a\\+b* AND \\(c\\)* None
    """
    words = [word.lower()[:40] for word in name.split()][:MAX_NAME_WORDS]
    escaped = ["".join("\\" + ch if ch in LUCENE_SPECIAL else ch for ch in word) for word in words
               if any(ch not in LUCENE_SPECIAL for ch in word)]
    return " AND ".join(word + "*" for word in escaped) or None


CONTACTABLE_BY_CUSTOMER = f"""
UNWIND $ids AS id
MATCH (c:Customer {{customerId: id}})
RETURN id AS customerId, {permits_cypher('c', 'marketing', '$channel')} AS contactable
"""

#: The customer's cookies and device ids (what the collection API knows a visitor by).
ANONYMOUS_IDS = """
MATCH (i:Identity)-[:IDENTIFIES]->(:Customer {customerId: $id})
WHERE i.type IN ['cookie', 'device_id']
RETURN collect(i.value) AS values
"""


# at most $cap per customer (the largest page): a customer may hold thousands of cookies
IDENTITIES_BY_CUSTOMER = """
UNWIND $ids AS id
CALL (id) {
  MATCH (i:Identity)-[r:IDENTIFIES]->(:Customer {customerId: id})
  RETURN i, r ORDER BY i.type, i.value LIMIT $cap
}
RETURN id AS customerId, i {.type, .value, .firstSeen, .lastSeen, linkedAt: r.at} AS identity
ORDER BY customerId, i.type, i.value
"""

CONSENTS_BY_CUSTOMER = """
UNWIND $ids AS id
MATCH (:Customer {customerId: id})-[:HAS_CONSENT]->(k:Consent)
RETURN id AS customerId, k {.channel, .purpose, .granted, .updatedAt} AS consent
ORDER BY k.channel, k.purpose
"""

# segments are a customer-level model: none for a customer who withdrew analytics, from the next request on
SEGMENTS_BY_CUSTOMER = f"""
{current_version('segments')}
UNWIND $ids AS id
MATCH (c:Customer {{customerId: id}})-[m:IN_SEGMENT]->(g:Segment)
WHERE (version IS NULL OR m.version = version) AND {permits_cypher('c', 'analytics')}
RETURN id AS customerId, {SEGMENT} AS segment
ORDER BY g.kind, g.segmentId
"""

HOME_STORE_BY_CUSTOMER = f"""
UNWIND $ids AS id
MATCH (:Customer {{customerId: id}})-[:HOME_STORE]->(s:Store)
RETURN id AS customerId, {STORE} AS store
"""

def _similar_allowed(customer: str) -> str:
    """May ``customer`` have similar shoppers and be one? Not when personalisation or analytics is withdrawn
    (live, from the next read on: the similarity algorithm only catches up at its next run)."""
    return f"({permits_cypher(customer, 'personalisation')} AND {permits_cypher(customer, 'analytics')})"


SIMILAR_BY_CUSTOMER = f"""
{current_version('similarity')}
UNWIND $ids AS id
MATCH (me:Customer {{customerId: id}})
WHERE {_similar_allowed('me')}
CALL (me, version) {{
  MATCH (me)-[r:SIMILAR_TO]->(c:Customer)
  WHERE (version IS NULL OR r.version = version) AND {_similar_allowed('c')}
  RETURN r, c ORDER BY r.rank, r.score DESC LIMIT $first
}}
RETURN id AS customerId, r.score AS score, r.rank AS rank, {CUSTOMER} AS customer
"""

NEARBY_STORES = f"""
MATCH (s:Store)
WHERE point.distance(s.location, point({{latitude: $latitude, longitude: $longitude}})) <= $meters
WITH s, point.distance(s.location, point({{latitude: $latitude, longitude: $longitude}})) AS meters
RETURN {STORE} AS store, meters / 1000.0 AS distanceKm
ORDER BY meters, s.storeId
LIMIT $first
"""

OFFERS_NEAR = f"""
MATCH (o:Offer)
WHERE (o.validFrom IS NULL OR o.validFrom <= datetime()) AND (o.validTo IS NULL OR o.validTo >= datetime())
OPTIONAL MATCH (o)-[:VALID_AT]->(s:Store)
WITH o, s, CASE WHEN s IS NULL THEN null
               ELSE point.distance(s.location, point({{latitude: $latitude, longitude: $longitude}})) END AS meters
WHERE s IS NULL OR meters <= $meters
RETURN o {{.offerId, .description, .discountPct, .validFrom, .validTo}} AS offer,
       CASE WHEN s IS NULL THEN null ELSE {STORE} END AS store, meters / 1000.0 AS distanceKm
ORDER BY meters IS NULL, meters, o.discountPct DESC, o.offerId
LIMIT $first
"""


async def customers_by_ids(db: Database, ids: list[str]) -> dict[str, Row]:
    """Customer rows by id (missing ids are absent)."""
    rows = await db.run(CUSTOMERS_BY_ID, {"ids": ids})
    return {row["customer"]["customerId"]: row["customer"] for row in rows}


async def customer_by_identity(db: Database, identity_key: str) -> Row | None:
    """The customer an identifier (``type:value``) resolves to, if any."""
    rows = await db.run(CUSTOMER_BY_IDENTITY, {"key": identity_key, "hash": identity_hash(identity_key)})
    return rows[0]["customer"] if rows else None


async def customers_by_name(db: Database, query: str, first: int) -> list[Row]:
    """Customers whose name matches the Lucene ``query`` (:func:`name_query`), best match first."""
    return [row["customer"] for row in await db.run(CUSTOMERS_BY_NAME, {"query": query, "first": first})]


async def _grouped(db: Database, query: str, ids: list[str], column: str, **params: object) -> dict[str, list[Row]]:
    grouped: dict[str, list[Row]] = {customer_id: [] for customer_id in ids}
    for row in await db.run(query, {"ids": ids, **params}):
        grouped[row["customerId"]].append(row[column] if column else row)
    return grouped


async def identities_by_customer(db: Database, ids: list[str], cap: int) -> dict[str, list[Row]]:
    """Each customer's identifiers, at most ``cap`` (by type and value)."""
    return await _grouped(db, IDENTITIES_BY_CUSTOMER, ids, "identity", cap=cap)


async def consents_by_customer(db: Database, ids: list[str]) -> dict[str, list[Row]]:
    """Each customer's consents."""
    return await _grouped(db, CONSENTS_BY_CUSTOMER, ids, "consent")


async def segments_by_customer(db: Database, ids: list[str]) -> dict[str, list[Row]]:
    """Each customer's segments of the current segmentation run (none without analytics consent)."""
    return await _grouped(db, SEGMENTS_BY_CUSTOMER, ids, "segment", **current_policy().parameters())


async def home_stores(db: Database, ids: list[str]) -> dict[str, Row]:
    """Each customer's home store (missing when none)."""
    return {row["customerId"]: row["store"] for row in await db.run(HOME_STORE_BY_CUSTOMER, {"ids": ids})}


async def similar_shoppers(db: Database, ids: list[str], first: int) -> dict[str, list[Row]]:
    """Each customer's most similar shoppers (current similarity run), best first."""
    return await _grouped(db, SIMILAR_BY_CUSTOMER, ids, "", first=first, **current_policy().parameters())


async def contactable(db: Database, ids: list[str], channel: str) -> dict[str, bool]:
    """Whether the policy permits marketing to each customer on ``channel`` (unknown customers are absent)."""
    rows = await db.run(CONTACTABLE_BY_CUSTOMER, {"ids": ids, "channel": channel, **current_policy().parameters()})
    return {row["customerId"]: bool(row["contactable"]) for row in rows}


async def nearby_stores(db: Database, latitude: float, longitude: float, radius_km: float, first: int) -> list[Row]:
    """Stores within ``radius_km`` of a point, nearest first."""
    return await db.run(NEARBY_STORES, {"latitude": latitude, "longitude": longitude,
                                        "meters": radius_km * 1000.0, "first": first})


async def offers_near(db: Database, latitude: float, longitude: float, radius_km: float, first: int) -> list[Row]:
    """Offers valid now, either at any store or at a store within ``radius_km``; nearest store first."""
    return await db.run(OFFERS_NEAR, {"latitude": latitude, "longitude": longitude,
                                      "meters": radius_km * 1000.0, "first": first})
