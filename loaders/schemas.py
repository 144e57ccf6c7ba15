"""The export schemas: one pydantic model per nightly-export entity (field, type, required, meaning).

Field names are the graph's camelCase property names where a field lands on a node. Times are ISO 8601
(``2026-11-01T08:15:00Z``; a time without an offset is taken as UTC). In CSV an empty cell means "not
given" and lists are written ``a|b|c``. ``docs/loaders.md`` is generated from these classes by
:func:`schema_markdown`.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Annotated, Literal, get_args, get_origin

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from graph_model.model.activity import CHANNELS, EVENT_TYPES
from graph_model.model.commerce import ORDER_CHANNELS
from graph_model.model.conversation import MESSAGE_CHANNELS
from graph_model.model.customers import CONSENT_CHANNELS, CONSENT_PURPOSES, LOYALTY_TIERS, normal_key
from graph_model.model.stores import VISIT_SOURCES
from graph_model.timestamps import to_utc


def _split_list(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split("|") if part.strip()]
    return value


Timestamp = Annotated[datetime, AfterValidator(to_utc)]
TextList = Annotated[list[str], BeforeValidator(_split_list)]
Latitude = Annotated[float, Field(ge=-90, le=90)]
Longitude = Annotated[float, Field(ge=-180, le=180)]


def _key(value: str) -> str:
    """``value`` read as every way in reads a key (:func:`graph_model.model.customers.normal_key`); refused when
    nothing is left (a key of invisible characters only, e.g. a zero-width space: until stop 41 it loaded as the
    empty key)."""
    key = normal_key(value)
    if not key:
        raise ValueError("a key of invisible characters only")
    return key


#: A natural key: 1 to 200 characters, read as every way in reads a key
Key = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_key)]
#: The longest search text kept (a ``SearchQuery`` node's unique key: an index refuses values over ~8 KB, and
#: until stop 40 a 28 KB query from the public collection key failed its batch, retried row by row)
MAX_SEARCH_TEXT = 2_000
#: The longest country name (a ``Country`` node's unique key)
MAX_COUNTRY = 200
EMAIL_HASH = r"^[0-9a-f]{64}$"
#: SHA-256 of the trimmed, lower-cased address, as 64 lower-case hex digits: an address itself is refused, never
#: stored (until stop 38 ``alice@example.com`` went in as a "hash")
EmailHash = Annotated[str, Field(pattern=EMAIL_HASH)]
#: an integer Neo4j can store (a 64-bit ``INTEGER``); a larger one is a reject, not a failed write
Long = Annotated[int, Field(ge=-(2**63), le=2**63 - 1)]

Channel = Literal[CHANNELS]  # type: ignore[valid-type]
OrderChannel = Literal[ORDER_CHANNELS]  # type: ignore[valid-type]
MessageChannel = Literal[MESSAGE_CHANNELS]  # type: ignore[valid-type]
EventType = Literal[EVENT_TYPES]  # type: ignore[valid-type]
ConsentChannel = Literal[CONSENT_CHANNELS]  # type: ignore[valid-type]
ConsentPurpose = Literal[CONSENT_PURPOSES]  # type: ignore[valid-type]
LoyaltyTier = Literal[LOYALTY_TIERS]  # type: ignore[valid-type]
VisitSource = Literal[VISIT_SOURCES]  # type: ignore[valid-type]
IdentifierType = Literal["email_hash", "device_id", "cookie", "loyalty_card"]
ResponseType = Literal["delivered", "opened", "clicked", "redeemed", "replied", "unsubscribed"]


class ExportRow(BaseModel):
    """Base of every export row: unknown columns are ignored (and named in the run report, see
    :func:`known_columns`), text is stripped, a number is finite."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, frozen=True, allow_inf_nan=False)


@cache
def known_columns(schema: type[ExportRow]) -> frozenset[str]:
    """The columns the format knows for an entity: every other column of a file is ignored.

    >>> sorted(known_columns(BrandRow))
    ['brandId', 'name']
    """
    return frozenset(name for field_name, info in schema.model_fields.items()
                     for name in (field_name, info.validation_alias) if isinstance(name, str))


