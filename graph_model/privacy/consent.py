"""The one writer of consent records, used by the loaders, the API and responses that unsubscribe.

A record is keyed by ``(customer, channel, purpose)``. Changes are ordered by their own time: a change
older than the stored one is ignored (an ``unsubscribed`` that arrives late never re-grants, and an old
grant replayed by a nightly file never undoes a newer withdrawal). At equal times the later write wins.

Every change is audited (:mod:`graph_model.privacy.audit`) in the writer's transaction: the API records each
request (a superseded one says so), a load records each row that created a record or turned it over
(a reload of the same file records nothing new).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from neo4j import ManagedTransaction

from graph_model.model.customers import consent_key
from graph_model.privacy.audit import RECORD_ENTRIES, audit_entry

WRITE_CONSENTS = """
UNWIND $rows AS r
MATCH (c:Customer {customerId: r.customerId})
OPTIONAL MATCH (before:Consent {consentId: r.consentId})
WITH c, r, before.granted AS wasGranted
MERGE (k:Consent {consentId: r.consentId})
  ON CREATE SET k.channel = r.channel, k.purpose = r.purpose, k.granted = r.granted, k.updatedAt = r.updatedAt
WITH c, k, r, wasGranted, r.updatedAt >= k.updatedAt AS newer
SET k.granted = CASE WHEN newer THEN r.granted ELSE k.granted END,
    k.updatedAt = CASE WHEN newer THEN r.updatedAt ELSE k.updatedAt END
MERGE (c)-[:HAS_CONSENT]->(k)
RETURN r.customerId AS customerId, k {.channel, .purpose, .granted, .updatedAt} AS consent, wasGranted, r AS row
"""


def consent_row(customer_id: str, channel: str, purpose: str, granted: bool, at: datetime) -> dict[str, Any]:
    """The parameters of one consent change for :data:`WRITE_CONSENTS`.

    >>> from datetime import UTC
    >>> consent_row("12350", "email", "marketing", False, datetime(2026, 1, 1, tzinfo=UTC))["consentId"]
    '12350|email|marketing'
    """
    return {"customerId": customer_id, "consentId": consent_key(customer_id, channel, purpose),
            "channel": channel, "purpose": purpose, "granted": granted, "updatedAt": at}


def consent_detail(row: dict[str, Any], stored: dict[str, Any]) -> str:
    """The audit detail of one change (no personal value); ``superseded`` when a newer record won.

    >>> from datetime import UTC
    >>> row = consent_row("12350", "email", "marketing", False, datetime(2026, 1, 1, tzinfo=UTC))
    >>> consent_detail(row, {"granted": False, "updatedAt": row["updatedAt"]})
    'channel=email purpose=marketing granted=false'
    >>> consent_detail(row, {"granted": True, "updatedAt": datetime(2026, 2, 1, tzinfo=UTC)})
    'channel=email purpose=marketing granted=false superseded'
    """
    applied = stored["granted"] == row["granted"] and stored["updatedAt"] == row["updatedAt"]
    detail = f"channel={row['channel']} purpose={row['purpose']} granted={str(row['granted']).lower()}"
    return detail if applied else detail + " superseded"


def load_audit_entries(stored: list[dict[str, Any]], actor: str) -> list[dict[str, Any]]:
    """The audit entries of a load's consent rows: one per row that created its record or turned it over.

    ``stored`` is what :data:`WRITE_CONSENTS` returned (a row of an unknown customer returns nothing).

    >>> from datetime import UTC
    >>> at = datetime(2026, 1, 1, tzinfo=UTC)
    >>> withdrawn = consent_row("C1", "email", "marketing", False, at)
    >>> replayed = consent_row("C2", "web", "analytics", True, at)
    >>> stored = [{"row": withdrawn, "consent": {"granted": False, "updatedAt": at}, "wasGranted": True},
    ...           {"row": replayed, "consent": {"granted": True, "updatedAt": at}, "wasGranted": True}]
    >>> [e["detail"] for e in load_audit_entries(stored, "loader")]
    ['channel=email purpose=marketing granted=false']
    """
    return [audit_entry(actor, "consent", result["row"]["customerId"], consent_detail(result["row"], result["consent"]))
            for result in stored
            if result["wasGranted"] is None or result["wasGranted"] != result["consent"]["granted"]]


def write_consents(tx: ManagedTransaction, rows: list[dict[str, Any]], actor: str = "loader") -> list[dict[str, Any]]:
    """Apply consent changes (rows from :func:`consent_row`) and audit those that changed a record; returns
    the stored records of known customers."""
    stored = tx.run(WRITE_CONSENTS, rows=rows).data()
    entries = load_audit_entries(stored, actor)
    if entries:
        tx.run(RECORD_ENTRIES, entries=entries).consume()
    return stored
