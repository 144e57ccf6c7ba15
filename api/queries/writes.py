"""Writes of the two-way conversation: interaction events, message responses, consent, erasure.

Every write is idempotent where the caller gives a natural key (``eventId``; a response is unique per
message, type and time), so a retried request does not duplicate anything.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from api.db import Database, Row

REFERENCES = """
OPTIONAL MATCH (c:Customer {customerId: $customerId}) WHERE c.erasedAt IS NULL
OPTIONAL MATCH (p:Product {sku: $sku})
OPTIONAL MATCH (cat:Category {categoryId: $categoryId})
OPTIONAL MATCH (st:Store {storeId: $storeId})
OPTIONAL MATCH (o:Order {orderId: $orderId})
OPTIONAL MATCH (e:Event {eventId: $eventId})
OPTIONAL MATCH (v:Visit {visitId: $eventId})
OPTIONAL MATCH (:Identity {identityKey: $identityKey})-[:IDENTIFIES]->(ic:Customer)
RETURN c IS NOT NULL AS customer, p IS NOT NULL AS product, cat IS NOT NULL AS category,
       st IS NOT NULL AS store, o IS NOT NULL AS order, e IS NOT NULL OR v IS NOT NULL AS exists,
       ic.customerId AS identifiedCustomerId
LIMIT 1
"""

TRACK_EVENT = """
MERGE (s:Session {sessionId: $sessionId})
  ON CREATE SET s.channel = $channel, s.startedAt = $at, s.device = $device
SET s.endedAt = CASE WHEN s.endedAt IS NULL OR s.endedAt < $at THEN $at ELSE s.endedAt END
WITH s
CALL (s) {
  MATCH (st:Store {storeId: $storeId})
  MERGE (s)-[:AT_STORE]->(st)
}
CALL (s) {
  MATCH (c:Customer {customerId: $customerId})
  MERGE (c)-[r:HAD_SESSION]->(s) ON CREATE SET r.at = s.startedAt
}
CALL (s) {
  WITH s WHERE $identityKey IS NOT NULL
  MERGE (i:Identity {identityKey: $identityKey})
    ON CREATE SET i.type = $identityType, i.value = $identityValue, i.firstSeen = $at
  SET i.lastSeen = $at
  MERGE (s)-[r:IDENTIFIED_BY]->(i) ON CREATE SET r.at = $at
}
CREATE (e:Event {eventId: $eventId, type: $type, at: $at, page: $page, query: $query,
                 resultsCount: $resultsCount, quantity: $quantity})
CREATE (s)-[:CONTAINS {at: $at}]->(e)
WITH s, e
CALL (s, e) {
  MATCH (s)-[:CONTAINS]->(prev:Event)
  WHERE prev <> e AND prev.at <= e.at AND NOT (prev)-[:NEXT]->()
  WITH prev ORDER BY prev.at DESC, prev.eventId DESC LIMIT 1
  CREATE (prev)-[:NEXT {gapSeconds: duration.inSeconds(prev.at, e.at).seconds}]->(e)
}
CALL (e) {
  MATCH (p:Product {sku: $sku})
  CREATE (e)-[:ABOUT_PRODUCT {at: e.at}]->(p)
}
CALL (e) {
  MATCH (cat:Category {categoryId: $categoryId})
  CREATE (e)-[:ABOUT_CATEGORY {at: e.at}]->(cat)
}
CALL (e) {
  WITH e WHERE $searchText IS NOT NULL
  MERGE (q:SearchQuery {text: $searchText})
  CREATE (e)-[:SEARCHED {at: e.at}]->(q)
}
CALL (e) {
  MATCH (o:Order {orderId: $orderId})
  CREATE (e)-[:PLACED_ORDER {at: e.at}]->(o)
}
RETURN e.eventId AS eventId
"""

CHECK_IN = """
MATCH (c:Customer {customerId: $customerId}), (st:Store {storeId: $storeId})
MERGE (v:Visit {visitId: $eventId})
  ON CREATE SET v.arrivedAt = $at, v.source = 'loyalty_scan'
MERGE (c)-[r:MADE_VISIT]->(v) ON CREATE SET r.at = $at
MERGE (v)-[:TO_STORE]->(st)
RETURN v.visitId AS eventId
"""

RESPONSE_TARGET = """
MATCH (m:Message {messageId: $messageId})-[:SENT_TO]->(c:Customer)
WHERE c.erasedAt IS NULL
RETURN c.customerId AS customerId, m.channel AS channel
"""

RECORD_RESPONSE = """
MATCH (m:Message {messageId: $messageId})-[:SENT_TO]->(c:Customer {customerId: $customerId})
MERGE (c)-[r:RESPONDED {type: $type, at: $at}]->(m)
  ON CREATE SET r.text = $text