class CategoryRow(ExportRow):
    """``categories``: the category tree."""

    categoryId: Key = Field(description="natural key of the category")
    name: str = Field(description="display name")
    parentId: Key | None = Field(None, description="categoryId of the parent category (same file or earlier drop)")


class BrandRow(ExportRow):
    """``brands``: brands products are made under."""

    brandId: Key = Field(description="natural key of the brand")
    name: str = Field(description="display name")


class ProductRow(ExportRow):
    """``products``: the catalogue (upserted; empty fields keep the graph's value)."""

    sku: Key = Field(description="stock keeping unit, natural key")
    name: str | None = Field(None, description="product name")
    description: str | None = Field(None, description="long description")
    price: float | None = Field(None, ge=0, description="current list price")
    categoryIds: TextList = Field(default_factory=list, description="categories (`a|b` in CSV), must exist")
    brandId: Key | None = Field(None, description="brand, must exist")
    createdAt: Timestamp | None = Field(None, description="first listed")
    updatedAt: Timestamp | None = Field(None, description="last change in the source system")


class StoreRow(ExportRow):
    """``stores``: brick-and-mortar stores with their location."""

    storeId: Key = Field(description="natural key of the store")
    name: str = Field(description="display name")
    latitude: Latitude = Field(description="WGS-84 latitude")
    longitude: Longitude = Field(description="WGS-84 longitude")
    city: str | None = Field(None, description="city")
    country: str | None = Field(None, max_length=MAX_COUNTRY, description="country name (a Country node)")
    openedAt: Timestamp | None = Field(None, description="opening date")


class StockRow(ExportRow):
    """``stock``: units of a product on hand in a store."""

    storeId: Key = Field(description="store, must exist")
    sku: Key = Field(description="product, must exist")
    quantity: Long = Field(ge=0, description="units on hand")
    updatedAt: Timestamp = Field(description="time of the count")


class CampaignRow(ExportRow):
    """``campaigns``: marketing campaigns."""

    campaignId: Key = Field(description="natural key")
    name: str = Field(description="display name")
    purpose: str | None = Field(None, description="e.g. winback, launch, loyalty")
    startsAt: Timestamp | None = Field(None, description="start")
    endsAt: Timestamp | None = Field(None, description="end")


class OfferRow(ExportRow):
    """``offers``: discounts and vouchers."""

    offerId: Key = Field(description="natural key")
    description: str = Field(description="what the customer gets")
    discountPct: float | None = Field(None, ge=0, le=100, description="discount in percent")
    validFrom: Timestamp | None = Field(None, description="valid from")
    validTo: Timestamp | None = Field(None, description="valid until")
    campaignId: Key | None = Field(None, description="campaign offering it, must exist")
    skus: TextList = Field(default_factory=list, description="products it applies to (`a|b`), must exist")
    categoryIds: TextList = Field(default_factory=list, description="categories it applies to, must exist")
    storeId: Key | None = Field(None, description="only valid at this store, must exist")


class CustomerRow(ExportRow):
    """``customers``: the customer master (upserted; empty fields keep the graph's value)."""

    customerId: Key = Field(description="natural key (also the `customer_ref` identifier)")
    name: str | None = Field(None, description="full name (personal)")
    emailHash: EmailHash | None = Field(None, description="SHA-256 of the lower-cased e-mail, 64 hex digits (also an "
                                                          "identifier)")
    city: str | None = Field(None, description="home city")
    country: str | None = Field(None, max_length=MAX_COUNTRY, description="country name (a Country node)")
    homeLatitude: Latitude | None = Field(None, description="home location latitude (personal)")
    homeLongitude: Longitude | None = Field(None, description="home location longitude (personal)")
    loyaltyTier: LoyaltyTier | None = Field(None, description="none, bronze, silver, gold, platinum")
    homeStoreId: Key | None = Field(None, description="preferred store, must exist")
    createdAt: Timestamp | None = Field(None, description="customer since (the earliest value is kept)")
    updatedAt: Timestamp | None = Field(None, description="last change; an older row never overwrites a newer one")


