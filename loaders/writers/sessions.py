"""Writing sessions: the Session node, its store, the identifiers seen on it, and the logged-in customer.

Resolving anonymous sessions to customers (identity stitching) runs after the file, in :mod:`loaders.identity`.
"""

from __future__ import annotations

from loaders.writers import statement_writer

SESSIONS = """
UNWIND $rows AS r
MERGE (s:Session {sessionId: r.sessionId})
SET s.channel = r.channel, s.startedAt = r.startedAt, s += r.props
WITH s, r
CALL (s, r) {
  WITH s, r WHERE r.storeId IS NOT NULL
  MATCH (store:Store {storeId: r.storeId})
  MERGE (s)-[:AT_STORE]->(store)
}
CALL (s, r) {
  UNWIND r.identities AS id
  MERGE (i:Identity {identityKey: id.key})
  ON CREATE SET i.type = id.type, i.value = id.value
  SET i.firstSeen = CASE WHEN i.firstSeen IS NULL OR r.startedAt < i.firstSeen THEN r.startedAt ELSE i.firstSeen END,
      i.lastSeen = CASE WHEN i.lastSeen IS NULL OR r.startedAt > i.lastSeen THEN r.startedAt ELSE i.lastSeen END
  MERGE (s)-[b:IDENTIFIED_BY]->(i)
  SET b.at = r.startedAt
}
CALL (s, r) {
  WITH s, r WHERE r.customerId IS NOT NULL
  MATCH (c:Customer {customerId: r.customerId})
  MERGE (c)-[h:HAD_SESSION]->(s)
  SET h.at = r.startedAt
}
"""

write_sessions = statement_writer(SESSIONS, "write_sessions")
