"""The one writer of consent records, used by the loaders, the API and responses that unsubscribe.

A record is keyed by ``(customer, channel, purpose)``. Changes are ordered by their own time: a change
older than the stored one is ignored (an ``unsubscribed`` that arrives late never re-grants, and an old
grant replayed by a nightly file never undoes a newer withdrawal). At equal times the later write wins.

Every change is audited (:mod:`graph_model.privacy.audit`) in the writer's transaction: the API records each
request (a superseded one says so), a load records each row that created a record or turned it over
(a reload of the same file records nothing new).
"""

from __future__ import annotations

from collections.abc import MutableMapping
from datetime import datetime
from typing import Any

from neo4j import ManagedTransaction

from graph_model.connection import Rows
from graph_model.model.customers import consent_key
from graph_model.privacy.audit import RECORD_ENTRIES, audit_entry
from graph_model.privacy.keys import customer_hash, load_key
from graph_model.rounds import rounds

WRITE_CONSENTS = """
UNWIND range(0, size($rows) - 1) AS index
WITH index, $rows[index] AS r
MATCH (c:Customer {customerId: r.customerId})
OPTIONAL MATCH (before:Consent {consentId: r.consentId})
WITH c, r, index, before.granted AS wasGranted
MERGE (k:Consent {consentId: r.consentId})
  ON CREATE SET k.channel = r.channel, k.purpose = r.purpose, k.granted = r.granted, k.updatedAt = r.updatedAt
WITH c, k, r, index, wasGranted, r.updatedAt >= k.updatedAt AS newer
SET k.granted = CASE WHEN newer THEN r.granted ELSE k.granted END,
    k.updatedAt = CASE WHEN newer THEN r.updatedAt ELSE k.updatedAt END
MERGE (c)-[:HAS_CONSENT]->(k)
WITH r, k, index, wasGranted, k.granted = r.granted AND k.updatedAt = r.updatedAt AS applied
RETURN collect({index: index, granted: k.granted, wasGranted: wasGranted, applied: applied,
                newerAt: CASE WHEN applied THEN null ELSE k.updatedAt END}) AS results
"""
"""One record, ``results``: a result per row of a known customer, its ``index`` in ``$rows``, the stored
``granted``, ``wasGranted`` (before; null for a new record), ``applied`` (the stored record is the row's) and,
when not, the newer record's time ``newerAt``. Times go back only in that rare case: reading a stored time
costs the driver ~40 µs, as much as the rest of a row; and one record, not one per row (~30 µs each)."""


def consent_row(customer_id: str, channel: str, purpose: str, granted: bool, at: datetime) -> dict[str, Any]:
    """The parameters of one consent change for :data:`WRITE_CONSENTS`.

    >>> from datetime import UTC
    >>> consent_row("12350", "email", "marketing", False, datetime(2026, 1, 1, tzinfo=UTC))["consentId"]
    '12350|email|marketing'
    """
    return {"customerId": customer_id, "consentId": consent_key(customer_id, channel, purpose),
            "channel": channel, "purpose": purpose, "granted": granted, "updatedAt": at}


def consent_detail(row: dict[str, Any], applied: bool) -> str:
    """The audit detail of one change (no personal value); ``superseded`` when a newer record won.

    >>> from datetime import UTC
    >>> row = consent_row("12350", "email", "marketing", False, datetime(2026, 1, 1, tzinfo=UTC))
    >>> consent_detail(row, applied=True)
    'channel=email purpose=marketing granted=false'
    >>> consent_detail(row, applied=False)
    'channel=email purpose=marketing granted=false superseded'
    """
    detail = f"channel={row['channel']} purpose={row['purpose']} granted={str(row['granted']).lower()}"
    return detail if applied else detail + " superseded"