class IdentifierRow(ExportRow):
    """``identifiers``: identifiers known to belong to a customer (CRM, app log-ins, loyalty sign-up)."""

    customerId: Key = Field(description="customer, must exist")
    type: IdentifierType = Field(description="email_hash, device_id, cookie or loyalty_card")
    value: Key = Field(description="the identifier")
    seenAt: Timestamp = Field(description="when it was seen with this customer")


class ConsentRow(ExportRow):
    """``consents``: what a customer allows per channel and purpose (latest `updatedAt` wins)."""

    customerId: Key = Field(description="customer, must exist")
    channel: ConsentChannel = Field(description="email, sms, push, app, web, store")
    purpose: ConsentPurpose = Field(description="marketing, personalisation, analytics, location")
    granted: bool = Field(description="true / false")
    updatedAt: Timestamp = Field(description="when the customer decided")


class SessionRow(ExportRow):
    """``sessions``: web/app/store sessions with the identifiers seen on them."""

    sessionId: Key = Field(description="natural key")
    channel: Channel = Field(description="web, app or store")
    startedAt: Timestamp = Field(description="first hit")
    endedAt: Timestamp | None = Field(None, description="last hit")
    device: str | None = Field(None, description="desktop, mobile, tablet, kiosk...")
    customerId: Key | None = Field(None, description="logged-in customer (must exist); empty = anonymous")
    cookie: Key | None = Field(None, description="web cookie id")
    deviceId: Key | None = Field(None, description="app installation / device id")
    storeId: Key | None = Field(None, description="store of an in-store session, must exist")


class OrderRow(ExportRow):
    """``orders``: one row per order line; the order fields repeat on every line of the order."""

    orderId: Key = Field(description="natural key of the order")
    line: Long = Field(ge=1, description="line number within the order (natural key of the line)")
    placedAt: Timestamp = Field(description="when the order was placed")
    channel: OrderChannel = Field(description="web, app, store, phone")
    sku: Key = Field(description="product, must exist")
    quantity: Long = Field(description="units: at least 1, negative only on cancellations")
    unitPrice: float = Field(ge=0, description="price per unit")
    customerId: Key | None = Field(None, description="buyer, must exist; empty = guest order")
    storeId: Key | None = Field(None, description="store of an in-store order, must exist")
    currency: str | None = Field(None, min_length=3, max_length=3, description="ISO 4217, default GBP")
    cancelled: bool = Field(False, description="true for a cancellation")


class EventRow(ExportRow):
    """``events``: clickstream events of sessions (any order; the loader chains them by time)."""

    eventId: Key = Field(description="natural key")
    sessionId: Key = Field(description="session, must exist (same drop or earlier)")
    type: EventType = Field(description="page_view, search, product_view, add_to_cart, remove_from_cart, checkout, "
                                        "purchase, custom")
    at: Timestamp = Field(description="time of the event")
    page: str | None = Field(None, description="URL path or screen")
    query: str | None = Field(None, max_length=MAX_SEARCH_TEXT,
                              description="search text as typed (required for search; at most 2,000 characters)")
    resultsCount: Long | None = Field(None, ge=0, description="number of search results")
    sku: Key | None = Field(None, description="product (required for product_view and cart events), must exist")
    categoryId: Key | None = Field(None, description="category of a category page, must exist")
    quantity: Long | None = Field(None, ge=1, description="units added or removed (at least 1)")
    orderId: Key | None = Field(None, description="order of a purchase event, must exist")
    name: str | None = Field(default=None, max_length=200, description="name of a custom event (required for custom)")
    properties: str | None = Field(default=None, max_length=16_000, description="a custom event's properties, JSON text")


class VisitRow(ExportRow):
    """``visits``: store visits recorded by store systems (purchase at the till, loyalty scan)."""

    visitId: Key = Field(description="natural key")
    customerId: Key = Field(description="customer, must exist")
    storeId: Key = Field(description="store, must exist")
    arrivedAt: Timestamp = Field(description="arrival")
    dwellMinutes: float | None = Field(None, ge=0, description="time spent in store")
    source: VisitSource = Field(description="purchase, loyalty_scan or location_ping")
    zones: TextList = Field(default_factory=list, description="store zones visited (`a|b`)")


