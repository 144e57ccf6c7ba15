"""The one writer of consent records, used by the loaders, the API and responses that unsubscribe.

A record is keyed by ``(customer, channel, purpose)``. Changes are ordered by their own time: a change
older than the stored one is ignored (an ``unsubscribed`` that arrives late never re-grants, and an old
grant replayed by a nightly file never undoes a newer withdrawal). At equal times the later write wins.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from neo4j import ManagedTransaction

from graph_model.model.customers import consent_key

WRITE_CONSENTS = """
UNWIND $rows AS r
MATCH (c:Customer {customerId: r.customerId})
MERGE (k:Consent {consentId: r.consentId})
  ON CREATE SET k.channel = r.channel, k.purpose = r.purpose, k.granted = r.granted, k.updatedAt = r.updatedAt
WITH c, k, r, r.updatedAt >= k.updatedAt AS newer
SET k.granted = CASE WHEN newer THEN r.granted ELSE k.granted END,
    k.updatedAt = CASE WHEN newer THEN r.updatedAt ELSE k.updatedAt END
MERGE (c)-[:HAS_CONSENT]->(k)
RETURN r.customerId AS customerId, k {.channel, .purpose, .granted, .updatedAt} AS consent
"""


def consent_row(customer_id: str, channel: str, purpose: str, granted: bool, at: datetime) -> dict[str, Any]:
    """The parameters of one consent change for :data:`WRITE_CONSENTS`.

    >>> from datetime import UTC
    >>> consent_row("12350", "email", "marketing", False, datetime(2026, 1, 1, tzinfo=UTC))["consentId"]
    '12350|email|marketing'
    """
    return {"customerId": customer_id, "consentId": consent_key(customer_id, channel, purpose),
            "channel": channel, "purpose": purpose, "granted": granted, "updatedAt": at}


def write_consents(tx: ManagedTransaction, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Apply consent changes (rows from :func:`consent_row`); returns the stored records of known customers."""
    return tx.run(WRITE_CONSENTS, rows=rows).data()
