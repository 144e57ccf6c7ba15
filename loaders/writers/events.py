"""Writing clickstream events and keeping each session's ``NEXT`` chain in time order.

One transaction per batch (the events of whole sessions, one partition per writer):

* sessions that hold no event yet take the fast path: ``CREATE`` events, their relationships and the
  ``NEXT`` chain computed here (sorted by time, then event id);
* sessions that already hold events (a later drop, a late-arriving event, a re-run) take the ``MERGE``
  path, and their chain is rebuilt from all their events in time order; unless the batch brings nothing
  new for them (same ids, same times), in which case the chain is left as it is.

Both paths give the same graph: ``gapSeconds`` is computed from whole microseconds on both sides.

The plan (:func:`plan_events`) is pure: the loaders run it here, the API's ``trackEvent`` in its
asynchronous transaction (``api.queries.writes``), so an event written either way lands the same.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from neo4j import ManagedTransaction

from graph_model.connection import Rows

# The events come from the session by a pattern comprehension: no plan can answer them from a scan of the
# Event index (chosen once, during a first load, on an index sampled while empty).
EXISTING_EVENTS = """
UNWIND $sessionIds AS sessionId
MATCH (s:Session {sessionId: sessionId})
WITH sessionId, [(s)-[:CONTAINS]->(e:Event) | [e.eventId, e.at.epochSeconds * 1000000 + e.at.microsecond]] AS events
WHERE events <> []
RETURN collect([sessionId, events]) AS held
"""
"""The events the sessions hold (:func:`existing_events` reads the one record), with their times as whole
microseconds since the epoch (:func:`epoch_micros`): integers cost nothing to read, where the driver takes
~40 µs to turn a stored time into a ``DateTime``; and one record, where the driver takes ~30 µs per record
(a batch's 5,000 sessions, most of them without events on a first load)."""

def _related(verb: str) -> str:
    """Cypher linking ``ev`` to the product, category and order of event ``e`` (``verb``: CREATE or MERGE)."""
    parts = []
    for rel, var in (("ABOUT_PRODUCT", "product"), ("ABOUT_CATEGORY", "category"), ("PLACED_ORDER", "order")):
        parts.append(f"""
FOREACH (_ IN CASE WHEN {var} IS NULL THEN [] ELSE [1] END | {verb} (ev)-[x:{rel}]->({var}) SET x.at = e.at)""")
    return "".join(parts)


_TARGETS = """
OPTIONAL MATCH (product:Product {sku: e.sku})
OPTIONAL MATCH (category:Category {categoryId: e.categoryId})
OPTIONAL MATCH (order:Order {orderId: e.orderId})"""

CREATE_EVENTS = """
UNWIND $rows AS e
MATCH (s:Session {sessionId: e.sessionId})""" + _TARGETS + """
CREATE (s)-[:CONTAINS {at: e.at}]->(ev:Event {eventId: e.eventId, type: e.type, at: e.at, page: e.page,
        query: e.query, resultsCount: e.resultsCount, quantity: e.quantity, name: e.name,
        properties: e.properties})""" + _related("CREATE") + "\n"

CREATE_CHAIN = """
UNWIND $pairs AS pair
MATCH (a:Event {eventId: pair.a})
MATCH (b:Event {eventId: pair.b})
CREATE (a)-[:NEXT {gapSeconds: pair.gap}]->(b)
"""

SEARCHES = """
UNWIND $rows AS e
MERGE (q:SearchQuery {text: e.searchText})
WITH q, e
MATCH (ev:Event {eventId: e.eventId})
MERGE (ev)-[x:SEARCHED]->(q)
SET x.at = e.at
"""

# An event id another session already holds is refused, not taken over: the CREATE of a second node with that id
# fails on the uniqueness constraint, so the row is a write_failed reject as in CREATE_EVENTS (until stop 38 a
# collected message reusing any event's id rewrote that event and joined it to its own session).
MERGE_EVENTS = """
UNWIND $rows AS e
MATCH (s:Session {sessionId: e.sessionId})
MERGE (ev:Event {eventId: e.eventId})
WITH s, ev, e, EXISTS { MATCH (other:Session)-[:CONTAINS]->(ev) WHERE other <> s } AS taken
FOREACH (_ IN CASE WHEN taken THEN [1] ELSE [] END | CREATE (:Event {eventId: e.eventId}))
WITH s, ev, e WHERE NOT taken
SET ev.type = e.type, ev.at = e.at, ev.page = e.page, ev.query = e.query, ev.resultsCount = e.resultsCount,
    ev.quantity = e.quantity, ev.name = e.name, ev.properties = e.properties
MERGE (s)-[contains:CONTAINS]->(ev)
SET contains.at = e.at
WITH s, ev, e""" + _TARGETS + _related("MERGE") + "\n"

# The session is pinned to an index seek: planned during a first load (index samples of an empty graph) the
# planner once chose a scan of the Session index per session id (tests/test_loaders_plans.py).
REBUILD_CHAINS = """
UNWIND $sessionIds AS sessionId
MATCH (s:Session {sessionId: sessionId})-[:CONTAINS]->(ev:Event)
USING INDEX SEEK s:Session(sessionId)
WITH sessionId, ev ORDER BY ev.at, ev.eventId
WITH sessionId, collect(ev) AS chain
CALL (chain) {
  UNWIND chain AS ev
  MATCH (ev)-[n:NEXT]->()
  DELETE n
}
CALL (chain) {
  UNWIND range(0, size(chain) - 2) AS i
  WITH chain[i] AS a, chain[i + 1] AS b
  WITH a, b, duration.inSeconds(a.at, b.at) AS d
  CREATE (a)-[:NEXT {gapSeconds: toFloat(d.seconds * 1000000 + d.nanosecondsOfSecond / 1000) / 1000000.0}]->(b)
}
"""

_MICRO = timedelta(microseconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_micros(at: datetime) -> int:
    """Whole microseconds since the epoch, as :data:`EXISTING_EVENTS` reads a stored time.

    >>> from datetime import UTC
    >>> epoch_micros(datetime(1970, 1, 1, 0, 0, 1, 5, tzinfo=UTC))
    1000005
    """
    return (at - _EPOCH) // _MICRO


def existing_events(held: list[list[Any]]) -> dict[str, dict[str, int | None]]:
    """:data:`EXISTING_EVENTS`' record as :func:`plan_events` takes it: session id → event id → time.

    >>> existing_events([["S1", [["E1", 1000005], ["E2", None]]]])
    {'S1': {'E1': 1000005, 'E2': None}}
    """
    return {session_id: dict(events) for session_id, events in held}


def gap_seconds(earlier: datetime, later: datetime) -> float:
    """Seconds between two times, from whole microseconds (the same float Cypher computes)."""
    return ((later - earlier) // _MICRO) / 1_000_000


Statement = tuple[str, dict[str, Any]]


def _shared_node(event: dict[str, Any]) -> tuple[str, str, str]:
    """The nodes an event row links to that other writers' rows may link to as well, as its sort key (a row
    usually names one of them: a product view, a category view, a checkout)."""
    return event["categoryId"] or "", event["sku"] or "", event["orderId"] or ""


def plan_events(rows: list[dict[str, Any]], existing: dict[str, dict[str, int | None]]) -> list[Statement]:
    """The statements, in order, that write one batch of events (see the module docstring), given the events
    the batch's sessions already hold (session id → event id → time in :func:`epoch_micros`, as
    :data:`EXISTING_EVENTS` reads them; a time of ``None`` is a node that exists without its content yet, as
    the API's idempotent claim of an ``eventId`` leaves it).

    Pure, so the loaders' synchronous writer and the API's asynchronous transaction run the same plan.
    """
    by_session: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for row in rows:
        by_session[row["sessionId"]][row["eventId"]] = row  # a repeated id in one batch: the last row wins
    fresh: list[dict[str, Any]] = []
    pairs: list[dict[str, Any]] = []
    merge_rows: list[dict[str, Any]] = []
    rebuild: list[str] = []
    for session_id, events in by_session.items():
        known = existing.get(session_id)
        if not known:
            ordered = sorted(events.values(), key=lambda e: (e["at"], e["eventId"]))
            fresh.extend(ordered)
            pairs.extend({"a": a["eventId"], "b": b["eventId"], "gap": gap_seconds(a["at"], b["at"])}
                         for a, b in zip(ordered, ordered[1:], strict=False))
            continue
        merge_rows.extend(events.values())
        if any(known.get(e["eventId"]) != epoch_micros(e["at"]) for e in events.values()):
            rebuild.append(session_id)
    statements: list[Statement] = []
    if fresh:  # in the order of the shared nodes they lock, so parallel writers take locks in one order
        fresh.sort(key=_shared_node)
        statements.append((CREATE_EVENTS, {"rows": Rows(fresh)}))
    if pairs:
        statements.append((CREATE_CHAIN, {"pairs": Rows(pairs)}))
    if merge_rows:  # the same order (a session's events across two batches, a later drop)
        merge_rows.sort(key=_shared_node)
        statements.append((MERGE_EVENTS, {"rows": Rows(merge_rows)}))
    searches = sorted((row for row in fresh + merge_rows if row["searchText"]), key=lambda e: e["searchText"])
    if searches:
        statements.append((SEARCHES, {"rows": Rows(searches)}))
    if rebuild:
        statements.append((REBUILD_CHAINS, {"sessionIds": Rows(rebuild)}))
    return statements


def write_events(tx: ManagedTransaction, rows: list[dict[str, Any]]) -> None:
    """Write one batch of events (see the module docstring)."""
    session_ids = list(dict.fromkeys(row["sessionId"] for row in rows))
    existing = existing_events(tx.run(EXISTING_EVENTS, sessionIds=Rows(session_ids)).single(strict=True)["held"])
    for query, parameters in plan_events(rows, existing):
        tx.run(query, parameters).consume()
