"""The server's ceiling for a sessions file: the same nodes and relationships the sessions writer makes on a
first load, written with bare ``UNWIND … CREATE`` from rows parsed and resolved beforehand.

What the loader decides while it writes (which identifiers exist, which pairs to link and since when,
which customer an identifier identifies) is computed here in Python before the clock starts: identities
with their first/last seen, the ``Session`` nodes with ``AT_STORE``, ``IDENTIFIED_BY`` and ``HAD_SESSION``,
``LINKED_TO`` between every two identifiers of a session (earliest ``at``, ``origin``), ``IDENTIFIES`` for the
logged-in sessions' identifiers not identifying anyone yet, and what stitching adds after the file
(``HAD_SESSION`` of the anonymous sessions whose identifier identifies a customer). Writers take the
loader's partitions (:func:`loaders.entities.sessions_by_owner`; the backfill by customer).
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from graph_model.connection import Rows, execute_write, run_query
from loaders.batching import chunks, partition_of
from loaders.entities import SPECS, sessions_by_owner
from loaders.exports import recognise
from loaders.readers import UnreadableRow, read_rows

NEW_IDENTITIES = """UNWIND $rows AS r
CREATE (:Identity {identityKey: r.key, type: r.type, value: r.value, firstSeen: r.first, lastSeen: r.last})"""
KNOWN_IDENTITIES = """UNWIND $rows AS r MATCH (i:Identity {identityKey: r.key})
SET i.firstSeen = r.first, i.lastSeen = r.last"""
SESSIONS = """UNWIND $rows AS r
CREATE (s:Session {sessionId: r.sessionId, channel: r.channel, startedAt: r.startedAt}) SET s += r.props
WITH s, r
CALL (s, r) { WITH s, r WHERE r.storeId IS NOT NULL MATCH (st:Store {storeId: r.storeId}) CREATE (s)-[:AT_STORE]->(st) }
CALL (s, r) { UNWIND r.identities AS id MATCH (i:Identity {identityKey: id.key})
              CREATE (s)-[:IDENTIFIED_BY {at: r.startedAt}]->(i) }
