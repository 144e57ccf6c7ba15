"""Bulk first load: the same validated rows as the transactional loaders, imported with ``neo4j-admin``.

For an **empty** database (nothing but the privacy bookkeeping: ``PrivacyKey``, ``Tombstone``,
``AuditEntry``, which are carried over). :class:`BulkLoader` is a :class:`loaders.pipeline.Loader`: rows
are read and validated by the same code (same schemas, reference checks, tombstones, rejects, report), but
instead of writing each batch it applies the row to an in-memory graph with the writers' semantics on an
empty graph (``MERGE`` on the natural key, an absent field keeps the value, an older ``updatedAt`` never
overwrites a newer one, a re-pointed single relationship replaces the old one, last row wins), derives what
the writers derive (the ``NEXT`` chain of each session in time order with ``gapSeconds`` from whole
microseconds, order totals, ``Identity.firstSeen/lastSeen``, ``HAD_SESSION.at`` ...), and at the end:

1. writes one header+data CSV per label and per relationship type (and start/end label) in the format of
   ``neo4j-admin database import full`` (``datetime``, ``point``, ``double``, ``long``, ``boolean``,
   ``string[]``), and the command that imports them (``import.sh``);
2. stops the local server, runs the import (``org.neo4j.cli.AdminTool`` from the project's resolved jars,
   ``--overwrite-destination``), starts the server again and applies the schema. When the local database
   has never been created (a new ``CUSTOMER_GRAPH_HOME``, server stopped: ``customer-graph up``'s first
   run), the import goes first and the start is the server's first: nothing is read from a database that
   cannot hold anything yet (no tombstones, no keys), nothing is stopped;
3. writes ``loyalty_scans`` with the transactional writer (a card is resolved through ``IDENTIFIES``, which
   the stitching completes).

Identity stitching over all sessions (:func:`loaders.identity.stitch_sessions`) runs on the graph in memory
before the CSVs are written (:meth:`BulkWriters.stitch`, the same steps in the same order; 25.6 s on
the bench drop's 211,686 sessions as Cypher after the import).

Consents are applied in memory by the consent writer's own rule
(:func:`graph_model.privacy.consent.apply_consents_in_memory`, audited as a load audits them), so are the
``unsubscribed`` responses' withdrawals (:func:`loaders.writers.conversation.unsubscribe_withdrawals`), and
pings are geofenced into visits under the policy's decision on the consents in memory (the same
:meth:`loaders.pipeline.Loader.permitted_by` and :func:`loaders.geofence.visits_from_pings`).

With ``bulk_csv_only`` nothing is imported: the CSVs, ``import.sh`` and the accepted rows of the entities
of step 3 (``after/``) are written into that folder, for a server whose files are elsewhere (Aura, a
cluster, another host); see ``docs/loaders.md``.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import shlex
import shutil
import subprocess
import time
from collections import defaultdict
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from itertools import islice
from pathlib import Path
from typing import Any

from graph_model import connection
from graph_model.connection import execute_write, run_query, session
from graph_model.database import database_not_created, local_server
from graph_model.errors import LocalServerError
from graph_model.local_server.distribution import ensure_distribution, java_executable
from graph_model.privacy import ledger
from graph_model.privacy.consent import apply_consents_in_memory, load_audit_entries
from graph_model.privacy.tombstone import check_key
from graph_model.schema import apply_schema
from loaders.batching import Item, Progress, chunks
from loaders.entities import EntitySpec
from loaders.geofence import visits_from_pings
from loaders.pipeline import Loader, LoadError, LoadOptions, SourceRows
from loaders.report import RunReport
from loaders.writers.conversation import unsubscribe_withdrawals
from loaders.writers.events import gap_seconds

log = logging.getLogger("loaders")

# Written by the transactional writer after the import and the stitching: a card is resolved through
# IDENTIFIES, which the stitching completes.
AFTER_IMPORT = ("loyalty_scans",)
# Nodes a database may hold and still count as empty for a bulk first load: carried over by the import.
BOOKKEEPING_LABELS = ("PrivacyKey", "Tombstone", "AuditEntry")
NODE_KEYS = {
    "Category": "categoryId", "Brand": "brandId", "Product": "sku", "Store": "storeId", "Country": "name",
    "Campaign": "campaignId", "Offer": "offerId", "Customer": "customerId", "Identity": "identityKey",
    "Session": "sessionId", "Order": "orderId", "Event": "eventId", "SearchQuery": "text", "Visit": "visitId",
    "Message": "messageId", "PrivacyKey": "name", "Tombstone": "hash", "AuditEntry": "entryId",
    "Consent": "consentId",
}
ARRAY_DELIMITER = "\x1f"  # never in a loaded value (list items come from `a|b` cells or JSON lists of keys)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Point:
    """A WGS-84 point (``point({latitude, longitude})``)."""

    latitude: float
    longitude: float


# ---------------------------------------------------------------------------------------------- helpers
def _earliest(current: Any, value: Any) -> Any:
    """``CASE WHEN cur IS NULL OR v < cur THEN v ELSE cur END``."""
    if current is None:
        return value
    return current if value is None or not value < current else value


def _latest(current: Any, value: Any) -> Any:
    """``CASE WHEN cur IS NULL OR v > cur THEN v ELSE cur END``."""
    if current is None:
        return value
    return current if value is None or not value > current else value


def _newer(stored: Any, given: Any) -> bool:
    """``stored IS NULL OR given IS NULL OR given >= stored``: the row may overwrite the node."""
    return stored is None or given is None or given >= stored


def _created(stored: Any, given: Any) -> Any:
    """``CASE WHEN stored IS NULL OR given < stored THEN coalesce(given, stored) ELSE stored END``."""
    if stored is None:
        return given
    return given if given is not None and given < stored else stored


def cypher_round(value: float, digits: int = 2) -> float:
    """Cypher's ``round(value, digits)`` (half up on the decimal form of the double)."""
    return float(Decimal(repr(value)).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP))


