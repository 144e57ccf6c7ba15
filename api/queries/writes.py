"""Writes of the two-way conversation: the references of an event, message responses, consent (the events
themselves: :mod:`api.queries.tracking`).

Responses go through the loaders' writer (:data:`loaders.writers.conversation.RESPONSES`); consent through the
one consent writer, :data:`graph_model.privacy.consent.WRITE_CONSENTS`, with an audit entry in the same
transaction; erasure is :func:`graph_model.privacy.erasure.erase_customer`'s alone.

Every write is idempotent where the caller gives a key: events and check-ins on ``eventId``
(:mod:`api.queries.tracking`), responses on ``idempotencyKey`` (and unique per message, type and time);
a retry replays the first answer, the same key with other content is ``CONFLICT``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import neo4j

from api.db import Database, Row
from api.db import rows as tx_rows
from api.errors import Conflict
from graph_model.model import CONSENT_CHANNELS
from graph_model.privacy.audit import RECORD_ENTRIES, audit_entry
from graph_model.privacy.consent import WRITE_CONSENTS, consent_detail, consent_row, stored_record
from graph_model.privacy.keys import customer_hash, identity_hash, session_hash
from loaders.writers.conversation import RESPONSES

REFERENCES = """
OPTIONAL MATCH (c:Customer {customerId: $customerId}) WHERE c.erasedAt IS NULL  // re-keyed by an older erasure
OPTIONAL MATCH (p:Product {sku: $sku})
OPTIONAL MATCH (cat:Category {categoryId: $categoryId})
OPTIONAL MATCH (st:Store {storeId: $storeId})
OPTIONAL MATCH (o:Order {orderId: $orderId})
OPTIONAL MATCH (:Identity {identityKey: $identityKey})-[:IDENTIFIES]->(ic:Customer)
RETURN c IS NOT NULL AS customer, EXISTS { MATCH (t:Tombstone) WHERE t.hash IN $erasedHashes } AS erased, p IS NOT NULL AS product, cat IS NOT NULL AS category,
       st IS NOT NULL AS store, o IS NOT NULL AS order,
       ic.customerId AS identifiedCustomerId,
       EXISTS { MATCH (t:Tombstone) WHERE t.hash IN $sessionHashes } AS sessionErased
LIMIT 1
"""

RESPONSE_TARGET = """
MATCH (m:Message {messageId: $messageId})-[:SENT_TO]->(c:Customer)
WHERE c.erasedAt IS NULL  // re-keyed by an older erasure
RETURN c.customerId AS customerId, m.channel AS channel
"""

# Responses of one message take turns (the lock), so a key is looked up before anyone else can write it.
LOCK_MESSAGE = """
MATCH (m:Message {messageId: $messageId})
SET m.writeLock = true
REMOVE m.writeLock
"""

RESPONSE_BY_KEY = """
MATCH (c:Customer)-[r:RESPONDED {idempotencyKey: $idempotencyKey}]->(m:Message)
RETURN m.messageId AS messageId, c.customerId AS customerId, r.type AS type, r.at AS at, r.text AS text
LIMIT 1
"""


async def references(db: Database, **keys: Any) -> Row:
    """Which of the referenced nodes exist, whom an identifier names, and whether
    the customer id or the identifier was erased (``erased``: by their tombstones' keyed hashes), or the
    session was an erased person's (``sessionErased``: the loaders refuse its events too)."""
    params = {name: keys.get(name) for name in
              ("customerId", "sku", "categoryId", "storeId", "orderId", "identityKey")}
    hashes = [customer_hash(params["customerId"])] if params["customerId"] else []
    hashes += [identity_hash(params["identityKey"])] if params["identityKey"] else []
    sessions = [session_hash(keys["sessionId"])] if keys.get("sessionId") else []
    rows = await db.run(REFERENCES, {**params, "erasedHashes": hashes, "sessionHashes": sessions})
    return rows[0]


async def response_target(db: Database, message_id: str) -> Row | None:
    """The customer a message was sent to (None when the message is unknown)."""
    rows = await db.run(RESPONSE_TARGET, {"messageId": message_id})
    return rows[0] if rows else None


async def _write_consent(tx: neo4j.AsyncManagedTransaction, row: dict[str, Any], actor: str) -> Row | None:
    """The one consent writer, then the audit entry, in the caller's transaction; the stored record."""
    results = (await tx_rows(tx, WRITE_CONSENTS, {"rows": [row]}))[0]["results"]
    if not results:
        return None
    entry = audit_entry(actor, "consent", row["customerId"], consent_detail(row, results[0]["applied"]))
    await tx_rows(tx, RECORD_ENTRIES, {"entries": [entry]})
    return stored_record(row, results[0])


def _replay(stored: Row, wanted: dict[str, Any], *, at_given: bool) -> Row:
    """The first answer of an idempotency key, or :class:`Conflict` when the request says something else."""
    fields = [name for name in ("messageId", "type", "text") if stored[name] != wanted[name]]
    if at_given and stored["at"] != wanted["at"]:
        fields.append("at")
    if fields:
        raise Conflict(f"idempotencyKey was used before with other content ({', '.join(fields)}).",
                       argument="idempotencyKey", fields=fields)
    return {"type": stored["type"], "at": stored["at"], "customerId": stored["customerId"], "replayed": True}


async def record_response(db: Database, *, message_id: str, customer_id: str, channel: str, type_: str,
                          at: datetime, text: str | None, actor: str, idempotency_key: str | None = None,
                          at_given: bool = True) -> Row | None:
    """Record the customer's response to a message; an unsubscribe also withdraws marketing on the
    message's channel through the one consent writer (ordered by ``at``: a late one never moves the record
    back), audited, in the same transaction.

    With an ``idempotency_key`` (stored on the ``RESPONDED`` relationship, so erasure removes it with the
    response) a key seen before replays its first answer (``replayed``) and writes nothing; the same key
    with another message, type, text (or time, when given) is :class:`Conflict`.
    """
    params = {"messageId": message_id, "customerId": customer_id, "type": type_, "at": at, "text": text,
              "idempotencyKey": idempotency_key}

    async def work(tx: neo4j.AsyncManagedTransaction) -> Row | None:
        if idempotency_key is not None:
            await tx_rows(tx, LOCK_MESSAGE, params)
            stored = await tx_rows(tx, RESPONSE_BY_KEY, params)
            if stored:
                return _replay(stored[0], params, at_given=at_given)
        found = await tx_rows(tx, RESPONSES, {"rows": [params]})  # the loaders' writer
        if found and type_ == "unsubscribed" and channel in CONSENT_CHANNELS:
            await _write_consent(tx, consent_row(customer_id, channel, "marketing", False, at), actor)
        return {**found[0], "replayed": False} if found else None

    return await db.write_transaction(work)


async def set_consent(db: Database, *, customer_id: str, channel: str, purpose: str, granted: bool,
                      at: datetime, actor: str) -> Row | None:
    """Grant or withdraw consent for one channel and purpose through the one consent writer, audited (None
    when the customer is unknown)."""
    row = consent_row(customer_id, channel, purpose, granted, at)
    return await db.write_transaction(lambda tx: _write_consent(tx, row, actor))
