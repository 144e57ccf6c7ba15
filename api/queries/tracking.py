"""``trackEvent``'s writes: an interaction event (or a store check-in) created or matched on its ``eventId``
in one transaction, through the loaders' writers.

One transaction per call:

1. **claim** the id: ``MERGE`` on the natural key (``Event.eventId``; a check-in's ``Visit.visitId``),
   which the uniqueness constraint serialises, so concurrent retries wait for the first and then match
   it; whether this transaction created the node comes back with the stored content;
2. a matched id answers the stored content when the request says the same thing (``duplicate``), else
   :class:`~api.errors.Conflict`; a created one is written:
3. the session is locked, and refused (``Conflict``) when it belongs to another customer; then the
   loaders' Cypher writes it (:data:`loaders.writers.sessions.SESSIONS`), the event and the ``NEXT``
   chain (:func:`loaders.writers.events.plan_events`: a late event is chained in time order, gaps in
   fractional seconds) or the visit (:data:`loaders.writers.visits.VISITS`).

Raising inside the transaction rolls the claim back: a refused request writes nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import neo4j

from api.db import Database, Row
from api.db import rows as tx_rows
from api.errors import Conflict
from loaders.writers.events import EXISTING_EVENTS, existing_events, plan_events
from loaders.writers.sessions import SESSIONS
from loaders.writers.visits import VISITS

CHECK_IN_TYPE = "store_check_in"

# The claim leaves no trace: the token marks the node only while this transaction decides it created it.
CLAIM_EVENT = """
MERGE (e:Event {eventId: $eventId})
  ON CREATE SET e.claimToken = $token
WITH e, coalesce(e.claimToken = $token, false) AS created
FOREACH (_ IN CASE WHEN created THEN [1] ELSE [] END | REMOVE e.claimToken)
WITH e, created
OPTIONAL MATCH (s:Session)-[:CONTAINS]->(e)
RETURN created, EXISTS { MATCH (:Visit {visitId: $eventId}) } AS otherKind,
       e.type AS type, e.at AS at, e.page AS page, e.query AS query, e.resultsCount AS resultsCount,
       e.quantity AS quantity, s.sessionId AS sessionId,
       [(c:Customer)-[:HAD_SESSION]->(s) | c.customerId] AS customerIds,
       [(s)-[:AT_STORE]->(st:Store) | st.storeId] AS storeIds,
       [(e)-[:ABOUT_PRODUCT]->(p:Product) | p.sku][0] AS sku,
       [(e)-[:ABOUT_CATEGORY]->(cat:Category) | cat.categoryId][0] AS categoryId,
       [(e)-[:PLACED_ORDER]->(o:Order) | o.orderId][0] AS orderId
"""

CLAIM_VISIT = """
MERGE (v:Visit {visitId: $eventId})
  ON CREATE SET v.claimToken = $token
WITH v, coalesce(v.claimToken = $token, false) AS created
FOREACH (_ IN CASE WHEN created THEN [1] ELSE [] END | REMOVE v.claimToken)
RETURN created, EXISTS { MATCH (:Event {eventId: $eventId}) } AS otherKind,
       v.arrivedAt AS at, v.source AS source,
       [(c:Customer)-[:MADE_VISIT]->(v) | c.customerId] AS customerIds,
       [(v)-[:TO_STORE]->(st:Store) | st.storeId] AS storeIds
"""

# Locks the session (created bare when new; SESSIONS fills it) so writes to one session take turns.
SESSION_STATE = """
MERGE (s:Session {sessionId: $sessionId})
SET s.writeLock = true
REMOVE s.writeLock
RETURN s.channel AS channel, s.startedAt AS startedAt, s.endedAt AS endedAt, s.device AS device,
       [(c:Customer)-[:HAD_SESSION]->(s) | c.customerId] AS customerIds