def _set(props: dict[str, Any], updates: dict[str, Any]) -> None:
    """``SET n.a = x, ...``: a null removes the property."""
    for name, value in updates.items():
        if value is None:
            props.pop(name, None)
        else:
            props[name] = value


def _add(props: dict[str, Any], updates: dict[str, Any]) -> None:
    """``SET n += map`` of a map that holds only the given (non-null) values."""
    props.update({k: v for k, v in updates.items() if v is not None})


class BulkGraph:
    """Nodes by label and natural key, relationships by type, start and end label, ends and discriminator.

    The relationships of the :data:`INDEXED` types are also indexed by their start (:attr:`out`), for the
    writers that ask a node's targets (a re-pointed single relationship, a product's categories, the
    stitching); the others are not: indexing the bench drop's ~3 M event relationships took a third of the
    derive step (5.7 of 18 s)."""

    INDEXED = frozenset({"SUBCATEGORY_OF", "IN_CATEGORY", "MADE_BY", "IN_COUNTRY", "HOME_STORE", "HAS_CONSENT",
                         "IDENTIFIES", "IDENTIFIED_BY"})

    def __init__(self) -> None:
        self.nodes: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
        self.rels: dict[tuple[str, str, str], dict[tuple[str, str, Any], dict[str, Any]]] = defaultdict(dict)
        self.out: dict[tuple[str, str, str], dict[str, set[tuple[str, Any]]]] = defaultdict(lambda: defaultdict(set))

    def node(self, label: str, key: str) -> dict[str, Any]:
        """``MERGE (n:Label {key: ...})``: the node's properties."""
        nodes = self.nodes[label]
        props = nodes.get(key)
        if props is None:
            props = nodes[key] = {NODE_KEYS[label]: key}
        return props

    def has(self, label: str, key: str) -> bool:
        return key in self.nodes[label]

    def rel(self, rtype: str, start: tuple[str, str], end: tuple[str, str], disc: Any = None) -> dict[str, Any]:
        """``MERGE (a)-[r:TYPE]->(b)``: the relationship's properties (``disc``: a key property in the pattern)."""
        group = (rtype, start[0], end[0])
        rels = self.rels[group]
        ident = (start[1], end[1], disc)
        props = rels.get(ident)
        if props is None:
            props = rels[ident] = {}
            if rtype in self.INDEXED:
                self.out[group][start[1]].add((end[1], disc))
        return props

    def single(self, rtype: str, start: tuple[str, str], end: tuple[str, str]) -> dict[str, Any]:
        """Delete ``start``'s other relationships of this type to ``end``'s label, then merge the one to ``end``."""
        for other in self.targets(rtype, start, end[0]):
            if other[0] != end[1]:
                self.delete(rtype, start, (end[0], other[0]), other[1])
        return self.rel(rtype, start, end)

    def delete(self, rtype: str, start: tuple[str, str], end: tuple[str, str], disc: Any = None) -> None:
        group = (rtype, start[0], end[0])
        if self.rels[group].pop((start[1], end[1], disc), None) is not None and rtype in self.INDEXED:
            self.out[group][start[1]].discard((end[1], disc))

    def targets(self, rtype: str, start: tuple[str, str], end_label: str) -> set[tuple[str, Any]]:
        """``start``'s relationships of an :data:`INDEXED` type to ``end_label``: ``{(end key, disc)}``."""
        if rtype not in self.INDEXED:
            raise ValueError(f"{rtype} relationships are not indexed by their start (BulkGraph.INDEXED)")
        return set(self.out[(rtype, start[0], end_label)].get(start[1], ()))


