"""A customer's engagement timeline: sessions, orders, store visits, messages and responses in one order.

Entries are ordered newest first by ``(at, key)`` where ``key = kind:id`` is unique, so keyset
pagination on that pair never skips or repeats an entry, even while new entries arrive. Rows carry
``at`` as microseconds since the epoch (``atMicros``, cheap to decode, unlike a driver DateTime) and as
Neo4j prints it (``atText``, nanoseconds included, for cursors).
"""

from __future__ import annotations

from datetime import datetime

from api.db import Database, Row
from api.queries.projections import CUSTOMER, PRODUCT
from graph_model.privacy.policy import current_policy, permits_cypher

ENTRY_KINDS = ("SESSION", "ORDER", "VISIT", "MESSAGE", "RESPONSE")

# visits found from a phone's location only while the customer permits location (docs/privacy.md): a withdrawal
# hides those already stored from the next read (until stop 38 they were served on)
TIMELINE_PAGE = """
CALL (c) {
  MATCH (c)-[:HAD_SESSION]->(n:Session)
  WHERE 'SESSION' IN $kinds
  RETURN 'SESSION' AS kind, n.sessionId AS id, n.startedAt AS at, n.channel AS channel, n, null AS r
  UNION ALL
  MATCH (c)-[:PLACED]->(n:Order)
  WHERE 'ORDER' IN $kinds
  RETURN 'ORDER' AS kind, n.orderId AS id, n.placedAt AS at, n.channel AS channel, n, null AS r
  UNION ALL
  MATCH (c)-[:MADE_VISIT]->(n:Visit)
  WHERE 'VISIT' IN $kinds AND (n.source IS NULL OR n.source <> 'location_ping' OR """ + permits_cypher("c", "location") + """)
  RETURN 'VISIT' AS kind, n.visitId AS id, n.arrivedAt AS at, 'store' AS channel, n, null AS r
  UNION ALL
  MATCH (n:Message)-[:SENT_TO]->(c)
  WHERE 'MESSAGE' IN $kinds
  RETURN 'MESSAGE' AS kind, n.messageId AS id, n.sentAt AS at, n.channel AS channel, n, null AS r
  UNION ALL
  MATCH (c)-[r:RESPONDED]->(n:Message)
  WHERE 'RESPONSE' IN $kinds
  RETURN 'RESPONSE' AS kind, n.messageId + '|' + r.type + '|' + toString(r.at) AS id, r.at AS at,
         n.channel AS channel, n, r
}
WITH kind, id, at, channel, n, r, kind + ':' + id AS key
WHERE at IS NOT NULL
  AND ($channels IS NULL OR channel IN $channels)
  AND ($from IS NULL OR at >= $from) AND ($to IS NULL OR at < $to)
  AND ($afterAt IS NULL OR at < datetime($afterAt) OR (at = datetime($afterAt) AND key < $afterKey))
WITH kind, id, at, channel, n, r, key
ORDER BY at DESC, key DESC
LIMIT $limit
RETURN kind, id, at.epochSeconds * 1000000 + at.microsecond AS atMicros, toString(at) AS atText, channel, key,
  CASE kind
  WHEN 'SESSION' THEN n {.device, .endedAt, storeId: [(n)-[:AT_STORE]->(st:Store) | st.storeId][0]}
  WHEN 'ORDER' THEN n {.total, .currency, .cancelled, storeId: [(n)-[:AT_STORE]->(st:Store) | st.storeId][0]}
  WHEN 'VISIT' THEN n {.dwellMinutes, .source, .zones, storeId: [(n)-[:TO_STORE]->(st:Store) | st.storeId][0]}
  WHEN 'MESSAGE' THEN n {.subject, campaign: [(n)-[:PART_OF]->(cp:Campaign) | cp.name][0],
                         offerId: [(n)-[:CARRIES]->(o:Offer) | o.offerId][0]}
  ELSE {type: r.type, text: r.text, messageId: n.messageId} END AS item
"""

# the page is cut before anything is looked up around its entries (stores, campaigns, offers)
TIMELINE = f"""
UNWIND $ids AS customerId
MATCH (c:Customer {{customerId: customerId}})
CALL (c) {{
{TIMELINE_PAGE}
}}
RETURN customerId, kind, id, atMicros, atText, channel, item, key
"""

