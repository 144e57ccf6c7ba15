"""Writing customers and the identifiers known to belong to them (consents: :func:`write_consent_rows`)."""

from __future__ import annotations

from typing import Any

from neo4j import ManagedTransaction

from graph_model.privacy.consent import write_consents
from loaders.writers import statement_writer

# The one writer of HOME_STORE (with the bulk import's BulkWriters.customers): it sets Customer.homeStoreId
# with the relationship, so that the mirror the keep-in-touch index is keyed on never differs from it.
CUSTOMERS = """
UNWIND $rows AS r
MERGE (c:Customer {customerId: r.customerId})
WITH c, r
WHERE c.updatedAt IS NULL OR r.updatedAt IS NULL OR r.updatedAt >= c.updatedAt
SET c += r.props,
    c.createdAt = CASE WHEN c.createdAt IS NULL OR r.createdAt < c.createdAt THEN coalesce(r.createdAt, c.createdAt)
                       ELSE c.createdAt END,
    c.homeLocation = CASE WHEN r.homeLatitude IS NULL OR r.homeLongitude IS NULL THEN c.homeLocation
                          ELSE point({latitude: r.homeLatitude, longitude: r.homeLongitude}) END
WITH c, r
CALL (c, r) {
  WITH c, r WHERE r.country IS NOT NULL
  MERGE (country:Country {name: r.country})
  WITH c, country
  OPTIONAL MATCH (c)-[old:IN_COUNTRY]->(other:Country) WHERE other <> country
  DELETE old
  WITH DISTINCT c, country
  MERGE (c)-[:IN_COUNTRY]->(country)
}
CALL (c, r) {
  WITH c, r WHERE r.homeStoreId IS NOT NULL
  MATCH (store:Store {storeId: r.homeStoreId})
  OPTIONAL MATCH (c)-[old:HOME_STORE]->(other:Store) WHERE other <> store
  DELETE old
  WITH DISTINCT c, store
  MERGE (c)-[:HOME_STORE]->(store)
  SET c.homeStoreId = store.storeId
}
CALL (c, r) {
  WITH c, r WHERE r.emailHash IS NOT NULL
  WITH c, r, coalesce(r.createdAt, r.updatedAt, datetime({epochSeconds: 0})) AS seen
  MERGE (i:Identity {identityKey: 'email_hash:' + r.emailHash})
  ON CREATE SET i.type = 'email_hash', i.value = r.emailHash
  SET i.firstSeen = CASE WHEN i.firstSeen IS NULL OR seen < i.firstSeen THEN seen ELSE i.firstSeen END,
      i.lastSeen = CASE WHEN i.lastSeen IS NULL OR seen > i.lastSeen THEN seen ELSE i.lastSeen END
  WITH c, i, seen
  OPTIONAL MATCH (i)-[old:IDENTIFIES]->(other:Customer) WHERE other <> c
  DELETE old
  WITH DISTINCT c, i, seen
  MERGE (i)-[x:IDENTIFIES]->(c)
  ON CREATE SET x.at = seen
  SET x.at = CASE WHEN seen < x.at THEN seen ELSE x.at END
}
"""

IDENTIFIERS = """
UNWIND $rows AS r
MATCH (c:Customer {customerId: r.customerId})
MERGE (i:Identity {identityKey: r.identityKey})
ON CREATE SET i.type = r.type, i.value = r.value
SET i.firstSeen = CASE WHEN i.firstSeen IS NULL OR r.seenAt < i.firstSeen THEN r.seenAt ELSE i.firstSeen END,
    i.lastSeen = CASE WHEN i.lastSeen IS NULL OR r.seenAt > i.lastSeen THEN r.seenAt ELSE i.lastSeen END
WITH c, i, r
OPTIONAL MATCH (i)-[old:IDENTIFIES]->(other:Customer) WHERE other <> c
DELETE old
WITH DISTINCT c, i, r
MERGE (i)-[x:IDENTIFIES]->(c)
ON CREATE SET x.at = r.seenAt
SET x.at = CASE WHEN r.seenAt < x.at THEN r.seenAt ELSE x.at END
"""


def _judging_customers(rows: list[dict[str, Any]]) -> list[str | None]:
    """The customer each row is judged against (its ``updatedAt``, a re-pointed country, home store or e-mail
    identity), or ``None``: a row naming only the customer (the collection API's, one per message) judges
    nothing and needs no round of its own."""
    return [row["customerId"] if row.get("updatedAt") or row.get("country") or row.get("homeStoreId")
            or row.get("emailHash") else None for row in rows]


def _identifier_keys(rows: list[dict[str, Any]]) -> list[str | None]:
    """An identifier given to two customers in one batch is re-pointed row by row; one seen again with the
    same customer (the collection API: one row per message) needs no round of its own."""
    owners: dict[str, set[str]] = {}
    for row in rows:
        owners.setdefault(row["identityKey"], set()).add(row["customerId"])
    return [row["identityKey"] if len(owners[row["identityKey"]]) > 1 else None for row in rows]


write_customers = statement_writer(CUSTOMERS, "write_customers", round_keys=_judging_customers)
write_identifiers = statement_writer(IDENTIFIERS, "write_identifiers", round_keys=_identifier_keys)


def write_consent_rows(tx: ManagedTransaction, rows: list[dict[str, Any]]) -> None:
    """Consents through the one consent writer (:func:`graph_model.privacy.consent.write_consents`; rows from
    :func:`graph_model.privacy.consent.consent_row`): an older change never undoes a newer one."""
    write_consents(tx, rows, actor="loader")
