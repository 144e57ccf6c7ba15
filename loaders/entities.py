"""What the loader knows about each export entity: schema, extra checks, references, parameters, writer.

The pipeline is the same for every entity; this table is where they differ.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from graph_model.model.customers import identity_key
from graph_model.privacy.consent import consent_row
from loaders import schemas as s
from loaders.batching import Item
from loaders.report import RejectReason
from loaders.writers import TxWrite
from loaders.writers.catalogue import (
    write_brands,
    write_categories,
    write_products,
    write_stock,
    write_stores,
)
from loaders.writers.conversation import write_campaigns, write_messages, write_offers, write_responses
from loaders.writers.customers import write_consent_rows, write_customers, write_identifiers
from loaders.writers.events import write_events
from loaders.writers.orders import write_orders
from loaders.writers.sessions import write_sessions
from loaders.writers.visits import write_loyalty_scans, write_visits

Check = Callable[[Any], str | None]


@dataclass(frozen=True)
class Reference:
    """``field`` of a row (a key or a list of keys) must name an existing node of ``label``."""

    field: str
    label: str

    @property
    def reason(self) -> RejectReason:
        return RejectReason.UNKNOWN_CUSTOMER if self.label == "Customer" else RejectReason.UNKNOWN_REFERENCE


@dataclass(frozen=True)
class EntitySpec:
    """How one export entity is validated and written."""

    name: str
    schema: type[s.ExportRow]
    write: TxWrite | None
    params: Callable[[Any], dict[str, Any]]
    references: tuple[Reference, ...] = ()
    provides: tuple[str, str] | None = None  # (label, field): the keys this entity creates
    partition: Callable[[dict[str, Any]], str] | None = None  # None: one writer, rows in file order
    check: Check | None = None
    # the items with their partition keys, when a key depends on other rows of the file (sessions)
    partition_all: Callable[[Iterable[Item]], Iterator[tuple[Item, str]]] | None = None
    # the statement modules (or single statements, "module.NAME") its load runs (loaders.warmup.writer_statements),
    # planned while its first rows are validated: its writer's first, then what runs after the file. Only what
    # runs: planning runs beside the writers, on the server's CPU (a sessions file's stitching only backfills:
    # planning the whole identity module took 0.4-0.8 s of it during the writes)
    plans: tuple[tuple[str, ...], ...] = ()
    # the times a row records, each with why one after the clock's tolerance is refused (future_dated)
    dated: tuple[tuple[str, str], ...] = ()


Row = TypeVar("Row")


def sessions_by_owner(rows: Iterable[Row], params: Callable[[Row], dict[str, Any]]) -> Iterator[tuple[Row, str]]:
    """Session rows (write parameters) with partition keys such that the nodes two sessions share are written
    by one writer: parallel writers then never wait for each other's locks (no deadlocks).

    A logged-in session goes, at once, to its customer's partition. An anonymous one waits until the file's
    logged-in sessions have passed, then goes to the partition of the customer a logged-in session of the
    file showed one of its identifiers with (the cookie it shares with them), else to its first identifier's
    (the sessions of one unknown cookie stay together). The anonymous sessions of a file are held in memory
    until its end. Order does not matter to the graph: the writers ``MERGE`` and keep the earliest times.

    >>> rows = [{"sessionId": "S1", "customerId": None, "identities": [{"key": "cookie:K1"}]},
    ...         {"sessionId": "S2", "customerId": "C1", "identities": [{"key": "cookie:K1"}]},
    ...         {"sessionId": "S3", "customerId": None, "identities": [{"key": "cookie:K2"}]},
    ...         {"sessionId": "S4", "customerId": None, "identities": []}]
    >>> [(row["sessionId"], key) for row, key in sessions_by_owner(rows, params=lambda row: row)]
    [('S2', 'C1'), ('S1', 'C1'), ('S3', 'cookie:K2'), ('S4', 'S4')]
    """
    owner: dict[str, str] = {}
    anonymous: list[Row] = []
    for row in rows:
        session = params(row)
        customer = session["customerId"]
        if customer is None:
            anonymous.append(row)
            continue
        for identity in session["identities"]:
            owner.setdefault(identity["key"], customer)
        yield row, customer
    for row in anonymous:
        session = params(row)
        keys = [identity["key"] for identity in session["identities"]]
        yield row, next((owner[key] for key in keys if key in owner), keys[0] if keys else session["sessionId"])


def _props(row: s.ExportRow, *names: str) -> dict[str, Any]:
    """The given fields that are set (absent ones never erase the graph's value)."""
    return {name: value for name in names if (value := getattr(row, name)) is not None}


def _check_event(row: s.EventRow) -> str | None:
    if row.type in ("product_view", "add_to_cart", "remove_from_cart") and row.sku is None:
        return f"sku: required for a {row.type} event"
    if row.type == "search" and not row.query:
        return "query: required for a search event"
    if row.type == "custom" and not row.name:
        return "name: required for a custom event"
    return None


def _check_identifier(row: s.IdentifierRow) -> str | None:
    if row.type == "email_hash" and not re.fullmatch(s.EMAIL_HASH, row.value):
        return "value: an email_hash is the SHA-256 of the address as 64 lower-case hex digits, not the address"
    return None


def _check_order(row: s.OrderRow) -> str | None:
    if not row.cancelled and row.quantity < 1:  # a cancellation's lines may take units back (negative)
        return "quantity: a line of an order that is not cancelled sells at least one unit"
    return None


def _check_customer(row: s.CustomerRow) -> str | None:
    if (row.homeLatitude is None) != (row.homeLongitude is None):
        return "homeLatitude/homeLongitude: give both or neither"
    return None


LATEST_WINS = "a row dated later than now would keep every later change out (the latest updatedAt wins)"
PROFILE = "a customer row dated later than now would keep every later correction out"
DECISION = "a consent dated later than now would outrank the customer's later decisions"
HAPPENED = ("an interaction dated later than now would stay the newest of every timeline and recency figure, and "
            "never age out under retention")


def future_dated(spec: EntitySpec, row: Any, latest: datetime) -> str | None:
    """Why ``row`` of ``spec`` is dated after ``latest`` (:func:`graph_model.timestamps.latest_acceptable`), or
    ``None``: every time an entity records (:attr:`EntitySpec.dated`) is held to this machine's clock."""
    for name, why in spec.dated:
        value = getattr(row, name)
        if value is not None and value > latest:
            return f"{name}: {value.isoformat()} is in the future; {why}"
    return None


def _search_text(query: str | None) -> str | None:
    return " ".join(query.lower().split()) or None if query else None


def _session_identities(row: s.SessionRow) -> list[dict[str, str]]:
    found = [("customer_ref", row.customerId), ("cookie", row.cookie), ("device_id", row.deviceId)]
    return [{"key": identity_key(t, v), "type": t, "value": v} for t, v in found if v]


SPECS: dict[str, EntitySpec] = {spec.name: spec for spec in (
    EntitySpec("categories", s.CategoryRow, write_categories,
               lambda r: {"categoryId": r.categoryId, "name": r.name, "parentId": r.parentId},
               references=(Reference("parentId", "Category"),), provides=("Category", "categoryId"),
               plans=(("catalogue",),)),
    EntitySpec("brands", s.BrandRow, write_brands, lambda r: {"brandId": r.brandId, "name": r.name},
               provides=("Brand", "brandId"), plans=(("catalogue",),)),
    EntitySpec("products", s.ProductRow, write_products,
               lambda r: {"sku": r.sku, "props": _props(r, "name", "description", "price", "updatedAt"),
                          "createdAt": r.createdAt, "updatedAt": r.updatedAt, "categoryIds": r.categoryIds,
                          "brandId": r.brandId},
               references=(Reference("categoryIds", "Category"), Reference("brandId", "Brand")),
               provides=("Product", "sku"), partition=lambda p: p["sku"], dated=(("updatedAt", LATEST_WINS),),
               plans=(("catalogue",),)),
    EntitySpec("stores", s.StoreRow, write_stores,
               lambda r: {"storeId": r.storeId, "name": r.name, "latitude": r.latitude, "longitude": r.longitude,
                          "country": r.country, "props": _props(r, "city", "openedAt")},
               provides=("Store", "storeId"), plans=(("catalogue",),)),
    EntitySpec("stock", s.StockRow, write_stock,
               lambda r: {"storeId": r.storeId, "sku": r.sku, "quantity": r.quantity, "updatedAt": r.updatedAt},
               references=(Reference("storeId", "Store"), Reference("sku", "Product")), partition=lambda p: p["storeId"],
               dated=(("updatedAt", LATEST_WINS),),
               plans=(("catalogue",),)),
    EntitySpec("campaigns", s.CampaignRow, write_campaigns,
               lambda r: {"campaignId": r.campaignId, "name": r.name, "props": _props(r, "purpose", "startsAt", "endsAt")},
               provides=("Campaign", "campaignId"), plans=(("conversation",),)),
    EntitySpec("offers", s.OfferRow, write_offers,
               lambda r: {"offerId": r.offerId, "description": r.description, "campaignId": r.campaignId,
                          "skus": r.skus, "categoryIds": r.categoryIds, "storeId": r.storeId,
                          "props": _props(r, "discountPct", "validFrom", "validTo")},
               references=(Reference("campaignId", "Campaign"), Reference("skus", "Product"),
                           Reference("categoryIds", "Category"), Reference("storeId", "Store")),
               provides=("Offer", "offerId"), plans=(("conversation",),)),
    EntitySpec("customers", s.CustomerRow, write_customers,
               lambda r: {"customerId": r.customerId, "country": r.country, "homeStoreId": r.homeStoreId,
                          "emailHash": r.emailHash, "createdAt": r.createdAt, "updatedAt": r.updatedAt,
                          "homeLatitude": r.homeLatitude, "homeLongitude": r.homeLongitude,
                          "props": _props(r, "name", "emailHash", "city", "loyaltyTier", "updatedAt")},
               references=(Reference("homeStoreId", "Store"),), provides=("Customer", "customerId"),
               partition=lambda p: p["customerId"], check=_check_customer, dated=(("updatedAt", PROFILE),),
               plans=(("customers",),)),
    EntitySpec("identifiers", s.IdentifierRow, write_identifiers,
               lambda r: {"customerId": r.customerId, "identityKey": identity_key(r.type, r.value), "type": r.type,
                          "value": r.value, "seenAt": r.seenAt},
               references=(Reference("customerId", "Customer"),), partition=lambda p: p["customerId"],
               check=_check_identifier, dated=(("seenAt", HAPPENED),),
               plans=(("customers",), ("identity",))),
    EntitySpec("consents", s.ConsentRow, write_consent_rows,
               lambda r: consent_row(r.customerId, r.channel, r.purpose, r.granted, r.updatedAt),
               references=(Reference("customerId", "Customer"),), partition=lambda p: p["customerId"],
               dated=(("updatedAt", DECISION),),
               plans=(("customers", "consent"),)),
    EntitySpec("sessions", s.SessionRow, write_sessions,
               lambda r: {"sessionId": r.sessionId, "channel": r.channel, "startedAt": r.startedAt,
                          "customerId": r.customerId, "storeId": r.storeId, "identities": _session_identities(r),
                          "props": _props(r, "endedAt", "device")},
               references=(Reference("customerId", "Customer"), Reference("storeId", "Store")),
               provides=("Session", "sessionId"), partition=lambda p: p["customerId"] or p["sessionId"],
               partition_all=lambda items: sessions_by_owner(items, params=lambda item: item.params),
               dated=(("startedAt", HAPPENED), ("endedAt", HAPPENED)),
               plans=(("sessions",), ("identity.BACKFILL_SESSIONS",))),
    EntitySpec("orders", s.OrderRow, write_orders,
               lambda r: {"orderId": r.orderId, "line": r.line, "placedAt": r.placedAt, "channel": r.channel,
                          "sku": r.sku, "quantity": r.quantity, "unitPrice": r.unitPrice, "customerId": r.customerId,
                          "storeId": r.storeId, "currency": r.currency or "GBP", "cancelled": r.cancelled},
               references=(Reference("sku", "Product"), Reference("customerId", "Customer"),
                           Reference("storeId", "Store")),
               provides=("Order", "orderId"), partition=lambda p: p["customerId"] or p["orderId"],
               check=_check_order, dated=(("placedAt", HAPPENED),),
               plans=(("orders",),)),
    EntitySpec("events", s.EventRow, write_events,
               lambda r: {"eventId": r.eventId, "sessionId": r.sessionId, "type": r.type, "at": r.at,
                          "sku": r.sku, "categoryId": r.categoryId, "orderId": r.orderId,
                          "searchText": _search_text(r.query), "page": r.page, "query": r.query,
                          "resultsCount": r.resultsCount, "quantity": r.quantity, "name": r.name,
                          "properties": r.properties},
               references=(Reference("sessionId", "Session"), Reference("sku", "Product"),
                           Reference("categoryId", "Category"), Reference("orderId", "Order")),
               partition=lambda p: p["sessionId"], check=_check_event, dated=(("at", HAPPENED),),
               plans=(("events",),)),
    EntitySpec("visits", s.VisitRow, write_visits,
               lambda r: {"visitId": r.visitId, "customerId": r.customerId, "storeId": r.storeId,
                          "arrivedAt": r.arrivedAt, "dwellMinutes": r.dwellMinutes, "source": r.source,
                          "zones": r.zones or None},
               references=(Reference("customerId", "Customer"), Reference("storeId", "Store")),
               partition=lambda p: p["customerId"], dated=(("arrivedAt", HAPPENED),),
               plans=(("visits",),)),
    EntitySpec("loyalty_scans", s.LoyaltyScanRow, write_loyalty_scans,
               lambda r: {"scanId": r.scanId, "loyaltyCard": r.loyaltyCard,
                          "cardKey": identity_key("loyalty_card", r.loyaltyCard), "storeId": r.storeId, "at": r.at,
                          "customerId": r.customerId},
               references=(Reference("storeId", "Store"), Reference("customerId", "Customer")),
               partition=lambda p: p["cardKey"], dated=(("at", HAPPENED),),
               plans=(("visits",),)),
    EntitySpec("pings", s.PingRow, None,
               lambda r: {"customerId": r.customerId, "latitude": r.latitude, "longitude": r.longitude, "at": r.at},
               references=(Reference("customerId", "Customer"),), dated=(("at", HAPPENED),),
               plans=(("visits",),)),
    EntitySpec("messages", s.MessageRow, write_messages,
               lambda r: {"messageId": r.messageId, "customerId": r.customerId, "channel": r.channel,
                          "sentAt": r.sentAt, "campaignId": r.campaignId, "offerId": r.offerId,
                          "props": _props(r, "subject")},
               references=(Reference("customerId", "Customer"), Reference("campaignId", "Campaign"),
                           Reference("offerId", "Offer")),
               provides=("Message", "messageId"), partition=lambda p: p["customerId"], dated=(("sentAt", HAPPENED),),
               plans=(("conversation",),)),
    EntitySpec("responses", s.ResponseRow, write_responses,
               lambda r: {"messageId": r.messageId, "customerId": r.customerId, "type": r.type, "at": r.at,
                          "text": r.text},
               references=(Reference("messageId", "Message"), Reference("customerId", "Customer")),
               partition=lambda p: p["customerId"], dated=(("at", HAPPENED),),
               plans=(("conversation", "consent"),)),
)}

assert tuple(SPECS) == s.ENTITY_ORDER, "SPECS must follow the schema's dependency order"