CALL (s, r) { WITH s, r WHERE r.customerId IS NOT NULL MATCH (c:Customer {customerId: r.customerId})
              CREATE (c)-[:HAD_SESSION {at: r.startedAt}]->(s) }"""
LINKS = """UNWIND $rows AS r MATCH (a:Identity {identityKey: r.a}) MATCH (b:Identity {identityKey: r.b})
CREATE (a)-[:LINKED_TO {at: r.at, origin: r.origin}]->(b)"""
BACKFILL = """UNWIND $rows AS r MATCH (c:Customer {customerId: r.customerId}) MATCH (s:Session {sessionId: r.sessionId})
CREATE (c)-[:HAD_SESSION {at: r.at}]->(s)"""
CLAIMS = """UNWIND $rows AS r MATCH (i:Identity {identityKey: r.key}) MATCH (c:Customer {customerId: r.customerId})
CREATE (i)-[:IDENTIFIES {at: r.at}]->(c)"""


def session_params(path: Path) -> list[dict[str, Any]]:
    """The sessions file's valid rows as the writer's parameters (validated here, outside the timing)."""
    export = recognise(path, "sessions")
    assert export is not None
    spec = SPECS["sessions"]
    return [spec.params(spec.schema.model_validate(raw)) for _, raw in read_rows(export)
            if not isinstance(raw, UnreadableRow)]


Statements = list[tuple[str, list[dict[str, Any]]]]


def plan(rows: list[dict[str, Any]], writers: int) -> list[list[Statements]]:
    """Three phases (identities; sessions with their links and claims; the stitching's backfill), each the
    statements per writer."""
    keys = sorted({identity["key"] for row in rows for identity in row["identities"]})
    existing = {r["key"]: r["customerId"] for r in run_query(
        "UNWIND $keys AS key MATCH (i:Identity {identityKey: key}) "
        "RETURN key, head([(i)-[:IDENTIFIES]->(c:Customer) | c.customerId]) AS customerId", {"keys": keys},
        write=False)}
    identities: dict[str, dict[str, Any]] = {}
    links: dict[tuple[str, str], dict[str, Any]] = {}
    claims: dict[str, dict[str, Any]] = {}
    owner_of_key: dict[str, int] = {}
    parts: list[dict[str, list[dict[str, Any]]]] = [defaultdict(list) for _ in range(writers)]
    for row, owner in sessions_by_owner(rows, params=lambda row: row):
        p = partition_of(owner, writers)
        parts[p]["sessions"].append(row)
        at = row["startedAt"]
        for identity in row["identities"]:
            key = identity["key"]
            owner_of_key.setdefault(key, p)
            seen = identities.setdefault(key, {"key": key, "type": identity["type"], "value": identity["value"],
                                               "first": at, "last": at})
            seen["first"], seen["last"] = min(seen["first"], at), max(seen["last"], at)
            if row["customerId"] is not None and not existing.get(key):
                claim = claims.setdefault(key, {"key": key, "customerId": row["customerId"], "at": at})
                if claim["customerId"] == row["customerId"]:
                    claim["at"] = min(claim["at"], at)
        ids = sorted(row["identities"], key=lambda identity: identity["key"])
        for i, a in enumerate(ids):
            for b in ids[i + 1:]:
                origin = "login" if "customer_ref" in (a["type"], b["type"]) else "session"
                link = links.setdefault((a["key"], b["key"]), {"a": a["key"], "b": b["key"], "at": at, "origin": origin})
                link["at"] = min(link["at"], at)
    for key, identity in identities.items():
        parts[owner_of_key[key]]["known" if key in existing else "new"].append(identity)
    for (a, _), link in links.items():
        parts[owner_of_key[a]]["links"].append(link)
    for key, claim in claims.items():
        parts[owner_of_key[key]]["claims"].append(claim)
    owners = {key: customer for key, customer in existing.items() if customer} | {
        key: claim["customerId"] for key, claim in claims.items()}
    for session, customer, new_claims in backfill(rows, owners):
        p = partition_of(customer, writers)
        parts[p]["backfill"].append(session)
        parts[p]["backfill_claims"].extend(new_claims)
    phases = ((("new", NEW_IDENTITIES), ("known", KNOWN_IDENTITIES)),  # every identity exists before phase 2
              (("sessions", SESSIONS), ("links", LINKS), ("claims", CLAIMS)),
              (("backfill", BACKFILL), ("backfill_claims", CLAIMS)))
    return [[[(query, part[name]) for name, query in phase if part[name]] for part in parts] for phase in phases]


def backfill(rows: list[dict[str, Any]], owners: dict[str, str],
             rounds: int = 4) -> list[tuple[dict[str, Any], str, list[dict[str, Any]]]]:
    """The stitching after the file (:func:`loaders.identity.stitch_sessions`): an anonymous session whose
    identifier identifies a customer becomes theirs (the smallest customer id), and its unclaimed identifiers
    then identify that customer too; ``(session row, customer, claims)`` per session, ``owners`` updated."""
    attached: list[tuple[dict[str, Any], str, list[dict[str, Any]]]] = []
    waiting = [row for row in rows if row["customerId"] is None]
    for _ in range(rounds):
        still = []
        for row in waiting:
            found = [owners[identity["key"]] for identity in row["identities"] if identity["key"] in owners]
            if not found:
                still.append(row)
                continue
            customer = min(found)
            claims = [{"key": identity["key"], "customerId": customer, "at": row["startedAt"]}
                      for identity in row["identities"] if identity["key"] not in owners]
            owners.update((claim["key"], customer) for claim in claims)
            attached.append(({"sessionId": row["sessionId"], "customerId": customer, "at": row["startedAt"]},
                             customer, claims))
        if len(still) == len(waiting):
            break
        waiting = still
    return attached


def _write(statements: Statements, batch_size: int) -> None:
    for query, items in statements:
        for batch in chunks(items, batch_size):
            execute_write(lambda tx, q=query, b=batch: tx.run(q, rows=Rows(b)).consume())


def ceiling(path: Path, writers: int, batch_size: int) -> tuple[int, float]:
    """Write the sessions of ``path`` the bare way, ``writers`` threads; ``(sessions, seconds)``."""
    rows = session_params(path)
    phases = plan(rows, writers)
    t0 = time.perf_counter()
    for phase in phases:
        threads = [threading.Thread(target=_write, args=(statements, batch_size)) for statements in phase]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return len(rows), time.perf_counter() - t0


def session_graph_counts() -> dict[str, int]:
    """Counts of what a sessions file writes (nodes, relationships)."""
    query = """CALL { MATCH (s:Session) RETURN count(s) AS n UNION ALL MATCH (i:Identity) RETURN count(i) AS n
                      UNION ALL MATCH ()-[r:IDENTIFIED_BY]->() RETURN count(r) AS n
                      UNION ALL MATCH ()-[r:HAD_SESSION]->() RETURN count(r) AS n
                      UNION ALL MATCH ()-[r:AT_STORE]->(:Store) RETURN count(r) AS n
                      UNION ALL MATCH ()-[r:LINKED_TO]->() RETURN count(r) AS n
                      UNION ALL MATCH ()-[r:IDENTIFIES]->() RETURN count(r) AS n }
               RETURN collect(n) AS counts"""
    names = ("Session", "Identity", "IDENTIFIED_BY", "HAD_SESSION", "AT_STORE", "LINKED_TO", "IDENTIFIES")
    return dict(zip(names, run_query(query, write=False)[0]["counts"], strict=True))
