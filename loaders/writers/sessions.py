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

A session that holds no ``IDENTIFIED_BY`` (or no ``HAD_SESSION``) yet, every session of a first load, gets
them with ``CREATE``: nothing can be there to merge with, and ``MERGE`` expanded the identifier's (the
customer's) relationships and locked both nodes per row. A session that already has them (a reload, the API
writing the same session again) takes the ``MERGE`` branch. Each row's check runs after the rows before it,
so a session twice in one batch is written once. With the claim looking from the identifier
(:data:`loaders.identity.CLAIM_IDENTIFIER`), the bench drop's 211,686 sessions went from 5,711 to 6,208
rows/s (two alternating pairs, server CPU 283 -> 257 µs a row; the same graph, checked by counts and sums).

What is left for after the file, backfilling the anonymous sessions of an identifier that now identifies
a customer, is :func:`loaders.identity.stitch_sessions` with ``linked=True``. It looks only where such a
session can be: at the identifiers of the file's anonymous rows, and at those of its logged-in rows that
another session shares, which the statement reports (``shared``: the identifier's ``IDENTIFIED_BY`` degree,
read after the row's own writes, under the identifier's lock, so a session another writer adds meanwhile is
either counted here or finds the claim when its own load stitches). A logged-in session whose identifiers
no other session shows has nothing to backfill: on a first load of 15,478 such sessions (one cookie each,
distinct customers: ``benchmarks/bench_first_load_sessions.py``'s second case) the stitching after the file
went from 0.32-0.40 s to 0.005 s, of 2.7-3.4 s in all.
"""

from __future__ import annotations

from typing import Any

from neo4j import ManagedTransaction

from graph_model.connection import Rows
from loaders.batching import Written
from loaders.identity import CLAIM_IDENTIFIER, LINK_IDENTIFIERS

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
  WITH s, r, EXISTS { (s)-[:IDENTIFIED_BY]->() } AS known
  UNWIND r.identities AS id
  MERGE (i:Identity {identityKey: id.key})
  ON CREATE SET i.type = id.type, i.value = id.value
  SET i.firstSeen = CASE WHEN i.firstSeen IS NULL OR r.startedAt < i.firstSeen THEN r.startedAt ELSE i.firstSeen END,
      i.lastSeen = CASE WHEN i.lastSeen IS NULL OR r.startedAt > i.lastSeen THEN r.startedAt ELSE i.lastSeen END
  FOREACH (_ IN CASE WHEN known THEN [] ELSE [1] END | CREATE (s)-[:IDENTIFIED_BY {at: r.startedAt}]->(i))
  FOREACH (_ IN CASE WHEN known THEN [1] ELSE [] END | MERGE (s)-[b:IDENTIFIED_BY]->(i) SET b.at = r.startedAt)
}
CALL (s, r) {
  WITH s, r WHERE r.customerId IS NOT NULL
  MATCH (c:Customer {customerId: r.customerId})
  WITH c, s, r, EXISTS { (s)<-[:HAD_SESSION]-() } AS known
  FOREACH (_ IN CASE WHEN known THEN [] ELSE [1] END | CREATE (c)-[:HAD_SESSION {at: r.startedAt}]->(s))
  FOREACH (_ IN CASE WHEN known THEN [1] ELSE [] END | MERGE (c)-[h:HAD_SESSION]->(s) SET h.at = r.startedAt)
}
CALL (s) {""" + LINK_IDENTIFIERS + """}
CALL (s, r) {
  MATCH (c:Customer)-[:HAD_SESSION]->(s)
  WITH c, s, [id IN r.identities | id.key] AS keys, [(s)-[:IDENTIFIED_BY]->(i:Identity) | i] AS identities
  UNWIND [i IN identities WHERE i.identityKey IN keys] AS i
""" + CLAIM_IDENTIFIER + """}
WITH s, r WHERE r.customerId IS NOT NULL
UNWIND [(s)-[:IDENTIFIED_BY]->(i:Identity) WHERE COUNT { (i)<-[:IDENTIFIED_BY]-() } > 1 | i.identityKey] AS key
RETURN collect(DISTINCT key) AS shared
"""


def write_sessions(tx: ManagedTransaction, rows: list[dict[str, Any]]) -> Written:
    """Write one batch of sessions (:data:`SESSIONS`); follow up the identifiers its logged-in rows share with
    other sessions (the backfill after the file looks there, and at the anonymous rows' identifiers)."""
    shared = tx.run(SESSIONS, rows=Rows(rows)).single(strict=True)["shared"]
    return Written(follow_up=shared)