# ------------------------------------------------------------------------ the writers, on an empty graph
class BulkWriters:
    """Each entity's writer applied to a :class:`BulkGraph` (module docstrings of :mod:`loaders.writers`)."""

    def __init__(self) -> None:
        self.g = BulkGraph()
        self._events: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)  # session -> event id -> row
        self._orders: dict[str, dict[str, Any]] = {}  # order id -> its first line row and its lines

    def apply(self, entity: str, r: dict[str, Any]) -> None:
        getattr(self, entity)(r)

    def categories(self, r: dict[str, Any]) -> None:
        c = self.g.node("Category", r["categoryId"])
        _set(c, {"name": r["name"]})
        me = ("Category", r["categoryId"])
        if r["parentId"] is None:
            for other, disc in self.g.targets("SUBCATEGORY_OF", me, "Category"):
                self.g.delete("SUBCATEGORY_OF", me, ("Category", other), disc)
        else:
            self.g.single("SUBCATEGORY_OF", me, ("Category", r["parentId"]))

    def brands(self, r: dict[str, Any]) -> None:
        _set(self.g.node("Brand", r["brandId"]), {"name": r["name"]})

    def products(self, r: dict[str, Any]) -> None:
        p = self.g.node("Product", r["sku"])
        if not _newer(p.get("updatedAt"), r["updatedAt"]):
            return
        _add(p, r["props"])
        _set(p, {"createdAt": _created(p.get("createdAt"), r["createdAt"])})
        me = ("Product", r["sku"])
        if r["categoryIds"]:
            wanted = set(r["categoryIds"])
            for other, disc in self.g.targets("IN_CATEGORY", me, "Category"):
                if other not in wanted:
                    self.g.delete("IN_CATEGORY", me, ("Category", other), disc)
            for category in r["categoryIds"]:
                self.g.rel("IN_CATEGORY", me, ("Category", category))
        if r["brandId"] is not None:
            self.g.single("MADE_BY", me, ("Brand", r["brandId"]))

    def stores(self, r: dict[str, Any]) -> None:
        s = self.g.node("Store", r["storeId"])
        _set(s, {"name": r["name"], "location": Point(r["latitude"], r["longitude"])})
        _add(s, r["props"])
        if r["country"] is not None:
            self.g.node("Country", r["country"])
            self.g.single("IN_COUNTRY", ("Store", r["storeId"]), ("Country", r["country"]))

    def stock(self, r: dict[str, Any]) -> None:
        k = self.g.rel("STOCKS", ("Store", r["storeId"]), ("Product", r["sku"]))
        stored = k.get("updatedAt")
        if stored is None or (r["updatedAt"] is not None and r["updatedAt"] >= stored):
            _set(k, {"quantity": r["quantity"], "updatedAt": r["updatedAt"]})

    def campaigns(self, r: dict[str, Any]) -> None:
        c = self.g.node("Campaign", r["campaignId"])
        _set(c, {"name": r["name"]})
        _add(c, r["props"])

    def offers(self, r: dict[str, Any]) -> None:
        o = self.g.node("Offer", r["offerId"])
        _set(o, {"description": r["description"]})
        _add(o, r["props"])
        me = ("Offer", r["offerId"])
        if r["campaignId"] is not None:
            self.g.rel("HAS_OFFER", ("Campaign", r["campaignId"]), me)
        for sku in r["skus"]:
            self.g.rel("FOR_PRODUCT", me, ("Product", sku))
        for category in r["categoryIds"]:
            self.g.rel("FOR_CATEGORY", me, ("Category", category))
        if r["storeId"] is not None:
            self.g.rel("VALID_AT", me, ("Store", r["storeId"]))

    def _identifies(self, key: str, kind: str, value: str, customer_id: str, seen: Any) -> None:
        i = self.g.node("Identity", key)
        i.setdefault("type", kind)
        i.setdefault("value", value)
        _set(i, {"firstSeen": _earliest(i.get("firstSeen"), seen), "lastSeen": _latest(i.get("lastSeen"), seen)})
        x = self.g.single("IDENTIFIES", ("Identity", key), ("Customer", customer_id))
        _set(x, {"at": seen if "at" not in x else _earliest(x["at"], seen)})

    def customers(self, r: dict[str, Any]) -> None:
        c = self.g.node("Customer", r["customerId"])
        if not _newer(c.get("updatedAt"), r["updatedAt"]):
            return
        _add(c, r["props"])
        _set(c, {"createdAt": _created(c.get("createdAt"), r["createdAt"])})
        if r["homeLatitude"] is not None and r["homeLongitude"] is not None:
            c["homeLocation"] = Point(r["homeLatitude"], r["homeLongitude"])
        me = ("Customer", r["customerId"])
        if r["country"] is not None:
            self.g.node("Country", r["country"])
            self.g.single("IN_COUNTRY", me, ("Country", r["country"]))
        if r["homeStoreId"] is not None:
            self.g.single("HOME_STORE", me, ("Store", r["homeStoreId"]))
            c["homeStoreId"] = r["homeStoreId"]  # the relationship's mirror, as the customers writer sets it
        if r["emailHash"] is not None:
            seen = r["createdAt"] or r["updatedAt"] or EPOCH
            self._identifies("email_hash:" + r["emailHash"], "email_hash", r["emailHash"], r["customerId"], seen)

    def identifiers(self, r: dict[str, Any]) -> None:
        self._identifies(r["identityKey"], r["type"], r["value"], r["customerId"], r["seenAt"])

    def sessions(self, r: dict[str, Any]) -> None:
        s = self.g.node("Session", r["sessionId"])
        _set(s, {"channel": r["channel"], "startedAt": r["startedAt"]})
        _add(s, r["props"])
        me = ("Session", r["sessionId"])
        if r["storeId"] is not None:
            self.g.rel("AT_STORE", me, ("Store", r["storeId"]))
        at = r["startedAt"]
        for identity in r["identities"]:
            i = self.g.node("Identity", identity["key"])
            i.setdefault("type", identity["type"])
            i.setdefault("value", identity["value"])
            _set(i, {"firstSeen": _earliest(i.get("firstSeen"), at), "lastSeen": _latest(i.get("lastSeen"), at)})
            _set(self.g.rel("IDENTIFIED_BY", me, ("Identity", identity["key"])), {"at": at})
        if r["customerId"] is not None:
            _set(self.g.rel("HAD_SESSION", ("Customer", r["customerId"]), me), {"at": at})

    def orders(self, r: dict[str, Any]) -> None:
        order = self._orders.get(r["orderId"])
        if order is None:  # the order's fields come from its first line (the writer's ``group_lines``)
            order = self._orders[r["orderId"]] = {"row": r, "lines": {}}
        order["lines"][r["line"]] = (r["sku"], r["quantity"], r["unitPrice"])

    def events(self, r: dict[str, Any]) -> None:
        self._events[r["sessionId"]][r["eventId"]] = r  # a repeated id: the last row wins

    def visits(self, r: dict[str, Any]) -> None:
        v = self.g.node("Visit", r["visitId"])
        _set(v, {"arrivedAt": r["arrivedAt"], "source": r["source"], "dwellMinutes": r["dwellMinutes"],
                 "zones": r["zones"]})
        me = ("Visit", r["visitId"])
        _set(self.g.rel("MADE_VISIT", ("Customer", r["customerId"]), me), {"at": r["arrivedAt"]})
        self.g.rel("TO_STORE", me, ("Store", r["storeId"]))

    def consents(self, r: dict[str, Any]) -> None:
        self._consents([r])

    def _consents(self, rows: list[dict[str, Any]]) -> None:
        """The consent writer's rule on the records in memory, each change audited as a load audits it."""
        results = apply_consents_in_memory(self.g.nodes["Consent"], rows)
        for row in rows:
            self.g.rel("HAS_CONSENT", ("Customer", row["customerId"]), ("Consent", row["consentId"]))
        for entry in load_audit_entries(rows, results, actor="loader"):
            self.g.nodes["AuditEntry"][entry["entryId"]] = {k: v for k, v in entry.items() if v is not None}

    def consent_records(self, customer_id: str) -> list[dict[str, Any]]:
        """The customer's consent records (channel, purpose, granted), as the policy reads them."""
        consents = self.g.nodes["Consent"]
        return [consents[key] for key, _ in self.g.targets("HAS_CONSENT", ("Customer", customer_id), "Consent")]

    def store_locations(self) -> list[tuple[str, float, float]]:
        """``(storeId, latitude, longitude)`` of every store, for geofencing."""
        return [(key, s["location"].latitude, s["location"].longitude) for key, s in self.g.nodes["Store"].items()]

    def responses(self, r: dict[str, Any]) -> None:
        """``RESPONDED`` keyed by type and time, its text the latest given; an ``unsubscribed`` withdraws."""
        x = self.g.rel("RESPONDED", ("Customer", r["customerId"]), ("Message", r["messageId"]), (r["type"], r["at"]))
        _set(x, {"type": r["type"], "at": r["at"], "text": r["text"]})
        if r.get("idempotencyKey") is not None:
            x.setdefault("idempotencyKey", r["idempotencyKey"])
        if r["type"] == "unsubscribed":
            channel = self.g.nodes["Message"][r["messageId"]]["channel"]
            self._consents(unsubscribe_withdrawals([r], {r["messageId"]: channel}))

    def messages(self, r: dict[str, Any]) -> None:
        m = self.g.node("Message", r["messageId"])
        _set(m, {"channel": r["channel"], "sentAt": r["sentAt"]})
        _add(m, r["props"])
        me = ("Message", r["messageId"])
        _set(self.g.rel("SENT_TO", me, ("Customer", r["customerId"])), {"at": r["sentAt"]})
        if r["campaignId"] is not None and self.g.has("Campaign", r["campaignId"]):
            self.g.rel("PART_OF", me, ("Campaign", r["campaignId"]))
        if r["offerId"] is not None and self.g.has("Offer", r["offerId"]):
            self.g.rel("CARRIES", me, ("Offer", r["offerId"]))

    # -- identity stitching over all sessions, before the CSVs
    def stitch(self, session_ids: Iterable[str], identity_keys: Iterable[str], batch_size: int,
               max_rounds: int = 4) -> int:
        """:func:`loaders.identity.stitch_sessions` on the graph in memory, step for step and in its order
        (link every session's identifiers; then rounds of resolve, sessions in id order, and backfill, keys in
        sorted chunks of ``batch_size``, each chunk judged before it attaches); the sessions it attached."""
        g = self.g
        identified_by = g.out[("IDENTIFIED_BY", "Session", "Identity")]  # session -> {(key, None)}
        identifies = g.out[("IDENTIFIES", "Identity", "Customer")]  # key -> {(customer, None)}
        identities, started = g.nodes["Identity"], {s: p["startedAt"] for s, p in g.nodes["Session"].items()}
        customers_of: dict[str, set[str]] = defaultdict(set)
        for customer, session_id, _ in g.rels[("HAD_SESSION", "Customer", "Session")]:
            customers_of[session_id].add(customer)
        sessions_of: dict[str, list[str]] = defaultdict(list)
        keys_of = {s: sorted(key for key, _ in ends) for s, ends in identified_by.items()}
        for session_id, keys in keys_of.items():
            for key in keys:
                sessions_of[key].append(session_id)
        sessions = sorted(set(session_ids))
        for session_id in sessions:  # LINK_SESSION_IDENTITIES
            at, keys = started[session_id], keys_of.get(session_id, [])
            for index, a in enumerate(keys):
                for b in keys[index + 1:]:
                    link = g.rel("LINKED_TO", ("Identity", a), ("Identity", b))
                    link["at"] = _earliest(link.get("at"), at)
                    login = "customer_ref" in (identities[a].get("type"), identities[b].get("type"))
                    link["origin"] = "login" if login else "session"

        def resolve(todo: list[str]) -> set[str]:  # RESOLVE_SESSION_IDENTITIES: first customer wins
            claimed = set()
            for session_id in todo:
                for customer in sorted(customers_of.get(session_id, ())):
                    for key in keys_of.get(session_id, []):
                        if any(other != customer for other, _ in identifies.get(key, ())):
                            continue
                        x = g.rel("IDENTIFIES", ("Identity", key), ("Customer", customer))
                        x["at"] = _earliest(x.get("at"), started[session_id])
                        claimed.add(key)
            return claimed

        def backfill(keys: list[str]) -> set[str]:  # BACKFILL_SESSIONS
            attached: set[str] = set()
            for chunk in chunks(keys, batch_size):
                owner: dict[str, str] = {}
                for key in chunk:
                    customers = [customer for customer, _ in identifies.get(key, ())]
                    if not customers:
                        continue
                    first = min(customers)
                    for session_id in sessions_of.get(key, ()):
                        if not customers_of.get(session_id):
                            owner[session_id] = min(owner.get(session_id, first), first)
                for session_id, customer in owner.items():
                    g.rel("HAD_SESSION", ("Customer", customer), ("Session", session_id))["at"] = started[session_id]
                    customers_of[session_id].add(customer)
                    attached.add(session_id)
            return attached

        keys, backfilled, todo = set(identity_keys), set(), sessions
        for _ in range(max_rounds):
            keys |= resolve(todo)
            new = backfill(sorted(keys)) - backfilled
            if not new:
                break
            backfilled |= new
            todo, keys = sorted(new), set()
        return len(backfilled)

    # -- derived at the end: orders with their lines and totals, events with their chains
    def finish(self) -> None:
        g = self.g
        for order_id, order in self._orders.items():
            r = order["row"]
            o = g.node("Order", order_id)
            _set(o, {"channel": r["channel"], "placedAt": r["placedAt"], "currency": r["currency"],
                     "cancelled": r["cancelled"]})
            me = ("Order", order_id)
            if r["customerId"] is not None:
                _set(g.rel("PLACED", ("Customer", r["customerId"]), me), {"at": r["placedAt"]})
            if r["storeId"] is not None:
                g.rel("AT_STORE", me, ("Store", r["storeId"]))
            total = 0.0
            for line, (sku, quantity, unit_price) in sorted(order["lines"].items()):
                g.rel("INCLUDES", me, ("Product", sku), line).update(
                    {"line": line, "quantity": quantity, "unitPrice": unit_price})
                total += quantity * unit_price
            o["total"] = cypher_round(total, 2)
        self._orders.clear()
        for session_id, events in self._events.items():
            chain = sorted(events.values(), key=lambda e: (e["at"], e["eventId"]))
            me = ("Session", session_id)
            for e in chain:
                ev = g.node("Event", e["eventId"])
                _set(ev, {"type": e["type"], "at": e["at"], "page": e["page"], "query": e["query"],
                          "resultsCount": e["resultsCount"], "quantity": e["quantity"]})
                this = ("Event", e["eventId"])
                g.rel("CONTAINS", me, this)["at"] = e["at"]
                for rtype, label, field in (("ABOUT_PRODUCT", "Product", "sku"),
                                            ("ABOUT_CATEGORY", "Category", "categoryId"),
                                            ("PLACED_ORDER", "Order", "orderId")):
                    if e[field] is not None and g.has(label, e[field]):
                        g.rel(rtype, this, (label, e[field]))["at"] = e["at"]
                if e["searchText"]:
                    g.node("SearchQuery", e["searchText"])
                    g.rel("SEARCHED", this, ("SearchQuery", e["searchText"]))["at"] = e["at"]
            for a, b in zip(chain, chain[1:], strict=False):
                g.rel("NEXT", ("Event", a["eventId"]), ("Event", b["eventId"]))["gapSeconds"] = gap_seconds(
                    a["at"], b["at"])
        self._events.clear()


