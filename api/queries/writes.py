"""Writes of the two-way conversation: interaction events, message responses, consent.

Consent goes through the one writer, :data:`graph_model.privacy.consent.WRITE_CONSENTS`, with an audit
entry in the same transaction; erasure is :func:`graph_model.privacy.erasure.erase_customer`'s alone.

Every write is idempotent where the caller gives a natural key (``eventId``; a response is unique per
message, type and time), so a retried request does not duplicate anything.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import neo4j

from api.db import Database, Row
from api.db import rows as tx_rows
from graph_model.model import CONSENT_CHANNELS
from graph_model.privacy.audit import RECORD_ENTRIES, audit_entry
from graph_model.privacy.consent import WRITE_CONSENTS, consent_detail, consent_row
from graph_model.privacy.keys import customer_hash, identity_hash

REFERENCES = """
OPTIONAL MATCH (c:Customer {customerId: $customerId}) WHERE c.erasedAt IS NULL  // re-keyed by an older erasure
OPTIONAL MATCH (p:Product {sku: $sku})
OPTIONAL MATCH (cat:Category {categoryId: $categoryId})
OPTIONAL MATCH (st:Store {storeId: $storeId})
OPTIONAL MATCH (o:Order {orderId: $orderId})
OPTIONAL MATCH (e:Event {eventId: $eventId})
OPTIONAL MATCH (v:Visit {visitId: $eventId})
OPTIONAL MATCH (:Identity {identityKey: $identityKey})-[:IDENTIFIES]->(ic:Customer)
RETURN c IS NOT NULL AS customer, EXISTS { MATCH (t:Tombstone) WHERE t.hash IN $erasedHashes } AS erased, p IS NOT NULL AS product, cat IS NOT NULL AS category,
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
WHERE c.erasedAt IS NULL  // re-keyed by an older erasure
RETURN c.customerId AS customerId, m.channel AS channel
"""

RECORD_RESPONSE = """
MATCH (m:Message {messageId: $messageId})-[:SENT_TO]->(c:Customer {customerId: $customerId})
MERGE (c)-[r:RESPONDED {type: $type, at: $at}]->(m)
  ON CREATE SET r.text = $text
RETURN r.type AS type, r.at AS at, c.customerId AS customerId
"""


async def references(db: Database, **keys: Any) -> Row:
    """Which of the referenced nodes exist, whether the event exists, whom an identifier names, and whether
    the customer id or the identifier was erased (``erased``: by their tombstones' keyed hashes)."""
    params = {name: keys.get(name) for name in
              ("customerId", "sku", "categoryId", "storeId", "orderId", "eventId", "identityKey")}
    hashes = [customer_hash(params["customerId"])] if params["customerId"] else []
    hashes += [identity_hash(params["identityKey"])] if params["identityKey"] else []
    rows = await db.run(REFERENCES, {**params, "erasedHashes": hashes})
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


async def _write_consent(tx: neo4j.AsyncManagedTransaction, row: dict[str, Any], actor: str) -> Row | None:
    """The one consent writer, then the audit entry, in the caller's transaction; the stored record."""
    stored = await tx_rows(tx, WRITE_CONSENTS, {"rows": [row]})
    if not stored:
        return None
    consent = stored[0]["consent"]
    entry = audit_entry(actor, "consent", row["customerId"], consent_detail(row, consent))
    await tx_rows(tx, RECORD_ENTRIES, {"entries": [entry]})
    return consent


async def record_response(db: Database, *, message_id: str, customer_id: str, channel: str, type_: str,
                          at: datetime, text: str | None, actor: str) -> Row | None:
    """Record the customer's response to a message; an unsubscribe also withdraws marketing on the
    message's channel through the one consent writer (ordered by ``at``: a late one never moves the record
    back), audited, in the same transaction."""
    async def work(tx: neo4j.AsyncManagedTransaction) -> Row | None:
        found = await tx_rows(tx, RECORD_RESPONSE, {"messageId": message_id, "customerId": customer_id,
                                                 "type": type_, "at": at, "text": text})
        if found and type_ == "unsubscribed" and channel in CONSENT_CHANNELS:
            await _write_consent(tx, consent_row(customer_id, channel, "marketing", False, at), actor)
        return found[0] if found else None

    return await db.write_transaction(work)


async def set_consent(db: Database, *, customer_id: str, channel: str, purpose: str, granted: bool,
                      at: datetime, actor: str) -> Row | None:
    """Grant or withdraw consent for one channel and purpose through the one consent writer, audited (None
    when the customer is unknown)."""
    row = consent_row(customer_id, channel, purpose, granted, at)
    return await db.write_transaction(lambda tx: _write_consent(tx, row, actor))
