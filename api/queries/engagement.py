"""A customer's engagement timeline: sessions, orders, store visits, messages and responses in one order.

Entries are ordered newest first by ``(at, key)`` where ``key = kind:id`` is unique, so keyset
pagination on that pair never skips or repeats an entry, even while new entries arrive.
"""

from __future__ import annotations

from datetime import datetime

from api.db import Database, Row
from api.queries.projections import PRODUCT

ENTRY_KINDS = ("SESSION", "ORDER", "VISIT", "MESSAGE", "RESPONSE")

TIMELINE = """
UNWIND $ids AS customerId
MATCH (c:Customer {customerId: customerId})
CALL (c) {
  CALL (c) {
    MATCH (c)-[:HAD_SESSION]->(s:Session)
    WHERE 'SESSION' IN $kinds
    OPTIONAL MATCH (s)-[:AT_STORE]->(st:Store)
    RETURN 'SESSION' AS kind, s.sessionId AS id, s.startedAt AS at, s.channel AS channel,
           s {.sessionId, .channel, .device, .startedAt, .endedAt, storeId: st.storeId} AS item
    UNION ALL
    MATCH (c)-[:PLACED]->(o:Order)
    WHERE 'ORDER' IN $kinds
    OPTIONAL MATCH (o)-[:AT_STORE]->(st:Store)
    RETURN 'ORDER' AS kind, o.orderId AS id, o.placedAt AS at, o.channel AS channel,
           o {.orderId, .channel, .placedAt, .total, .currency, .cancelled, storeId: st.storeId} AS item
    UNION ALL
    MATCH (c)-[:MADE_VISIT]->(v:Visit)
    WHERE 'VISIT' IN $kinds
    OPTIONAL MATCH (v)-[:TO_STORE]->(st:Store)
    RETURN 'VISIT' AS kind, v.visitId AS id, v.arrivedAt AS at, 'store' AS channel,
           v {.visitId, .arrivedAt, .dwellMinutes, .source, .zones, storeId: st.storeId} AS item
    UNION ALL
    MATCH (m:Message)-[:SENT_TO]->(c)
    WHERE 'MESSAGE' IN $kinds
    OPTIONAL MATCH (m)-[:PART_OF]->(cp:Campaign)
    OPTIONAL MATCH (m)-[:CARRIES]->(o:Offer)
    RETURN 'MESSAGE' AS kind, m.messageId AS id, m.sentAt AS at, m.channel AS channel,
           m {.messageId, .channel, .sentAt, .subject, campaign: cp.name, offerId: o.offerId} AS item
    UNION ALL
    MATCH (c)-[r:RESPONDED]->(m:Message)
    WHERE 'RESPONSE' IN $kinds
    RETURN 'RESPONSE' AS kind, m.messageId + '|' + r.type + '|' + toString(r.at) AS id, r.at AS at,
           m.channel AS channel, {type: r.type, at: r.at, text: r.text, messageId: m.messageId} AS item
  }
  WITH kind, id, at, channel, item, kind + ':' + id AS key
  WHERE at IS NOT NULL
    AND ($channels IS NULL OR channel IN $channels)
    AND ($from IS NULL OR at >= $from) AND ($to IS NULL OR at < $to)
    AND ($afterAt IS NULL OR at < datetime($afterAt) OR (at = datetime($afterAt) AND key < $afterKey))
  RETURN kind, id, at, toString(at) AS atText, channel, item, key
  ORDER BY at DESC, key DESC
  LIMIT $limit
}
RETURN customerId, kind, id, at, atText, channel, item, key
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

LINES_BY_ORDER = f"""
UNWIND $ids AS id
MATCH (:Order {{orderId: id}})-[l:INCLUDES]->(p:Product)
RETURN id AS orderId, l {{.line, .quantity, .unitPrice}} AS line, {PRODUCT} AS product
ORDER BY l.line
"""


async def timelines(db: Database, ids: list[str], limit: int, kinds: tuple[str, ...],
                    channels: tuple[str, ...] | None, start: datetime | None, end: datetime | None,
                    after: tuple[str, str] | None) -> dict[str, list[Row]]:
    """For each customer, up to ``limit`` entries after the cursor position ``(at as Neo4j prints it, key)``,
    newest first; one round trip for the whole batch."""
    grouped: dict[str, list[Row]] = {customer_id: [] for customer_id in ids}
    for row in await db.run(TIMELINE, {
        "ids": ids, "kinds": list(kinds), "channels": list(channels) if channels else None, "from": start,
        "to": end, "limit": limit, "afterAt": after[0] if after else None, "afterKey": after[1] if after else None,
    }):
        grouped[row["customerId"]].append(row)
    return grouped


async def events_by_session(db: Database, ids: list[str], first: int) -> dict[str, list[Row]]:
    """Each session's events in order (at most ``first``), with the product they were about."""
    found = {row["sessionId"]: row["events"] for row in await db.run(EVENTS_BY_SESSION, {"ids": ids, "first": first})}
    return {session_id: found.get(session_id, []) for session_id in ids}


async def lines_by_order(db: Database, ids: list[str]) -> dict[str, list[Row]]:
    """Each order's line items with their products."""
    grouped: dict[str, list[Row]] = {order_id: [] for order_id in ids}
    for row in await db.run(LINES_BY_ORDER, {"ids": ids}):
        grouped[row["orderId"]].append(row)
    return grouped