# ------------------------------------------------------------------------------------------ the CSV files
_KIND_OF_TYPE = {str: "string", bool: "boolean", int: "long", float: "double", datetime: "datetime"}


def _type_of(value: Any) -> str:
    """The import type of a property value (:data:`_KIND_OF_TYPE` answers the common exact types at once)."""
    kind = _KIND_OF_TYPE.get(type(value))
    if kind is not None:
        return kind
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "long"
    if isinstance(value, float):
        return "double"
    if isinstance(value, datetime):
        return "datetime"
    if isinstance(value, Point):
        return "point"
    if isinstance(value, list | tuple):
        return "string[]"
    return "string"


def _quote(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, datetime):
        return _datetime_cell(value)
    if isinstance(value, Point):
        return _quote(f"{{latitude:{value.latitude!r}, longitude:{value.longitude!r}}}")
    if isinstance(value, list | tuple):
        return _quote(ARRAY_DELIMITER.join(str(v) for v in value))
    return _text_cell(value)


def _text_cell(value: Any) -> str:
    return _quote(str(value))


def _datetime_cell(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


class _DatetimeCells(dict[datetime, str]):
    """:func:`_datetime_cell` of each distinct time once: an event's time is also on its ``CONTAINS``,
    ``ABOUT_PRODUCT`` ... (the bench drop's 4.9 M datetime cells hold 0.97 M distinct times)."""

    def __missing__(self, value: datetime) -> str:
        text = self[value] = _datetime_cell(value)
        return text


#: The formatter of each column type (a column holds one type, :func:`_columns` checks it); ``None`` is "".
_FORMAT: dict[str, Any] = {"string": _text_cell, "long": str, "double": repr, "datetime": _datetime_cell,
                           "boolean": _cell, "point": _cell, "string[]": _cell}


def _formatters(columns: list[tuple[str, str]], times: _DatetimeCells) -> list[tuple[str, Any]]:
    return [(name, times.__getitem__ if kind == "datetime" else _FORMAT[kind]) for name, kind in columns]


def _row_cells(props: dict[str, Any], formatters: list[tuple[str, Any]]) -> list[str]:
    cells = []
    for name, formatter in formatters:
        value = props.get(name)
        cells.append("" if value is None else formatter(value))
    return cells


def _columns(rows: list[dict[str, Any]], skip: str | None, where: str) -> list[tuple[str, str]]:
    types: dict[str, str] = {}
    for props in rows:
        for name, value in props.items():
            if name == skip or value is None:
                continue
            kind = _type_of(value)
            known = types.setdefault(name, kind)
            if known != kind:
                if {known, kind} == {"long", "double"}:
                    raise LoadError(f"bulk: {where}.{name} holds both integers and floats")
                raise LoadError(f"bulk: {where}.{name} holds values of types {known} and {kind}")
    return sorted(types.items())


@dataclass
class CsvFiles:
    """The files one import takes, and whether any value spans lines."""

    folder: Path
    nodes: list[tuple[str, Path]]
    relationships: list[tuple[str, Path]]
    multiline: bool
    node_count: int
    relationship_count: int

    def size_bytes(self) -> int:
        """The files' total size."""
        return sum(path.stat().st_size for _, path in (*self.nodes, *self.relationships))

    def arguments(self, folder: Path | None = None) -> list[str]:
        """The ``neo4j-admin database import full`` arguments (paths under ``folder``, default where written)."""
        base = folder or self.folder

        def at(path: Path) -> str:
            return str(base / path.relative_to(self.folder))

        args = ["--overwrite-destination=true", f"--array-delimiter=U+{ord(ARRAY_DELIMITER):04X}",
                "--id-type=actual", "--bad-tolerance=0", "--normalize-types=false"]
        if self.multiline:
            args.append("--multiline-fields=true")
        args += [f"--nodes={label}={at(path)}" for label, path in self.nodes]
        args += [f"--relationships={rtype}={at(path)}" for rtype, path in self.relationships]
        return args


def _write_lines(path: Path, header: list[str], lines: Iterable[str], block: int = 20_000) -> bool:
    """Write the header and ``lines`` (CSV lines without their end) in blocks; whether a value spans lines."""
    multiline = False
    with open(path, "w", encoding="utf-8", newline="") as handle:
        handle.write(",".join(header) + "\n")
        lines = iter(lines)
        while chunk := list(islice(lines, block)):
            text = "\n".join(chunk) + "\n"
            multiline = multiline or text.count("\n") != len(chunk) or "\r" in text
            handle.write(text)
    return multiline


@dataclass(frozen=True)
class _CsvFile:
    """One file of the import: a label's nodes, or a (type, start label, end label)'s relationships."""

    group: str | tuple[str, str, str]
    path: Path
    rows: int
    cost: int  # rows times cells, to share the files between two writers


def _write_nodes(graph: BulkGraph, label: str, path: Path, ids: dict[str, str], times: _DatetimeCells) -> bool:
    keys = graph.nodes[label]
    key_name = NODE_KEYS[label]
    columns = _columns(list(keys.values()), key_name, label)
    header = [":ID", f"{key_name}:string"] + [f"{name}:{kind}" for name, kind in columns]
    formatters = _formatters(columns, times)
    return _write_lines(path, header, (
        ",".join([ids[key], _quote(key), *_row_cells(props, formatters)]) for key, props in keys.items()))


def _write_relationships(graph: BulkGraph, group: tuple[str, str, str], path: Path,
                         node_ids: dict[str, dict[str, str]], times: _DatetimeCells) -> bool:
    rtype, start, end = group
    rels_of = graph.rels[group]
    columns = _columns(list(rels_of.values()), None, rtype)
    header = [":START_ID", ":END_ID"] + [f"{name}:{kind}" for name, kind in columns]
    formatters = _formatters(columns, times)
    starts, ends = node_ids[start], node_ids[end]
    if formatters:
        lines: Iterable[str] = (",".join([starts[a], ends[b], *_row_cells(props, formatters)])
                                for (a, b, _), props in rels_of.items())
    else:  # most types carry no property
        lines = (starts[a] + "," + ends[b] for a, b, _ in rels_of)
    return _write_lines(path, header, lines)


def _write_files(graph: BulkGraph, node_ids: dict[str, dict[str, str]], files: list[_CsvFile]) -> bool:
    """Write ``files``; whether a value spans lines in any of them."""
    times = _DatetimeCells()
    multiline = False
    for file in files:
        if isinstance(file.group, str):
            multiline |= _write_nodes(graph, file.group, file.path, node_ids[file.group], times)
        else:
            multiline |= _write_relationships(graph, file.group, file.path, node_ids, times)
    return multiline


#: What a forked writer inherits (set just before the fork, cleared after): the graph and the node ids.
_INHERITED: tuple[BulkGraph, dict[str, dict[str, str]]] | None = None


def _write_inherited(files: list[_CsvFile]) -> bool:
    """:func:`_write_files` in a forked process, on the graph it inherited (nothing is pickled but ``files``)."""
    assert _INHERITED is not None
    return _write_files(*_INHERITED, files)


def _share(files: list[_CsvFile]) -> tuple[list[_CsvFile], list[_CsvFile]]:
    """Two lists of about the same cost, the largest files first (each goes to the lighter list)."""
    shares: tuple[list[_CsvFile], list[_CsvFile]] = ([], [])
    costs = [0, 0]
    for file in sorted(files, key=lambda f: -f.cost):
        lighter = 0 if costs[0] <= costs[1] else 1
        shares[lighter].append(file)
        costs[lighter] += file.cost
    return shares


def _fork_available() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


def write_csv(graph: BulkGraph, folder: Path, *, fork_from_rows: int = 200_000) -> CsvFiles:
    """One header+data CSV per label and per (type, start label, end label) into ``folder``.

    Nodes carry the ids they get in the store (``--id-type=actual``: 0, 1, 2 ... across the node files in
    the order of the command's ``--nodes``) and relationships refer to them, so the import maps no keys:
    on ``bench_loaders.py``'s drop (1.5 M nodes, 3.8 M relationships) the import took 28.9 s against
    47.5 s with the keys as string ids (relationships 6.8 s against 22.0 s).

    From ``fork_from_rows`` rows on (and where processes can fork), a forked process writes about half of
    the files while this one writes the rest: formatting is Python work on one core, and the server is
    stopped (or not started yet) meanwhile. The child inherits the graph instead of receiving it; only the
    list of its files and its answer cross. The files are the same either way (a test compares them). The
    pages the child touches are copied (reference counts): more memory for the step's seconds. On the bench
    drop the step took 24.0-26.1 s in one process, 16.0-21.3 s in two (with each time formatted once)."""
    global _INHERITED
    if folder.exists():
        shutil.rmtree(folder)
    (folder / "nodes").mkdir(parents=True)
    (folder / "relationships").mkdir()
    node_ids: dict[str, dict[str, str]] = {}  # label -> key -> the node's id in the store, as its cell
    node_files: list[_CsvFile] = []
    n_nodes = 0
    for label in sorted(graph.nodes):
        keys = graph.nodes[label]
        if not keys:
            continue
        node_ids[label] = {key: str(n_nodes + offset) for offset, key in enumerate(keys)}
        width = 2 + len(next(iter(keys.values())))
        node_files.append(_CsvFile(label, folder / "nodes" / f"{label}.csv", len(keys), len(keys) * width))
        n_nodes += len(keys)
    rel_files = []
    for group in sorted(graph.rels):
        rels_of = graph.rels[group]
        if rels_of:
            rtype, start, end = group
            width = 2 + len(next(iter(rels_of.values())))
            rel_files.append(_CsvFile(group, folder / "relationships" / f"{rtype}__{start}__{end}.csv",
                                      len(rels_of), len(rels_of) * width))
    files = node_files + rel_files
    total = sum(file.rows for file in files)
    if total < fork_from_rows or not _fork_available():
        multiline = _write_files(graph, node_ids, files)
    else:
        mine, theirs = _share(files)
        _INHERITED = (graph, node_ids)
        try:
            with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("fork")) as pool:
                forked = pool.submit(_write_inherited, theirs)
                multiline = _write_files(graph, node_ids, mine)
                multiline |= forked.result()
        except BrokenProcessPool as error:
            raise LoadError(f"bulk: the process writing half of the import files in {folder} ended before it was "
                            f"done (out of memory?); nothing was imported") from error
        finally:
            _INHERITED = None
    return CsvFiles(folder, [(f.group, f.path) for f in node_files],  # type: ignore[misc]
                    [(f.group[0], f.path) for f in rel_files], multiline, n_nodes,
                    sum(f.rows for f in rel_files))