class LoyaltyScanRow(ExportRow):
    """``loyalty_scans``: a loyalty card scanned in a store (becomes a Visit, source loyalty_scan)."""

    scanId: Key = Field(description="natural key")
    loyaltyCard: Key = Field(description="card number; must identify a customer unless customerId is given")
    storeId: Key = Field(description="store, must exist")
    at: Timestamp = Field(description="time of the scan")
    customerId: Key | None = Field(None, description="customer, when the till knows it (links the card)")


class PingRow(ExportRow):
    """``pings``: raw smartphone location pings (become Visits by geofencing; not stored themselves)."""

    customerId: Key = Field(description="customer, must exist")
    latitude: Latitude = Field(description="WGS-84 latitude")
    longitude: Longitude = Field(description="WGS-84 longitude")
    at: Timestamp = Field(description="time of the fix")
    accuracyMeters: float | None = Field(None, ge=0, description="reported accuracy")


class MessageRow(ExportRow):
    """``messages``: a message sent to one customer."""

    messageId: Key = Field(description="natural key")
    customerId: Key = Field(description="recipient, must exist")
    channel: MessageChannel = Field(description="email, sms, push, app, web, store")
    sentAt: Timestamp = Field(description="when it was sent")
    subject: str | None = Field(None, description="subject or first line")
    campaignId: Key | None = Field(None, description="campaign, must exist")
    offerId: Key | None = Field(None, description="offer carried, must exist")


class ResponseRow(ExportRow):
    """``responses``: the customer's reaction to a message (one row per reaction)."""

    messageId: Key = Field(description="message, must exist")
    customerId: Key = Field(description="customer, must exist")
    type: ResponseType = Field(description="delivered, opened, clicked, redeemed, replied, unsubscribed")
    at: Timestamp = Field(description="when")
    text: str | None = Field(None, description="reply text")


SCHEMAS: dict[str, type[ExportRow]] = {
    "categories": CategoryRow,
    "brands": BrandRow,
    "products": ProductRow,
    "stores": StoreRow,
    "stock": StockRow,
    "campaigns": CampaignRow,
    "offers": OfferRow,
    "customers": CustomerRow,
    "identifiers": IdentifierRow,
    "consents": ConsentRow,
    "sessions": SessionRow,
    "orders": OrderRow,
    "events": EventRow,
    "visits": VisitRow,
    "loyalty_scans": LoyaltyScanRow,
    "pings": PingRow,
    "messages": MessageRow,
    "responses": ResponseRow,
}
"""Every entity in dependency order: reference data first, then customers, then activity."""

ENTITY_ORDER: tuple[str, ...] = tuple(SCHEMAS)


def _type_name(annotation: object) -> str:
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return _type_name(args[0])
    if origin is Literal:
        return "one of " + ", ".join(str(a) for a in args)
    if args and type(None) in args:
        return " or ".join(_type_name(a) for a in args if a is not type(None))
    if origin is list:
        return f"list of {_type_name(args[0])}"
    names = {str: "text", int: "integer", float: "number", bool: "boolean", datetime: "timestamp"}
    return names.get(annotation, getattr(annotation, "__name__", str(annotation)))  # type: ignore[call-overload]


def schema_markdown() -> str:
    """The schema of every export as Markdown tables (field, type, required, meaning)."""
    parts: list[str] = []
    for entity, model in SCHEMAS.items():
        parts.append(f"### `{entity}`\n\n{(model.__doc__ or '').split(': ', 1)[-1]}\n")
        parts.append("| field | type | required | meaning |\n|---|---|---|---|")
        for name, field in model.model_fields.items():
            kind = _type_name(field.annotation)
            parts.append(f"| `{name}` | {kind} | {'yes' if field.is_required() else ''} | {field.description or ''} |")
        parts.append("")
    return "\n".join(parts)
