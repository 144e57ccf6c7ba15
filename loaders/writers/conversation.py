"""Writing campaigns, offers, messages sent and the customers' responses.

An ``unsubscribed`` response withdraws marketing consent on the message's channel, in the response's
transaction, through the one consent writer (:mod:`graph_model.privacy.consent`) at the response's time:
a late ``unsubscribed`` never moves a newer consent back, an old grant replayed later never re-grants.
"""

from __future__ import annotations

from typing import Any

from neo4j import ManagedTransaction

from graph_model.model.customers import CONSENT_CHANNELS
from graph_model.privacy.consent import consent_row, write_consents
from loaders.writers import statement_writer

CAMPAIGNS = """
UNWIND $rows AS r
MERGE (c:Campaign {campaignId: r.campaignId})
SET c.name = r.name, c += r.props
"""

OFFERS = """
UNWIND $rows AS r
MERGE (o:Offer {offerId: r.offerId})
SET o.description = r.description, o += r.props
WITH o, r
CALL (o, r) {
  WITH o, r WHERE r.campaignId IS NOT NULL
  MATCH (c:Campaign {campaignId: r.campaignId})
  MERGE (c)-[:HAS_OFFER]->(o)
}
CALL (o, r) {
  UNWIND r.skus AS sku
  MATCH (p:Product {sku: sku})
  MERGE (o)-[:FOR_PRODUCT]->(p)
}
CALL (o, r) {
  UNWIND r.categoryIds AS categoryId
  MATCH (c:Category {categoryId: categoryId})
  MERGE (o)-[:FOR_CATEGORY]->(c)
}
CALL (o, r) {
  WITH o, r WHERE r.storeId IS NOT NULL
  MATCH (s:Store {storeId: r.storeId})
  MERGE (o)-[:VALID_AT]->(s)
}
"""

MESSAGES = """
UNWIND $rows AS r
MATCH (c:Customer {customerId: r.customerId})
MERGE (m:Message {messageId: r.messageId})
SET m.channel = r.channel, m.sentAt = r.sentAt, m += r.props
MERGE (m)-[s:SENT_TO]->(c)
SET s.at = r.sentAt
WITH m, r
OPTIONAL MATCH (campaign:Campaign {campaignId: r.campaignId})
FOREACH (_ IN CASE WHEN campaign IS NULL THEN [] ELSE [1] END | MERGE (m)-[:PART_OF]->(campaign))
WITH m, r
OPTIONAL MATCH (offer:Offer {offerId: r.offerId})
FOREACH (_ IN CASE WHEN offer IS NULL THEN [] ELSE [1] END | MERGE (m)-[:CARRIES]->(offer))
"""

# A response is keyed by (customer, message, type, at). Not ``MERGE (c)-[:RESPONDED {type, at}]->(m)``, nor a
# pattern with a predicate on ``type``: with the index on RESPONDED.type the planner may seek every response of
# that type for every row. Expanding the (few) responses between the two nodes, then filtering, is cheap.
RESPONSES = """
UNWIND $rows AS r
MATCH (c:Customer {customerId: r.customerId})
MATCH (m:Message {messageId: r.messageId})
WITH c, m, r, [x IN [(c)-[y:RESPONDED]->(m) | y] WHERE x.type = r.type AND x.at = r.at] AS existing
FOREACH (x IN existing | SET x.text = r.text, x.idempotencyKey = coalesce(x.idempotencyKey, r.idempotencyKey))
FOREACH (_ IN CASE WHEN size(existing) = 0 THEN [1] ELSE [] END |
  CREATE (c)-[:RESPONDED {type: r.type, at: r.at, text: r.text, idempotencyKey: r.idempotencyKey}]->(m))
RETURN r.type AS type, r.at AS at, c.customerId AS customerId
"""
"""The one writer of responses (the loaders and the API's ``recordResponse``): one ``RESPONDED`` per customer,
message, type and time, its text the latest given; ``idempotencyKey`` (the API's, optional) kept from the
first write that gave one."""

MESSAGE_CHANNELS = """
UNWIND $messageIds AS messageId
MATCH (m:Message {messageId: messageId})
RETURN collect([messageId, m.channel]) AS channels
"""
"""The channel of each unsubscribed message, as one record of (message id, channel) pairs."""

write_campaigns = statement_writer(CAMPAIGNS, "write_campaigns")
write_offers = statement_writer(OFFERS, "write_offers")
write_messages = statement_writer(MESSAGES, "write_messages")
_write_responses = statement_writer(RESPONSES, "write_responses")


def write_responses(tx: ManagedTransaction, rows: list[dict[str, Any]]) -> None:
    """Write responses; a response repeated within the batch is written once (the last row wins).

    ``unsubscribed`` responses withdraw marketing consent on their message's channel, in the same transaction.
    """
    unique = {(r["customerId"], r["messageId"], r["type"], r["at"]): r for r in rows}
    _write_responses(tx, list(unique.values()))
    unsubscribed = [r for r in unique.values() if r["type"] == "unsubscribed"]
    if not unsubscribed:
        return
    channels = dict(tx.run(MESSAGE_CHANNELS, messageIds=sorted({r["messageId"] for r in unsubscribed}))
                    .single(strict=True)["channels"])
    withdrawals = unsubscribe_withdrawals(unsubscribed, channels)
    if withdrawals:
        write_consents(tx, withdrawals, actor="loader")


def unsubscribe_withdrawals(responses: list[dict[str, Any]], channels: dict[str, str]) -> list[dict[str, Any]]:
    """The consent changes (:func:`graph_model.privacy.consent.consent_row`) of ``unsubscribed`` responses, in
    time order: marketing withdrawn on the channel of the message (``channels``: message id -> channel) at
    the response's time; a message on a channel without consent records withdraws nothing.

    >>> from datetime import UTC, datetime
    >>> at = datetime(2026, 1, 1, tzinfo=UTC)
    >>> rows = [{"customerId": "C1", "messageId": "M1", "type": "unsubscribed", "at": at}]
    >>> [(r["consentId"], r["granted"]) for r in unsubscribe_withdrawals(rows, {"M1": "email"})]
    [('C1|email|marketing', False)]
    """
    return [consent_row(r["customerId"], channels[r["messageId"]], "marketing", False, r["at"])
            for r in sorted(responses, key=lambda r: r["at"])
            if r["type"] == "unsubscribed" and channels.get(r["messageId"]) in CONSENT_CHANNELS]