#: Below this many bytes of CSV the import's JVM compiles with C1 only (``-XX:TieredStopAtLevel=1``): on
#: this project's 2-core VM (2026-12-05, ``neo4j-admin`` 5.26, same files alternately) C2 compiling the
#: importer costs more than it wins on a small import: the Online Retail history's 14 MB 8.1-9.3 -> 5.8-6.8 s,
#: ``make demo``'s 25 MB 11.5-12.3 -> 9.0-10.1 s; on larger ones C1 loses (106 MB 16.8 -> 24.6 s, the bench
#: drop's 273 MB 29.3 -> 49.3 s), the break-even near 40 MB.
QUICK_JIT_BYTES = 32 * 1024 * 1024


def import_command(files: CsvFiles, database: str, *, java: str = "java", classpath: str = "lib/*",
                   heap: str = "1g", folder: Path | None = None) -> list[str]:
    """The ``neo4j-admin database import full`` command (as ``org.neo4j.cli.AdminTool`` on the server's jars);
    a small import's JVM compiles with C1 only (:data:`QUICK_JIT_BYTES`)."""
    jit = ["-XX:TieredStopAtLevel=1"] if files.size_bytes() < QUICK_JIT_BYTES else []
    # the database first: --nodes/--relationships take a variable number of files
    return [java, f"-Xmx{heap}", *jit, "-cp", classpath, "org.neo4j.cli.AdminTool", "database", "import", "full",
            database, *files.arguments(folder)]