CUSTOMERS_WITH_TIMELINE = f"""
UNWIND $ids AS customerId
MATCH (c:Customer {{customerId: customerId}})
CALL (c) {{
  CALL (c) {{
{TIMELINE_PAGE}
  }}
  RETURN collect({{kind: kind, id: id, atMicros: atMicros, atText: atText, channel: channel, item: item,
                  key: key}}) AS entries
}}
RETURN {CUSTOMER} AS customer, entries
"""

EVENTS_BY_SESSION = f"""
UNWIND $ids AS id
MATCH (:Session {{sessionId: id}})-[:CONTAINS]->(e:Event)
OPTIONAL MATCH (e)-[:ABOUT_PRODUCT]->(p:Product)
OPTIONAL MATCH (e)-[:ABOUT_CATEGORY]->(cat:Category)
OPTIONAL MATCH (e)-[:PLACED_ORDER]->(o:Order)
WITH id, e, p, cat, o ORDER BY e.at, e.eventId
WITH id, collect({{event: e {{.eventId, .type, .at, .page, .query, .resultsCount, .quantity}},
                  product: CASE WHEN p IS NULL THEN null ELSE {PRODUCT} END,
                  categoryId: cat.categoryId, orderId: o.orderId}})[..$first] AS events
RETURN id AS sessionId, events
"""

# at most $cap lines per order (the largest page): a wholesale order may have a thousand
LINES_BY_ORDER = f"""
UNWIND $ids AS id
CALL (id) {{
  MATCH (:Order {{orderId: id}})-[l:INCLUDES]->(p:Product)
  RETURN l, p ORDER BY l.line LIMIT $cap
}}
RETURN id AS orderId, l {{.line, .quantity, .unitPrice}} AS line, {PRODUCT} AS product
ORDER BY orderId, l.line
"""


async def timelines(db: Database, ids: list[str], limit: int, kinds: tuple[str, ...],
                    channels: tuple[str, ...] | None, start: datetime | None, end: datetime | None,
                    after: tuple[str, str] | None) -> dict[str, list[Row]]:
    """For each customer, up to ``limit`` entries after the cursor position ``(at as Neo4j prints it, key)``,
    newest first; one round trip for the whole batch."""
    grouped: dict[str, list[Row]] = {customer_id: [] for customer_id in ids}
    for row in await db.run(TIMELINE, {
        **current_policy().parameters(), "ids": ids, "kinds": list(kinds), "channels": list(channels) if channels else None, "from": start,
        "to": end, "limit": limit, "afterAt": after[0] if after else None, "afterKey": after[1] if after else None,
    }):
        grouped[row["customerId"]].append(row)
    return grouped


async def customers_with_timeline(db: Database, ids: list[str], limit: int,
                                  after: tuple[str, str] | None) -> dict[str, tuple[Row, list[Row]]]:
    """Customer rows with the first ``limit`` entries of their unfiltered timeline, in one round trip."""
    rows = await db.run(CUSTOMERS_WITH_TIMELINE, {
        **current_policy().parameters(), "ids": ids, "kinds": list(ENTRY_KINDS), "channels": None, "from": None, "to": None, "limit": limit,
        "afterAt": after[0] if after else None, "afterKey": after[1] if after else None,
    })
    return {row["customer"]["customerId"]: (row["customer"], row["entries"]) for row in rows}


async def events_by_session(db: Database, ids: list[str], first: int) -> dict[str, list[Row]]:
    """Each session's events in order (at most ``first``), with the product they were about."""
    found = {row["sessionId"]: row["events"] for row in await db.run(EVENTS_BY_SESSION, {"ids": ids, "first": first})}
    return {session_id: found.get(session_id, []) for session_id in ids}


async def lines_by_order(db: Database, ids: list[str], cap: int) -> dict[str, list[Row]]:
    """Each order's line items with their products, the first ``cap`` by line number."""
    grouped: dict[str, list[Row]] = {order_id: [] for order_id in ids}
    for row in await db.run(LINES_BY_ORDER, {"ids": ids, "cap": cap}):
        grouped[row["orderId"]].append(row)
    return grouped
