"""Writing store visits: from the visits export, from loyalty scans, and from geofenced location pings."""

from __future__ import annotations

from typing import Any

from neo4j import ManagedTransaction

from graph_model.connection import Rows
from loaders.report import RejectReason
from loaders.writers import statement_writer

VISITS = """
UNWIND $rows AS r
MATCH (c:Customer {customerId: r.customerId})
MATCH (s:Store {storeId: r.storeId})
MERGE (v:Visit {visitId: r.visitId})
SET v.arrivedAt = r.arrivedAt, v.source = r.source, v.dwellMinutes = r.dwellMinutes, v.zones = r.zones
MERGE (c)-[m:MADE_VISIT]->(v)
SET m.at = r.arrivedAt
MERGE (v)-[:TO_STORE]->(s)
"""

# The consent records of the customers of a pings file (one read per file), for the policy's decision; one
# record (customer id, records) pairs, not a record per customer (the driver takes ~30 µs a record).
LOCATION_CONSENTS = """
UNWIND $customerIds AS customerId
MATCH (c:Customer {customerId: customerId})
RETURN collect([customerId, [(c)-[:HAS_CONSENT]->(k:Consent) | k {.channel, .purpose, .granted}]]) AS consents
"""

# Both lookups are pinned to seeks of their unique indexes (`USING INDEX SEEK`: a plain `USING INDEX` hint is
# also satisfied by a scan of the index, which the planner chose during a first load, with index samples of an
# empty graph; tests/test_loaders_plans.py). IDENTIFIES always ends at a Customer, so `known` carries no label
# an index could be scanned for.
SCAN_CUSTOMERS = """
UNWIND range(0, size($rows) - 1) AS index
WITH index, $rows[index] AS r
OPTIONAL MATCH (card:Identity {identityKey: r.cardKey})-[:IDENTIFIES]->(known)
USING INDEX SEEK card:Identity(identityKey)
OPTIONAL MATCH (given:Customer {customerId: r.customerId})
USING INDEX SEEK given:Customer(customerId)
RETURN collect([index, coalesce(given.customerId, known.customerId)]) AS customers
"""

LOYALTY_SCANS = """
UNWIND $rows AS r
MATCH (c:Customer {customerId: r.resolvedCustomerId})
MATCH (s:Store {storeId: r.storeId})
MERGE (card:Identity {identityKey: r.cardKey})
ON CREATE SET card.type = 'loyalty_card', card.value = r.loyaltyCard
SET card.firstSeen = CASE WHEN card.firstSeen IS NULL OR r.at < card.firstSeen THEN r.at ELSE card.firstSeen END,
    card.lastSeen = CASE WHEN card.lastSeen IS NULL OR r.at > card.lastSeen THEN r.at ELSE card.lastSeen END
WITH c, s, card, r
CALL (c, card, r) {
  WITH c, card, r WHERE NOT EXISTS { MATCH (card)-[:IDENTIFIES]->(:Customer) }
  MERGE (card)-[x:IDENTIFIES]->(c)
  SET x.at = r.at
}
CALL (c, card, r) {
  WITH c, card, r WHERE r.customerId IS NOT NULL
  MERGE (ref:Identity {identityKey: 'customer_ref:' + r.customerId})
  ON CREATE SET ref.type = 'customer_ref', ref.value = r.customerId
  MERGE (ref)-[x:IDENTIFIES]->(c)
  ON CREATE SET x.at = r.at
  SET x.at = CASE WHEN r.at < x.at THEN r.at ELSE x.at END
  MERGE (card)-[l:LINKED_TO]->(ref)
  ON CREATE SET l.at = r.at, l.origin = 'loyalty_scan'
  SET l.at = CASE WHEN r.at < l.at THEN r.at ELSE l.at END
}
MERGE (v:Visit {visitId: 'scan:' + r.scanId})
SET v.arrivedAt = r.at, v.source = 'loyalty_scan'
MERGE (c)-[m:MADE_VISIT]->(v)
SET m.at = r.at
MERGE (v)-[:TO_STORE]->(s)
"""

write_visits = statement_writer(VISITS, "write_visits")


def write_loyalty_scans(tx: ManagedTransaction, rows: list[dict[str, Any]]) -> list[tuple[int, RejectReason, str]]:
    """Resolve each scan's card (or given customer) and write it as a Visit; unresolvable scans are refused."""
    rejected: list[tuple[int, RejectReason, str]] = []
    resolved: list[dict[str, Any]] = []
    cards: dict[str, str] = {}  # cards linked by an earlier row of this batch
    for index, found in sorted(tx.run(SCAN_CUSTOMERS, rows=Rows(rows)).single(strict=True)["customers"],
                               key=lambda pair: pair[0]):
        row = rows[index]
        customer_id = found or cards.get(row["cardKey"])
        if row.get("customerId"):
            cards.setdefault(row["cardKey"], row["customerId"])
        if customer_id is None:
            rejected.append((index, RejectReason.UNKNOWN_IDENTIFIER,
                             f"loyalty card {row['loyaltyCard']!r} identifies no customer and no customerId is given"))
        else:
            resolved.append({**row, "resolvedCustomerId": customer_id})
    if resolved:
        tx.run(LOYALTY_SCANS, rows=Rows(resolved)).consume()
    return rejected
