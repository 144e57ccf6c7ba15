"""The right to erasure (GDPR Art. 17), in one transaction, that lasts.

What erasing a customer does (``docs/privacy.md`` has the reader's version):

* **removes** the Customer node and with it name, email hash, home location, city, consents,
  ``RESPONDED`` (reply texts, the API's idempotency keys), ``RECOMMENDED``, ``BUY_AGAIN``, ``SIMILAR_TO`` (both ways), ``IN_SEGMENT``, the RFM and
  retention properties; the identities that belong only to this person (those that identify them, and
  anonymous ones seen on no one else's session) with their ``LINKED_TO``; on the person's sessions the
  device, the ``IDENTIFIED_BY`` links, the events' search text (and ``SEARCHED``; a search text nobody
  else typed goes too), custom events' properties and the query strings of page URLs; the associates'
  notes about them (``Note``);
* **keeps**, detached from any person, the anonymous facts: orders and their lines (product-level
  counts, affinities and trends stay as they were), sessions and their product events, store visits
  (with a new random id), messages sent;
* **writes** tombstones (keyed hashes of the customer id, of every erased identifier and of the person's
  sessions' ids, so that reloading their events never brings the free text back; see
  :mod:`graph_model.privacy.tombstone`), marked ``suppressed`` so the opt-out outlives the data, and an
  audit entry;
* then purges the person's lines from every ``rejects.jsonl`` (:func:`graph_model.privacy.redaction.purge_person`).

Erasing an erased customer answers ``already_erased``; an id that never existed answers ``found = False``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from neo4j import ManagedTransaction

from graph_model.connection import execute_write
from graph_model.model.customers import identity_key, normal_key
from graph_model.privacy import audit, ledger
from graph_model.privacy.keys import customer_hash, load_key
from graph_model.privacy.redaction import purge_person, runs_dir
from graph_model.privacy.tombstone import ERASED_KEYS, begin_erasure, tombstone_rows, write_tombstones

FIND_PERSON = """
MATCH (c:Customer {customerId: $customerId})
OPTIONAL MATCH (own:Identity)-[:IDENTIFIES]->(c)
WITH c, collect(DISTINCT own) AS owned
CALL (c) {
  OPTIONAL MATCH (c)-[:HAD_SESSION]->(s:Session)
  RETURN collect(DISTINCT s) AS direct
}
CALL (c, owned) {
  UNWIND owned AS i
  MATCH (s:Session)-[:IDENTIFIED_BY]->(i)
  WHERE NOT EXISTS { MATCH (other:Customer)-[:HAD_SESSION]->(s) WHERE other <> c }
  RETURN collect(DISTINCT s) AS viaIdentity
}
WITH c, owned, direct + [s IN viaIdentity WHERE NOT s IN direct] AS sessions
CALL (owned, sessions) {
  UNWIND sessions AS s
  MATCH (s)-[:IDENTIFIED_BY]->(j:Identity)
  WHERE NOT j IN owned AND NOT EXISTS { MATCH (j)-[:IDENTIFIES]->(:Customer) }
  WITH DISTINCT j, sessions
  WHERE all(o IN [(o:Session)-[:IDENTIFIED_BY]->(j) | o] WHERE o IN sessions)
  RETURN collect(j) AS anonymousOnly
}
RETURN c.customerId AS customerId, c.emailHash AS emailHash,
       [i IN owned + anonymousOnly | i.identityKey] AS identityKeys,
       [s IN sessions | s.sessionId] AS sessionIds
"""

SCRUB_SESSION = """
CALL (s) {
  SET s.device = null
  WITH s
  CALL (s) {
    MATCH (s)-[b:IDENTIFIED_BY]->(:Identity)
    DELETE b
  }
  CALL (s) {
    MATCH (s)-[:CONTAINS]->(e:Event)
    SET e.query = null, e.properties = null,
        e.page = CASE WHEN e.page IS NULL THEN null ELSE split(split(e.page, '?')[0], '#')[0] END
    WITH e
    MATCH (e)-[x:SEARCHED]->(q:SearchQuery)
    DELETE x
    WITH DISTINCT q
    WHERE NOT EXISTS { MATCH (:Event)-[:SEARCHED]->(q) }
    DELETE q
  }
}
"""
"""De-identify the session ``s`` in scope (a fragment: erasure and :mod:`graph_model.privacy.retention`): no
device, no ``IDENTIFIED_BY``, no search text (a search text nobody else typed goes), no custom event's
properties (free data from a tracking call; the event and its name stay), no URL query strings."""

SCRUB_SESSIONS = """
UNWIND $sessionIds AS sessionId
MATCH (s:Session {sessionId: sessionId})
""" + SCRUB_SESSION + """
RETURN count(s) AS sessions
"""

SESSIONS_TO_SCRUB = """
UNWIND $sessionIds AS sessionId
MATCH (s:Session {sessionId: sessionId})
WHERE s.device IS NOT NULL
   OR EXISTS { (s)-[:IDENTIFIED_BY]->(:Identity) }
   OR EXISTS { MATCH (s)-[:CONTAINS]->(e:Event)
               WHERE e.query IS NOT NULL OR e.properties IS NOT NULL OR e.page CONTAINS '?' OR e.page CONTAINS '#'
                  OR EXISTS { (e)-[:SEARCHED]->(:SearchQuery) } }
