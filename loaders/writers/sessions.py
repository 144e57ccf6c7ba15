"""Writing sessions: the Session node, its store, the identifiers seen on it, and the logged-in customer.

The first two steps of identity stitching (:mod:`loaders.identity`) happen in the same statement, row by
row, so that a file's stitching does not read every session again afterwards:

- **links**: every two identifiers of the session are ``LINKED_TO`` (from the smaller key to the larger;
  ``at`` the earliest session that showed them together; ``origin`` ``login`` when one is a customer's own
  ``customer_ref``);
- **resolve**: the row's identifiers identify the session's customer (``IDENTIFIES``, ``at`` the earliest
  such session), unless they identify someone else already (first customer wins). The identifier was
  written (so locked) just before, so two writers cannot both find it unclaimed. The row's identifiers
  are the session's (a pattern comprehension without a property predicate), filtered afterwards in a
  list: with the key in the pattern (``MATCH (s)-->(i:Identity {identityKey: …})``, or ``WHERE`` inside
  the comprehension) a plan made during a first load, on an index sampled while empty, scanned the whole
  Identity index per row.

What is left for after the file, backfilling the anonymous sessions of an identifier that now identifies
a customer, is :func:`loaders.identity.stitch_sessions` with ``linked=True``.
"""

from __future__ import annotations

from loaders.identity import CLAIM_IDENTIFIER, LINK_IDENTIFIERS
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
CALL (s) {""" + LINK_IDENTIFIERS + """}
CALL (s, r) {
  MATCH (c:Customer)-[:HAD_SESSION]->(s)
  WITH c, s, [id IN r.identities | id.key] AS keys, [(s)-[:IDENTIFIED_BY]->(i:Identity) | i] AS identities
  UNWIND [i IN identities WHERE i.identityKey IN keys] AS i
""" + CLAIM_IDENTIFIER + """}
"""

write_sessions = statement_writer(SESSIONS, "write_sessions")