def stored_record(row: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    """The consent record stored after ``row``, from its :data:`WRITE_CONSENTS` result."""
    return {"channel": row["channel"], "purpose": row["purpose"], "granted": result["granted"],
            "updatedAt": row["updatedAt"] if result["applied"] else result["newerAt"]}


def load_audit_entries(rows: list[dict[str, Any]], results: list[dict[str, Any]], actor: str) -> list[dict[str, Any]]:
    """The audit entries of a load's consent rows: one per row that created its record or turned it over.

    ``results`` is what :data:`WRITE_CONSENTS` returned for ``rows`` (a row of an unknown customer returns
    nothing).

    >>> from datetime import UTC
    >>> at = datetime(2026, 1, 1, tzinfo=UTC)
    >>> rows = [consent_row("C1", "email", "marketing", False, at), consent_row("C2", "web", "analytics", True, at)]
    >>> results = [{"index": 0, "granted": False, "wasGranted": True, "applied": True},
    ...            {"index": 1, "granted": True, "wasGranted": True, "applied": True}]  # C2's is a replay
    >>> [(e["detail"], e["subject"] == customer_hash("C1")) for e in load_audit_entries(rows, results, "loader")]
    [('channel=email purpose=marketing granted=false', True)]
    """
    key = load_key()
    subjects: dict[str, str] = {}  # a customer's consents come together: each id hashed once
    entries = []
    for result in results:
        if result["wasGranted"] is None or result["wasGranted"] != result["granted"]:
            row = rows[result["index"]]
            customer = row["customerId"]
            subject = subjects.get(customer)
            if subject is None:
                subject = subjects[customer] = customer_hash(customer, key=key)
            entries.append(audit_entry(actor, "consent", customer, consent_detail(row, result["applied"]),
                                       subject=subject))
    return entries


def apply_consents_in_memory(records: MutableMapping[str, dict[str, Any]],
                             rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """:data:`WRITE_CONSENTS` on records held in memory (``consentId`` -> the Consent node's properties), row by
    row, with the same results: for the bulk import, which builds the graph before a database holds it. Every
    row's customer must exist (the loaders check references first).

    >>> from datetime import UTC
    >>> records: dict[str, dict[str, Any]] = {}
    >>> grant = consent_row("C1", "email", "marketing", True, datetime(2026, 1, 2, tzinfo=UTC))
    >>> late = consent_row("C1", "email", "marketing", False, datetime(2026, 1, 1, tzinfo=UTC))
    >>> [(r["wasGranted"], r["granted"], r["applied"]) for r in apply_consents_in_memory(records, [grant, late])]
    [(None, True, True), (True, True, False)]
    >>> records["C1|email|marketing"]["granted"]
    True
    """
    results = []
    for index, r in enumerate(rows):
        k = records.get(r["consentId"])
        was_granted = None if k is None else k["granted"]
        if k is None:
            k = records[r["consentId"]] = {"consentId": r["consentId"], "channel": r["channel"],
                                           "purpose": r["purpose"], "granted": r["granted"],
                                           "updatedAt": r["updatedAt"]}
        if r["updatedAt"] >= k["updatedAt"]:
            k["granted"], k["updatedAt"] = r["granted"], r["updatedAt"]
        applied = k["granted"] == r["granted"] and k["updatedAt"] == r["updatedAt"]
        results.append({"index": index, "granted": k["granted"], "wasGranted": was_granted, "applied": applied,
                        "newerAt": None if applied else k["updatedAt"]})
    return results


def write_consents(tx: ManagedTransaction, rows: list[dict[str, Any]], actor: str = "loader") -> list[dict[str, Any]]:
    """Apply consent changes (rows from :func:`consent_row`) and audit those that changed a record; returns
    the :data:`WRITE_CONSENTS` results (rows of known customers)."""
    results = []
    for positions in rounds([row["consentId"] for row in rows]):  # row by row per record, as in memory
        for result in tx.run(WRITE_CONSENTS, rows=Rows([rows[p] for p in positions])).single(strict=True)["results"]:
            results.append({**result, "index": positions[result["index"]]})
    entries = load_audit_entries(rows, results, actor)
    if entries:
        tx.run(RECORD_ENTRIES, entries=Rows(entries)).consume()
    return results