"""

_EVENT_FIELDS = ("type", "sessionId", "page", "query", "resultsCount", "quantity", "sku", "categoryId", "orderId")


@dataclass(frozen=True)
class Recorded:
    """What the graph holds for an ``eventId`` once ``trackEvent`` is done (``created``: by this call)."""

    created: bool
    type: str
    at: datetime
    session_id: str | None
    customer_id: str | None


@dataclass(frozen=True)
class SessionInput:
    """The session fields of a tracked event (the identity as ``{key, type, value}``)."""

    channel: str
    device: str | None
    customer_id: str | None
    store_id: str | None
    identity: dict[str, str] | None


async def _run(tx: neo4j.AsyncManagedTransaction, query: str, parameters: dict[str, Any]) -> None:
    await (await tx.run(query, parameters)).consume()


async def _claim(tx: neo4j.AsyncManagedTransaction, query: str, event_id: str) -> Row:
    return (await tx_rows(tx, query, {"eventId": event_id, "token": uuid.uuid4().hex}))[0]


def _conflict(event_id: str, fields: list[str]) -> Conflict:
    return Conflict(f"eventId {event_id!r} was recorded before with other content ({', '.join(fields)}).",
                    argument="eventId", fields=fields)


def _not_theirs(event_id: str, stored: Row, caller: str | None) -> None:
    """A customer token asking about an id another customer's (or an anonymous) event holds learns only that
    the id is taken, never which fields differ: one guess at a time they would tell what that customer did
    (found by the stop-37 audit: `fields` without `sku` confirmed a guessed product)."""
    if caller is not None and caller not in stored["customerIds"]:
        raise Conflict(f"eventId {event_id!r} is taken: send a new one.", argument="eventId")


def _unless_same(event_id: str, stored: Row, wanted: Row, *, at_given: bool) -> None:
    """Raise :class:`Conflict` naming the fields where the stored event and the request differ (a time the
    caller did not give, or a customer or store it did not name, is not compared)."""
    fields = [name for name in _EVENT_FIELDS if stored[name] != wanted[name]]
    if at_given and stored["at"] != wanted["at"]:
        fields.append("at")
    for name, among in (("customerId", "customerIds"), ("storeId", "storeIds")):
        if wanted[name] is not None and wanted[name] not in stored[among]:
            fields.append(name)
    if fields:
        raise _conflict(event_id, fields)


def session_row(state: Row, session_id: str, at: datetime, given: SessionInput) -> Row:
    """The loaders' session row (:data:`~loaders.writers.sessions.SESSIONS`) for a session seen at ``at``:
    it starts at its earliest event and ends at its latest (times read back are written as UTC offsets
    again, not as the zone the driver reads them in); the first channel and device stay."""
    started = at if state["startedAt"] is None else min(state["startedAt"].astimezone(UTC), at)
    ended = at if state["endedAt"] is None else max(state["endedAt"].astimezone(UTC), at)
    props: dict[str, Any] = {"endedAt": ended}
    if state["device"] is None and given.device is not None:
        props["device"] = given.device
    return {"sessionId": session_id, "channel": state["channel"] or given.channel, "startedAt": started,
            "customerId": given.customer_id, "storeId": given.store_id,
            "identities": [given.identity] if given.identity else [], "props": props}


async def _write_event(tx: neo4j.AsyncManagedTransaction, event: Row, session: SessionInput) -> None:
    """The session (locked; not another customer's), then the event and its session's NEXT chain, with
    the loaders' statements."""
    session_id = event["sessionId"]
    state = (await tx_rows(tx, SESSION_STATE, {"sessionId": session_id}))[0]
    if session.customer_id is not None and state["customerIds"] and session.customer_id not in state["customerIds"]:
        raise Conflict(f"Session {session_id!r} belongs to another customer.", argument="sessionId",
                       fields=["sessionId"])
    await _run(tx, SESSIONS, {"rows": [session_row(state, session_id, event["at"], session)]})
    existing = existing_events((await tx_rows(tx, EXISTING_EVENTS, {"sessionIds": [session_id]}))[0]["held"])
    existing.setdefault(session_id, {})[event["eventId"]] = None  # the node claimed above, content to come
    for query, parameters in plan_events([event], existing):
        await _run(tx, query, parameters)


async def track_event(db: Database, event: Row, session: SessionInput, *, at_given: bool,
                      caller: str | None = None) -> Recorded:
    """Create the event (a loaders' events row) and its session, or match an earlier one with the same
    ``eventId`` and content (:class:`Conflict` when the content differs), in one transaction. ``caller``: the
    customer of a customer token (it learns nothing of an event not its own)."""
    wanted = {**event, "customerId": session.customer_id, "storeId": session.store_id}

    async def work(tx: neo4j.AsyncManagedTransaction) -> Recorded:
        stored = await _claim(tx, CLAIM_EVENT, event["eventId"])
        if not stored["created"]:
            _not_theirs(event["eventId"], stored, caller)
        if stored["otherKind"]:
            raise _conflict(event["eventId"], ["type"])
        if stored["created"]:
            await _write_event(tx, event, session)
            return Recorded(True, event["type"], event["at"], event["sessionId"], session.customer_id)
        _unless_same(event["eventId"], stored, wanted, at_given=at_given)
        customer_id = session.customer_id or next(iter(stored["customerIds"]), None)
        return Recorded(False, stored["type"], stored["at"], stored["sessionId"], customer_id)

    return await db.write_transaction(work)


async def check_in(db: Database, *, event_id: str, customer_id: str, store_id: str, at: datetime,
                   at_given: bool, caller: str | None = None) -> Recorded:
    """Record a store check-in as a loyalty-scan visit with the loaders' visit writer, or match an earlier
    one with the same ``eventId``, customer, store (and time, when given)."""
    async def work(tx: neo4j.AsyncManagedTransaction) -> Recorded:
        stored = await _claim(tx, CLAIM_VISIT, event_id)
        if not stored["created"]:
            _not_theirs(event_id, stored, caller)
        if stored["otherKind"]:
            raise _conflict(event_id, ["type"])
        if stored["created"]:
            await _run(tx, VISITS, {"rows": [{"visitId": event_id, "customerId": customer_id, "storeId": store_id,
                                              "arrivedAt": at, "dwellMinutes": None, "source": "loyalty_scan",
                                              "zones": None}]})
            return Recorded(True, CHECK_IN_TYPE, at, None, customer_id)
        fields = [name for name, value, among in (("customerId", customer_id, "customerIds"),
                                                  ("storeId", store_id, "storeIds")) if value not in stored[among]]
        if at_given and stored["at"] != at:
            fields.append("at")
        if fields:
            raise _conflict(event_id, fields)
        return Recorded(False, CHECK_IN_TYPE, stored["at"], None, customer_id)

    return await db.write_transaction(work)
