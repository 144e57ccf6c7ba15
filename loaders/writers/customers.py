"""Writing customers, the identifiers known to belong to them, and their consents."""

from __future__ import annotations

from loaders.writers import statement_writer

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

CONSENTS = """
UNWIND $rows AS r
MATCH (c:Customer {customerId: r.customerId})
MERGE (k:Consent {consentId: r.consentId})
ON CREATE SET k.channel = r.channel, k.purpose = r.purpose, k.granted = r.granted, k.updatedAt = r.updatedAt
WITH c, k, r, r.updatedAt >= k.updatedAt AS newer
SET k.granted = CASE WHEN newer THEN r.granted ELSE k.granted END,
    k.updatedAt = CASE WHEN newer THEN r.updatedAt ELSE k.updatedAt END
MERGE (c)-[:HAS_CONSENT]->(k)
"""

write_customers = statement_writer(CUSTOMERS, "write_customers")
write_identifiers = statement_writer(IDENTIFIERS, "write_identifiers")
write_consents = statement_writer(CONSENTS, "write_consents")