def write_import_script(files: CsvFiles, database: str) -> Path:
    """``import.sh``: the import for a server whose files are on another host (run it there, server stopped)."""
    marker = Path("/CSV_DIR")
    args = ['"' + a.replace(str(marker), "$CSV_DIR") + '"' for a in files.arguments(marker)]
    script = files.folder / "import.sh"
    script.write_text(
        "#!/bin/sh\n"
        "# Run on the database host, with the database stopped: it is replaced by the imported graph.\n"
        "# neo4j-admin of the server's version (5.26); CSV_DIR: where this folder is (default: the script's folder).\n"
        "set -e\n"
        'CSV_DIR="${CSV_DIR:-$(cd "$(dirname "$0")" && pwd)}"\n'
        f"neo4j-admin database import full {shlex.quote(database)} \\\n  " + " \\\n  ".join(args) + "\n")
    script.chmod(0o755)
    return script


def _database_contents() -> tuple[int, list[tuple[str, dict[str, Any]]]]:
    """How many nodes the database holds besides the privacy bookkeeping, and the bookkeeping nodes."""
    labels = " OR ".join(f"n:{label}" for label in BOOKKEEPING_LABELS)
    others = run_query(f"MATCH (n) WHERE NOT ({labels}) RETURN count(n) AS n", write=False)[0]["n"]
    kept = []
    for label in BOOKKEEPING_LABELS:
        for row in run_query(f"MATCH (n:{label}) RETURN properties(n) AS props", write=False):
            kept.append((label, {k: _native(v) for k, v in row["props"].items()}))
    return int(others), kept


