"""Identity stitching: identifiers seen together are linked, and what one of them knows, all of them learn.

After the sessions (or loyalty scans, or identifiers) of a file are written:

1. **links**: every two identifiers of a touched session get ``(:Identity)-[:LINKED_TO {at, origin}]->(:Identity)``
   (one direction, from the smaller key to the larger; ``at`` = the earliest session that showed them
   together; ``origin`` = ``login`` when one of them is the customer's own ``customer_ref``, else ``session``).
2. **resolve**: the identifiers of a session that belongs to a customer (``HAD_SESSION``) identify that
   customer, unless they already identify someone else (first customer wins; the link is kept);
   ``IDENTIFIES.at`` is the earliest such session.
3. **backfill**: every session identified by an identifier that now identifies a customer, and not yet
   resolved, gets ``(:Customer)-[:HAD_SESSION {at}]->(:Session)``: an anonymous web session that later logs
   in joins the customer's history, including sessions of earlier drops. Steps 2-3 repeat until nothing
   new resolves (at most a few rounds).

The sessions writer (:data:`loaders.writers.sessions.SESSIONS`) does steps 1-2 for each row it writes, with
the fragments :data:`LINK_IDENTIFIERS` and :data:`CLAIM_IDENTIFIER`; after a sessions file only the
backfill runs (``stitch_sessions(..., linked=True)``), from the identifiers of its anonymous rows and those of
its logged-in rows that other sessions share (the writer reports them). The identifiers
files run all three steps here; the bulk import runs the same steps, in the same order, on its graph in
memory before the import (:meth:`loaders.bulk.BulkWriters.stitch`). On a first load of 15,478 logged-in sessions this
took stitching from 1.7 s to 0.3 s, and looking only at shared identifiers to 0.005 s
(``benchmarks/bench_first_load_sessions.py``).
"""

from __future__ import annotations

from collections.abc import Iterable

from graph_model.connection import Rows, execute_write
from loaders.batching import chunks

# The session's identifiers are gathered by a pattern comprehension from the session and paired in a list:
# no property predicate on them that an index could answer, so no plan can scan every Identity per row.
# (Matching them with `WHERE a.identityKey < b.identityKey` let the planner, on an index sampled while
# empty during a first load, scan the whole Identity index per session: 60 s for 2,000 sessions.)
LINK_IDENTIFIERS = """
WITH s, [(s)-[:IDENTIFIED_BY]->(i:Identity) | i] AS identities
UNWIND identities AS a
UNWIND identities AS b
WITH s, a, b WHERE a.identityKey < b.identityKey
MERGE (a)-[l:LINKED_TO]->(b)
ON CREATE SET l.at = s.startedAt
SET l.at = CASE WHEN s.startedAt < l.at THEN s.startedAt ELSE l.at END,
    l.origin = CASE WHEN a.type = 'customer_ref' OR b.type = 'customer_ref' THEN 'login' ELSE 'session' END
"""
"""Step 1 for the session ``s`` in scope (a fragment: :data:`LINK_SESSION_IDENTITIES` and the sessions writer)."""

CLAIM_IDENTIFIER = """
SET i.identityKey = i.identityKey
WITH c, s, i, [(i)-[x:IDENTIFIES]->(:Customer) | x] AS claims
FOREACH (_ IN CASE WHEN claims = [] THEN [1] ELSE [] END | CREATE (i)-[:IDENTIFIES {at: s.startedAt}]->(c))
FOREACH (x IN [x IN claims WHERE endNode(x) = c AND s.startedAt < x.at] | SET x.at = s.startedAt)
"""
"""Step 2 for the customer ``c``, session ``s`` and identifier ``i`` in scope (a fragment, as above).

It first takes the identifier's write lock (a ``SET`` to the value it holds changes nothing and locks the node;
setting an absent property to null would not), so no other transaction claims the identifier between the look
at its claims and the ``CREATE``. It looks from the identifier (which identifies at most one customer): a
``MERGE (i)-[:IDENTIFIES]->(c)`` expanded the customer's relationships and locked both nodes (the figures are in
:mod:`loaders.writers.sessions`)."""

LINK_SESSION_IDENTITIES = """
UNWIND $sessionIds AS sessionId
MATCH (s:Session {sessionId: sessionId})
""" + LINK_IDENTIFIERS

# The claim runs in a subquery per (customer, session, identifier): each sees the claims of the rows before it.
# As one statement over the chunk it judged every row against the graph before the chunk (an Eager between
# the NOT EXISTS and the MERGE), so a cookie two customers logged in on in one chunk identified both.
RESOLVE_SESSION_IDENTITIES = """
UNWIND $sessionIds AS sessionId
MATCH (s:Session {sessionId: sessionId})
CALL (s) {
  MATCH (c:Customer)-[:HAD_SESSION]->(s)-[:IDENTIFIED_BY]->(i:Identity)
  RETURN c, i
}
CALL (c, s, i) {
""" + CLAIM_IDENTIFIER + """
  WITH c, i WHERE EXISTS { (i)-[:IDENTIFIES]->(c) }
  RETURN i.identityKey AS key
}
RETURN collect(DISTINCT key) AS keys
"""

BACKFILL_SESSIONS = """
UNWIND $identityKeys AS key
MATCH (i:Identity {identityKey: key})
CALL (i) {
  MATCH (i)-[:IDENTIFIES]->(c:Customer)
  MATCH (i)<-[:IDENTIFIED_BY]-(s:Session)
  WHERE NOT EXISTS { MATCH (:Customer)-[:HAD_SESSION]->(s) }
  RETURN s, c
}
WITH s, min(c.customerId) AS customerId
MATCH (c:Customer {customerId: customerId})
MERGE (c)-[h:HAD_SESSION]->(s)
SET h.at = s.startedAt
RETURN collect(s.sessionId) AS sessionIds
"""


def _run_collect(query: str, name: str, values: list[str], key: str, batch_size: int) -> set[str]:
    found: set[str] = set()
    for chunk in chunks(values, batch_size):
        rows = execute_write(lambda tx, c=chunk: tx.run(query, {name: Rows(c)}).single(strict=True)[key])
        found.update(rows)
    return found


def stitch_sessions(session_ids: Iterable[str], identity_keys: Iterable[str] = (), *, linked: bool = False,
                    batch_size: int = 2_000, max_rounds: int = 4) -> dict[str, int]:
    """Link, resolve and backfill around ``session_ids`` (and ``identity_keys``); return what changed.

    ``linked``: the sessions were written by :data:`loaders.writers.sessions.SESSIONS`, which links and
    resolves each row's identifiers itself; then only the backfill is left, from ``identity_keys`` (the
    identifiers of those rows that can reach an anonymous session: see :mod:`loaders.writers.sessions`)."""
    sessions = sorted(set(session_ids))
    if not linked:
        for chunk in chunks(sessions, batch_size):
            execute_write(lambda tx, c=chunk: tx.run(LINK_SESSION_IDENTITIES, sessionIds=Rows(c)).consume())
    keys = set(identity_keys)
    backfilled: set[str] = set()
    todo = [] if linked else sessions
    for _ in range(max_rounds):
        keys |= _run_collect(RESOLVE_SESSION_IDENTITIES, "sessionIds", todo, "keys", batch_size)
        new = _run_collect(BACKFILL_SESSIONS, "identityKeys", sorted(keys), "sessionIds", batch_size)
        new -= backfilled
        if not new:
            break
        backfilled |= new
        todo, keys = sorted(new), set()
    return {"sessionsStitched": len(backfilled)}