RETURN collect(s.sessionId) AS sessionIds
"""
"""Of ``$sessionIds``, the sessions that hold something :data:`SCRUB_SESSION` removes (a test scrubs one and
finds it no longer listed)."""

#: The new id of a visit that no longer belongs to anyone (erasure, retention): random, so it names no one.
ANONYMOUS_VISIT_ID = "'visit:' + randomUUID()"

DELETE_PERSON = """
MATCH (c:Customer {customerId: $customerId})
CALL (c) {
  OPTIONAL MATCH (c)-[:HAS_CONSENT]->(k:Consent)
  DETACH DELETE k
  RETURN count(k) AS consents
}
CALL (c) {
  OPTIONAL MATCH (c)-[:HAS_NOTE]->(n:Note)
  DETACH DELETE n
  RETURN count(n) AS notes
}
CALL (c) {
  OPTIONAL MATCH (c)-[:MADE_VISIT]->(v:Visit)
  SET v.visitId = """ + ANONYMOUS_VISIT_ID + """
  RETURN count(v) AS visits
}
CALL (c) {
  OPTIONAL MATCH (c)-[r:RECOMMENDED|BUY_AGAIN|SIMILAR_TO|IN_SEGMENT|RESPONDED]-()
  RETURN count(r) AS derived
}
CALL (c) {
  UNWIND $identityKeys AS identityKey
  MATCH (i:Identity {identityKey: identityKey})
  DETACH DELETE i
  RETURN count(*) AS identities
}
DETACH DELETE c
RETURN consents, notes, visits, derived, identities
"""


@dataclass(frozen=True)
class ErasureResult:
    """What one erasure did."""

    customer_id: str
    found: bool
    already_erased: bool = False
    identities_removed: int = 0
    consents_removed: int = 0
    sessions_scrubbed: int = 0
    visits_detached: int = 0
    results_removed: int = 0  # algorithm results and responses about the person
    reject_lines_removed: int = 0
    notes_removed: int = 0  # the associates' notes about the person

    @property
    def erased(self) -> bool:
        """True when the person is erased now (by this call or an earlier one)."""
        return self.found or self.already_erased


def _erase(tx: ManagedTransaction, customer_id: str, actor: str,
           key: bytes) -> tuple[ErasureResult, list[str], list[dict[str, str]], datetime]:
    begin_erasure(tx, key=key)
    person = tx.run(FIND_PERSON, customerId=customer_id).single()
    if person is None:
        known = tx.run(ERASED_KEYS, hashes=[customer_hash(customer_id, key=key)]).single() is not None
        return ErasureResult(customer_id, found=False, already_erased=known), [], [], datetime.now(UTC)
    identity_keys: list[str] = list(person["identityKeys"])
    identity_keys.append(identity_key("customer_ref", customer_id))
    if person["emailHash"]:
        identity_keys.append(identity_key("email_hash", person["emailHash"]))
    identity_keys = sorted(set(identity_keys))
    scrubbed = tx.run(SCRUB_SESSIONS, sessionIds=person["sessionIds"]).single(strict=True)["sessions"]
    counts = tx.run(DELETE_PERSON, customerId=customer_id, identityKeys=identity_keys).single(strict=True)
    at = datetime.now(UTC)
    tombstones = tombstone_rows(customer_id, identity_keys, person["sessionIds"], key=key)
    write_tombstones(tx, tombstones, at)
    tx.run(audit.RECORD_ENTRIES, entries=[audit.audit_entry(
        actor, "erase", customer_id, f"identities={counts['identities']} sessions={scrubbed}", at=at)]).consume()
    values = [customer_id] + [k.partition(":")[2] for k in identity_keys]
    return ErasureResult(customer_id, found=True, identities_removed=counts["identities"],
                         consents_removed=counts["consents"], sessions_scrubbed=scrubbed,
                         visits_detached=counts["visits"], results_removed=counts["derived"],
                         notes_removed=counts["notes"]), values, tombstones, at


def erase_customer(customer_id: str, *, actor: str, reject_roots: Iterable[Path] | None = None) -> ErasureResult:
    """Erase one customer (see the module docstring); ``reject_roots``: where to purge reject files
    (default: :func:`graph_model.privacy.redaction.runs_dir`)."""
    key = load_key()
    customer_id = normal_key(customer_id)  # as every way in reads an id: " C1" and a decomposed "Ë" are C1 and Ë
    result, values, tombstones, at = execute_write(_erase, customer_id, actor, key)
    roots = list(reject_roots) if reject_roots is not None else [runs_dir()]
    if result.already_erased:  # a reject line written since (a run that read the tombstones before) goes now
        return ErasureResult(**{**result.__dict__, "reject_lines_removed": purge_person([customer_id], roots, key=key)})
    if not result.found:
        return result
    ledger.record(tombstones, at, key=key)  # committed: kept outside the database too
    removed = purge_person(values, roots, key=key)
    return ErasureResult(**{**result.__dict__, "reject_lines_removed": removed})


SESSIONS_IDENTIFIED_BY = """
UNWIND $identityKeys AS identityKey
MATCH (s:Session)-[:IDENTIFIED_BY]->(:Identity {identityKey: identityKey})
RETURN collect(DISTINCT s.sessionId) AS sessionIds
"""

DELETE_IDENTITIES = """
UNWIND $identityKeys AS identityKey
MATCH (i:Identity {identityKey: identityKey})
DETACH DELETE i
RETURN count(i) AS identities
"""


@dataclass(frozen=True)
class ErasedAgain:
    """What :func:`erase_again` found written again and erased."""

    customers: int = 0
    identities: int = 0
    sessions: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def _erase_identifiers(tx: ManagedTransaction, identity_keys: list[str], session_ids: list[str], actor: str,
                       why: str, key: bytes) -> tuple[int, int, list[dict[str, str]], datetime]:
    begin_erasure(tx, key=key)  # new session tombstones: counted, as an erasure's
    sessions = set(session_ids)
    if identity_keys:
        sessions.update(tx.run(SESSIONS_IDENTIFIED_BY, identityKeys=identity_keys).single(strict=True)["sessionIds"])
    ordered = sorted(sessions)
    scrubbed = tx.run(SCRUB_SESSIONS, sessionIds=ordered).single(strict=True)["sessions"] if ordered else 0
    deleted = tx.run(DELETE_IDENTITIES, identityKeys=identity_keys).single(strict=True)["identities"] \
        if identity_keys else 0
    at, tombstones = datetime.now(UTC), []
    if scrubbed or deleted:
        tombstones = tombstone_rows(None, identity_keys, ordered, key=key)
        write_tombstones(tx, tombstones, at)
        tx.run(audit.RECORD_ENTRIES, entries=[audit.audit_entry(
            actor, "erase", None, f"again {why}: identities deleted={deleted} sessions scrubbed={scrubbed}",
            at=at)]).consume()
    return deleted, scrubbed, tombstones, at


def erase_again(customer_ids: Iterable[str], identity_keys: Iterable[str], session_ids: Iterable[str], *,
                actor: str, why: str = "after a run that wrote meanwhile",
                reject_roots: Iterable[Path] | None = None) -> ErasedAgain:
    """Erase again what is in the graph of people already erased (a run's writes whose tombstones are newer than
    its start, :mod:`graph_model.privacy.tombstone`, or what :mod:`graph_model.privacy.sweep` finds): each
    customer as :func:`erase_customer` does; each identifier deleted, the sessions it identifies scrubbed and
    tombstoned (as a row carrying an erased identifier is withheld); each of an erased person's sessions
    scrubbed again (events with search text written after the erasure). ``why`` goes into the audit entry."""
    roots = list(reject_roots) if reject_roots is not None else [runs_dir()]
    customers = sum(erase_customer(c, actor=actor, reject_roots=roots).found for c in sorted(set(customer_ids)))
    # a row naming the customer (a session) writes their own identifier even when their node is gone: found by a
    # re-audit (stop 40), `customer_ref:<id>` left in clear after an erasure during a load
    keys = sorted(set(identity_keys) | {identity_key("customer_ref", c) for c in customer_ids})
    sessions = sorted(set(session_ids))
    if not keys and not sessions:
        return ErasedAgain(customers=customers)
    key = load_key()
    deleted, scrubbed, tombstones, at = execute_write(_erase_identifiers, keys, sessions, actor, why, key)
    ledger.record(tombstones, at, key=key)
    if keys:  # the run's rejects (and earlier ones) may carry the identifier too
        purge_person([k.partition(":")[2] for k in keys], roots, key=key)
    return ErasedAgain(customers=customers, identities=deleted, sessions=scrubbed)


def result_row(result: ErasureResult) -> dict[str, Any]:
    """The result as plain data (for the CLI's JSON and the API payload)."""
    return {**result.__dict__, "erased": result.erased}
