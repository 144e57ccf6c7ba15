"""Erasure tombstones: was this customer id or identifier erased? Asked by every write path.

A tombstone holds the keyed hash (:mod:`graph_model.privacy.keys`) of an erased customer id, identity
key or session id (the person's sessions, kept anonymous: a reload must not bring their free text back),
never the value. Loaders read all tombstones once per run into :class:`Tombstones` and test each
row in memory; the API asks :data:`ERASED_KEYS` per request.

**Erasures while a run writes.** A run (a nightly load, one batch of the collector) reads the tombstones when
it starts, so a person erased by another process meanwhile would be written again by its later rows. The
``PrivacyKey`` node counts erasures (``erasures``): an erasure counts itself first (:data:`COUNT_ERASURE`, a
write lock held until it commits, before it reads the person), and a run, once its writes are committed,
asks :meth:`Tombstones.current` (:data:`WAIT_FOR_ERASURES` takes the same lock, so it waits for an erasure in
flight, then reads the count). A count that moved means new tombstones: the run erases again what it wrote of
them (:func:`graph_model.privacy.erasure.erase_again`). An erasure that counts itself after that read
started after the run's writes were committed, so it finds and erases everything the run wrote.

The graph also keeps the fingerprint of the key the tombstones were made with
(``(:PrivacyKey {name: 'privacy', fingerprint})``, unique by ``name``); :func:`check_key` refuses a process whose key differs, since its
hashes would match no tombstone and erased people would come back.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from neo4j import ManagedTransaction

from graph_model.errors import ConfigurationError
from graph_model.privacy import ledger
from graph_model.privacy.keys import customer_hash, identity_hash, key_fingerprint, load_key, session_hash

ALL_TOMBSTONES = "MATCH (t:Tombstone) RETURN collect(t.hash) AS hashes"  # one record, not one per erasure

#: How many erasures the graph has seen (read before the tombstones, so any later one moves it).
ERASURE_COUNT = "MATCH (k:PrivacyKey {name: 'privacy'}) RETURN coalesce(k.erasures, 0) AS erasures"

#: An erasure's first write: counted, and the key node locked until the erasure commits.
COUNT_ERASURE = "MATCH (k:PrivacyKey {name: 'privacy'}) SET k.erasures = coalesce(k.erasures, 0) + 1"

#: The count, once no erasure is in flight (the same lock as :data:`COUNT_ERASURE`; the value is unchanged).
WAIT_FOR_ERASURES = """
MATCH (k:PrivacyKey {name: 'privacy'})
SET k.erasures = coalesce(k.erasures, 0)
RETURN k.erasures AS erasures
"""

ERASED_KEYS = """
UNWIND $hashes AS h
MATCH (t:Tombstone {hash: h})
RETURN t.hash AS hash
"""

WRITE_TOMBSTONES = """
UNWIND $rows AS r
MERGE (t:Tombstone {hash: r.hash})
  ON CREATE SET t.kind = r.kind, t.suppressed = true, t.erasedAt = $at
"""

#: The ledger's tombstones the graph lacks (a rebuilt or restored graph: :mod:`graph_model.privacy.ledger`).
RESTORE_TOMBSTONES = """
UNWIND $rows AS r
MERGE (t:Tombstone {hash: r.hash})
  ON CREATE SET t += r
"""

KEY_FINGERPRINT = """
MERGE (k:PrivacyKey {name: 'privacy'})
  ON CREATE SET k.fingerprint = $fingerprint, k.createdAt = datetime()
RETURN k.fingerprint AS fingerprint
"""


class PrivacyKeyMismatch(ConfigurationError):
    """This process's privacy key is not the one the graph's tombstones were made with."""


def check_key(tx: ManagedTransaction, *, key: bytes | None = None) -> None:
    """Record the key's fingerprint in the graph on first use; raise :class:`PrivacyKeyMismatch` if it differs."""
    mine = key_fingerprint(key=key)
    stored = tx.run(KEY_FINGERPRINT, fingerprint=mine).single(strict=True)["fingerprint"]
    if stored != mine:
        raise PrivacyKeyMismatch(
            "the privacy key of this process differs from the one this graph's erasure tombstones were made "
            "with: set CUSTOMER_GRAPH_PRIVACY_KEY to the deployment's key (see docs/privacy.md)")


def begin_erasure(tx: ManagedTransaction, *, key: bytes) -> None:
    """An erasure's first statements: the key checked, then the erasure counted (:data:`COUNT_ERASURE`), so a run
    writing meanwhile waits for it and then erases again what it wrote of the person."""
    check_key(tx, key=key)
    tx.run(COUNT_ERASURE).consume()