WITH c, m, r
CALL (c, m) {
  WITH c, m WHERE $type = 'unsubscribed'
  MERGE (k:Consent {consentId: c.customerId + '|' + m.channel + '|marketing'})
    ON CREATE SET k.channel = m.channel, k.purpose = 'marketing'
  SET k.granted = false, k.updatedAt = $at
  MERGE (c)-[:HAS_CONSENT]->(k)
}
RETURN r.type AS type, r.at AS at, c.customerId AS customerId
"""

SET_CONSENT = """
MATCH (c:Customer {customerId: $customerId})
WHERE c.erasedAt IS NULL
MERGE (k:Consent {consentId: $consentId})
  ON CREATE SET k.channel = $channel, k.purpose = $purpose
SET k.granted = $granted, k.updatedAt = $at
MERGE (c)-[:HAS_CONSENT]->(k)
RETURN k {.channel, .purpose, .granted, .updatedAt} AS consent
"""

ERASE_CUSTOMER = """
MATCH (c:Customer {customerId: $customerId})
WHERE c.erasedAt IS NULL
CALL (c) {
  OPTIONAL MATCH (i:Identity)-[:IDENTIFIES]->(c)
  OPTIONAL MATCH (c)-[:HAD_SESSION]->(:Session)-[:IDENTIFIED_BY]->(j:Identity)
  WITH collect(DISTINCT i) + collect(DISTINCT j) AS found
  UNWIND found AS identity
  WITH DISTINCT identity
  DETACH DELETE identity
  RETURN count(*) AS identities
}
CALL (c) {
  OPTIONAL MATCH (c)-[:HAS_CONSENT]->(k:Consent)
  DETACH DELETE k
  RETURN count(k) AS consents
}
CALL (c) {
  OPTIONAL MATCH (c)-[r:RECOMMENDED|SIMILAR_TO]-()
  DELETE r
  RETURN count(r) AS derived
}
CALL (c) {
  OPTIONAL MATCH (c)-[r:RESPONDED]->()
  SET r.text = null
  RETURN count(r) AS responses
}
SET c.customerId = 'erased-' + randomUUID(), c.name = null, c.emailHash = null, c.homeLocation = null,
    c.city = null, c.erasedAt = datetime(), c.updatedAt = datetime()
RETURN identities, consents, derived
"""


async def references(db: Database, **keys: Any) -> Row:
    """Which of the referenced nodes exist, whether the event exists, and whom an identifier names."""
    params = {name: keys.get(name) for name in
              ("customerId", "sku", "categoryId", "storeId", "orderId", "eventId", "identityKey")}
    rows = await db.run(REFERENCES, params)
    return rows[0]


async def track_event(db: Database, params: dict[str, Any]) -> None:
    """Write one interaction event into its session (created on first use)."""
    await db.run(TRACK_EVENT, params, write=True)


async def check_in(db: Database, *, event_id: str, customer_id: str, store_id: str, at: datetime) -> None:
    """Record a store check-in as a visit."""
    await db.run(CHECK_IN, {"eventId": event_id, "customerId": customer_id, "storeId": store_id, "at": at},
                 write=True)


async def response_target(db: Database, message_id: str) -> Row | None:
    """The customer a message was sent to (None when the message is unknown)."""
    rows = await db.run(RESPONSE_TARGET, {"messageId": message_id})
    return rows[0] if rows else None


async def record_response(db: Database, *, message_id: str, customer_id: str, type_: str, at: datetime,
                          text: str | None) -> Row | None:
    """Record the customer's response to a message (an unsubscribe also withdraws marketing consent)."""
    rows = await db.run(RECORD_RESPONSE, {"messageId": message_id, "customerId": customer_id, "type": type_,
                                          "at": at, "text": text}, write=True)
    return rows[0] if rows else None


async def set_consent(db: Database, *, customer_id: str, consent_id: str, channel: str, purpose: str,
                      granted: bool, at: datetime) -> Row | None:
    """Grant or withdraw consent for one channel and purpose (None when the customer is unknown)."""
    rows = await db.run(SET_CONSENT, {"customerId": customer_id, "consentId": consent_id, "channel": channel,
                                      "purpose": purpose, "granted": granted, "at": at}, write=True)
    return rows[0]["consent"] if rows else None


async def erase_customer(db: Database, customer_id: str) -> Row | None:
    """Right to erasure: personal data and identifiers removed, anonymous history kept (None when unknown)."""
    rows = await db.run(ERASE_CUSTOMER, {"customerId": customer_id}, write=True)
    return rows[0] if rows else None