def _native(value: Any) -> Any:
    if hasattr(value, "to_native"):
        return value.to_native()
    return value


class BulkLoader(Loader):
    """A first load through ``neo4j-admin database import full`` (see the module docstring)."""

    def __init__(self, report: RunReport, options: LoadOptions) -> None:
        settings = connection.current_settings()
        if options.bulk_csv_only is None and not settings.uses_local_server:
            raise LoadError(f"--bulk imports into the local server's files; {settings.uri} is elsewhere: write the "
                            f"CSVs with --bulk-csv-only DIR and run the import on the database host (docs/loaders.md)")
        # the local server's database not created yet: import before its first start (nothing to stop or ask)
        self.new_database = database_not_created(settings)
        if self.new_database and options.bulk_csv_only is None:
            local_server(settings).check_ports()  # its first start follows the import: say so before the work
        others, self.bookkeeping = (0, []) if self.new_database else _database_contents()
        if others:
            raise LoadError(f"--bulk is for a first load into an empty database, and this one holds {others:,} nodes: "
                            f"load without --bulk, or into a new local database (a fresh CUSTOMER_GRAPH_HOME)")
        super().__init__(report, options, database_exists=not self.new_database)
        imported = {props["hash"] for label, props in self.bookkeeping if label == "Tombstone"}
        self.bookkeeping += [("Tombstone", entry.node_properties()) for entry in ledger.entries(key=self.tombstones.key)
                             if entry.hash not in imported]  # erasures outlive the database (graph_model.privacy.ledger)
        self.writers = BulkWriters()
        self.after: list[tuple[EntitySpec, list[Item], str]] = []
        self.timings: dict[str, float] = {}
        self.session_ids: list[str] = []
        self.identity_keys: list[str] = []

    # the two write paths of the base class: validated rows go into the in-memory graph, or wait for the import
    def _load_streamed(self, spec: EntitySpec, rows: SourceRows, source: str, progress: Progress) -> None:
        items = self._validated(spec, rows, source)
        if spec.name in AFTER_IMPORT:
            self.after.append((spec, list(items), source))
            return
        stats = self.report.stats(spec.name)
        loaded = 0
        for item in items:
            params = item.params
            self.writers.apply(spec.name, params)
            if spec.name == "sessions":
                self.session_ids.append(params["sessionId"])
                self.identity_keys.extend(identity["key"] for identity in params["identities"])
            elif spec.name == "identifiers":
                self.identity_keys.append(params["identityKey"])
            loaded += 1
        stats.loaded += loaded
        progress.update(loaded)
        if loaded and spec.name in ("sessions", "identifiers"):
            stats.extra.setdefault("sessionsStitched", 0)

    def _load_pings(self, spec: EntitySpec, rows: SourceRows, source: str, progress: Progress) -> None:
        """Geofence the permitted pings (the policy on the consents in memory) into visits of the graph."""
        items = list(self._validated(spec, rows, source))
        customers = {item.params["customerId"] for item in items}
        records = {customer: self.writers.consent_records(customer) for customer in customers}
        pings = [item.params for item in self.permitted_by(items, records)]
        visits = visits_from_pings(pings, self.writers.store_locations(), self.options.geofence,
                                   key=self.tombstones.key)
        for visit in visits:
            self.writers.visits(visit)
        self.count_pings(pings, visits)
        progress.update(len(items))

    def _timed(self, name: str, t0: float) -> float:
        now = time.perf_counter()
        self.timings[name] = round(now - t0, 3)
        log.info("bulk: %s in %.1f s", name, now - t0)
        return now

    def complete(self) -> None:
        """Write the CSVs, import them, restart, apply the schema, stitch, write the after-import entities."""
        t0 = time.perf_counter()
        self.writers.finish()
        graph = self.writers.g
        for label, props in self.bookkeeping:
            graph.nodes[label][props[NODE_KEYS[label]]] = props
        t = self._timed("derive", t0)
        if self.session_ids or self.identity_keys:
            stitched = self.writers.stitch(self.session_ids, self.identity_keys, batch_size=self.options.batch_size)
            if self.session_ids:
                self.report.stats("sessions").extra["sessionsStitched"] = stitched
        t = self._timed("stitch", t)
        settings = connection.current_settings()
        folder = self.options.bulk_csv_only or (settings.home / "import" / "bulk")
        files = write_csv(graph, folder)
        t = self._timed("csv", t)
        log.info("bulk: %s nodes and %s relationships in %s", f"{files.node_count:,}",
                 f"{files.relationship_count:,}", folder)
        if self.options.bulk_csv_only is not None:
            write_import_script(files, settings.database)
            self._write_after(folder / "after")
            self._write_timings(folder, files)
            return
        t = self._import(files, settings, t)
        apply_schema()
        if self.new_database:  # what the first tombstone read does on a database that already existed
            execute_write(check_key)
            self.database_exists = True
        t = self._timed("schema", t)
        for spec, items, _source in self.after:
            stats = self.report.stats(spec.name)
            started = time.perf_counter()
            progress = Progress(spec.name, len(items), self.options.progress)
            try:
                self._write_streamed(spec, items, progress)
            finally:
                progress.close()
                stats.seconds += time.perf_counter() - started
        self._timed("after_import", t)
        super().complete()  # the database exists now: erase again what was erased while the after-import rows were written
        self.timings["total"] = round(time.perf_counter() - t0, 3)
        self._write_timings(self.report.folder, files)
        shutil.rmtree(folder, ignore_errors=True)

    def _write_timings(self, folder: Path, files: CsvFiles) -> None:
        (folder / "bulk.json").write_text(json.dumps({
            "nodes": files.node_count, "relationships": files.relationship_count, "seconds": self.timings,
            "afterImport": [spec.name for spec, _, _ in self.after]}, indent=2) + "\n")

    def _write_after(self, folder: Path) -> None:
        """The accepted rows of the after-import entities, as a drop to load (transactionally) after the import."""
        folder.mkdir(parents=True, exist_ok=True)
        for spec, items, source in self.after:
            path = folder / f"{spec.name}.jsonl"
            with open(path, "a", encoding="utf-8") as handle:
                for item in items:
                    handle.write(json.dumps(item.raw, default=str, ensure_ascii=False) + "\n")
            log.info("bulk: %s rows of %s (%s) to load after the import: %s", f"{len(items):,}", spec.name, source,
                     path)

    def _import(self, files: CsvFiles, settings: Any, t: float) -> float:
        """Stop the server (unless the database is new), import, start it; time each step."""
        server = local_server(settings)
        dist = ensure_distribution(settings.dist_dir)
        java = java_executable()
        if self.new_database:
            server.write_config(dist)  # the import finds the data folder in the server's configuration
        else:
            connection.close_driver()
            server.stop()
            t = self._timed("stop", t)
        command = import_command(files, settings.database, java=java, classpath=dist.admin_classpath,
                                 heap=os.environ.get("CUSTOMER_GRAPH_IMPORT_HEAP", "1g"))
        env = {**os.environ, "NEO4J_HOME": str(server.home), "NEO4J_CONF": str(server.conf_dir)}
        completed = subprocess.run(command, capture_output=True, text=True, env=env, check=False,
                                   cwd=files.folder)
        (files.folder / "import.log").write_text(completed.stdout + completed.stderr)
        if completed.returncode != 0:
            from graph_model.local_server.server import condense_java_output

            server.start()  # the database is as before only if the import failed before writing
            raise LocalServerError(f"neo4j-admin database import failed (exit {completed.returncode}):\n"
                                   f"{condense_java_output(completed.stdout + completed.stderr)}")
        t = self._timed("import", t)
        server.start()
        with session() as s:  # the first query after a (re)start
            s.run("RETURN 1").consume()
        return self._timed("start", t)