def tombstone_rows(customer_id: str | None, identity_keys: Iterable[str], session_ids: Iterable[str] = (), *,
                   key: bytes | None = None) -> list[dict[str, str]]:
    """The tombstone rows for an erased customer id, identity keys (``"<type>:<value>"``) and session ids."""
    key = key or load_key()
    rows = [{"hash": customer_hash(customer_id, key=key), "kind": "customer"}] if customer_id else []
    rows += [{"hash": identity_hash(k, key=key), "kind": "identity"} for k in sorted(set(identity_keys))]
    rows += [{"hash": session_hash(s, key=key), "kind": "session"} for s in sorted(set(session_ids))]
    return rows


def write_tombstones(tx: ManagedTransaction, rows: list[dict[str, str]], at: datetime | None = None) -> None:
    """Create the tombstones (idempotent)."""
    tx.run(WRITE_TOMBSTONES, rows=rows, at=at or datetime.now(UTC)).consume()


@dataclass(frozen=True)
class Tombstones:
    """Every tombstone hash, in memory, with the key to hash what a row carries (for the loaders)."""

    hashes: frozenset[str]
    key: bytes
    erasures: int = 0  # the graph's erasure count when they were read

    @staticmethod
    def read(tx: ManagedTransaction) -> Tombstones:
        """All tombstones (after checking the key against the graph's fingerprint), those of the erasure ledger
        the graph lacks written back first (:func:`restore_from_ledger`)."""
        key = load_key()
        check_key(tx, key=key)
        erasures = tx.run(ERASURE_COUNT).single(strict=True)["erasures"]
        hashes = frozenset(tx.run(ALL_TOMBSTONES).single(strict=True)["hashes"])
        return Tombstones(hashes | restore_from_ledger(tx, hashes, key=key), key, erasures)

    @staticmethod
    def before_the_database(key: bytes) -> Tombstones:
        """The tombstones of a database not created yet (the bulk loader imports first): the erasure ledger's."""
        return Tombstones(frozenset(entry.hash for entry in ledger.entries(key=key)), key)

    def current(self, tx: ManagedTransaction) -> Tombstones:
        """The tombstones now, once no erasure is in flight: ``self`` when no erasure happened since they were
        read, else all of them read again (in a write transaction: it waits for the erasures' lock)."""
        row = tx.run(WAIT_FOR_ERASURES).single()
        if row is None or row["erasures"] == self.erasures:  # no key node: nothing was ever erased
            return self
        return Tombstones(frozenset(tx.run(ALL_TOMBSTONES).single(strict=True)["hashes"]), self.key, row["erasures"])

    def customer_erased(self, customer_id: str | None) -> bool:
        """True when ``customer_id`` was erased."""
        return bool(self.hashes) and customer_id is not None and customer_hash(customer_id, key=self.key) in self.hashes

    def identity_erased(self, identity_key: str | None) -> bool:
        """True when the identity key (``"<type>:<value>"``) was erased."""
        return bool(self.hashes) and identity_key is not None and identity_hash(identity_key, key=self.key) in self.hashes

    def session_erased(self, session_id: str | None) -> bool:
        """True when ``session_id`` was one of an erased person's sessions."""
        return bool(self.hashes) and session_id is not None and session_hash(session_id, key=self.key) in self.hashes

    def any_erased(self, customer_ids: Iterable[str | None] = (), identity_keys: Iterable[str | None] = ()) -> bool:
        """True when any of the customer ids or identity keys was erased."""
        if not self.hashes:
            return False
        return any(map(self.customer_erased, customer_ids)) or any(map(self.identity_erased, identity_keys))


def restore_from_ledger(tx: ManagedTransaction, present: frozenset[str], *, key: bytes) -> frozenset[str]:
    """Write the erasure ledger's tombstones that are not among ``present`` (the graph's); return their hashes."""
    missing = [entry for entry in ledger.entries(key=key) if entry.hash not in present]
    if missing:  # counted as an erasure: a run writing meanwhile checks its rows against them at its end
        tx.run(COUNT_ERASURE).consume()
        tx.run(RESTORE_TOMBSTONES, rows=[entry.node_properties() for entry in missing]).consume()
    return frozenset(entry.hash for entry in missing)


def erased_hashes(rows: Iterable[dict[str, Any]]) -> set[str]:
    """The hashes of :data:`ERASED_KEYS` result rows."""
    return {row["hash"] for row in rows}
