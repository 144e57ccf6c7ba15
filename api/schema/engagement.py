"""A customer's engagement history: one cross-channel timeline with Relay cursor pagination.

The cursor is the entry's exact position ``(at, kind:id)`` (``at`` as Neo4j prints it, nanoseconds
included), so the next page starts strictly after it: no gaps, no repeats.
"""

from __future__ import annotations

import base64
import binascii
import enum
import json
import re
from datetime import datetime
from typing import Any

import strawberry
from strawberry.types import Info

from api.db import from_micros
from api.errors import BadUserInput
from api.queries import engagement as q
from api.schema.common import Channel, PageInfo, context, page_size
from api.schema.permissions import CanSeePersonalData
from api.schema.product import Product
from api.schema.store import Store


@strawberry.enum(description="The kinds of entries of the engagement timeline.")
class EngagementType(enum.Enum):
    SESSION = "SESSION"
    ORDER = "ORDER"
    VISIT = "VISIT"
    MESSAGE = "MESSAGE"
    RESPONSE = "RESPONSE"


# An instant as Neo4j prints a UTC DATETIME (what ``toString(at)`` gives): the only text a cursor holds.
_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?Z")


def encode_cursor(at_text: str, key: str) -> str:
    """An opaque cursor for the timeline position ``(at, key)``."""
    return base64.urlsafe_b64encode(json.dumps([at_text, key]).encode()).decode()


def decode_cursor(cursor: str) -> tuple[str, str]:
    """The position in a cursor; a ``BAD_USER_INPUT`` error when it is not one of ours.

    >>> decode_cursor(encode_cursor("2025-03-01T10:00:00.123456789Z", "SESSION:s1"))
    ('2025-03-01T10:00:00.123456789Z', 'SESSION:s1')
    >>> decode_cursor(encode_cursor(["2026-01-01T00:00:00Z"], "SESSION:x"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    api.errors.BadUserInput: `after` is not a valid cursor of this connection.
    """
    try:
        at_text, key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if not isinstance(at_text, str) or not isinstance(key, str) or not _INSTANT.fullmatch(at_text):
            raise ValueError(cursor)
        datetime.fromisoformat(at_text[:19])
    except (ValueError, TypeError, binascii.Error, UnicodeError):
        raise BadUserInput("`after` is not a valid cursor of this connection.", argument="after") from None
    return at_text, key


async def _store(info: Info, store_id: str | None) -> Store | None:
    if store_id is None:
        return None
    row = await context(info).loaders.store.load(store_id)
    return Store.from_row(row) if row else None


@strawberry.interface(description="One entry of the engagement timeline.")
class EngagementEntry:
    type: EngagementType
    id: strawberry.ID
    at: datetime
    channel: str | None


@strawberry.type(description="An interaction within a session.")
class SessionEvent:
    id: strawberry.ID
    type: str
    at: datetime
    page: str | None
    query: str | None
    results_count: int | None
    quantity: int | None
    product: Product | None
    category_id: strawberry.ID | None
    order_id: strawberry.ID | None


@strawberry.type(description="A web, app or in-store session; its events in order.")
class SessionEntry(EngagementEntry):
    device: str | None
    ended_at: datetime | None
    store_id: strawberry.Private[str | None]

    @strawberry.field(description="The session's events in the order they happened.")
    async def events(self, info: Info, first: int = 50) -> list[SessionEvent]:
        first = page_size(info, first)
        rows = await context(info).loaders.session_events.load((str(self.id), first))
        return [SessionEvent(
            id=row["event"]["eventId"], type=row["event"]["type"], at=row["event"]["at"],
            page=row["event"].get("page"), query=row["event"].get("query"),
            results_count=row["event"].get("resultsCount"), quantity=row["event"].get("quantity"),
            product=Product.from_row(row["product"]) if row.get("product") else None,
            category_id=row.get("categoryId"), order_id=row.get("orderId"),
        ) for row in rows]

    @strawberry.field(description="The store, for an in-store session.")
    async def store(self, info: Info) -> Store | None:
        return await _store(info, self.store_id)


@strawberry.type(description="A line of an order.")
class OrderLine:
    line: int
    quantity: int
    unit_price: float
    product: Product


@strawberry.type(description="An order (online or in store); cancellations have `cancelled = true`.")
class OrderEntry(EngagementEntry):
    total: float | None
    currency: str | None
    cancelled: bool | None
    store_id: strawberry.Private[str | None]

    @strawberry.field(description="The line items by line number: the first `first` (at most the largest page).")
    async def lines(self, info: Info, first: int = 100) -> list[OrderLine]:
        rows = await context(info).loaders.order_lines.load((str(self.id), page_size(info, first)))
        return [OrderLine(line=row["line"]["line"], quantity=row["line"]["quantity"],
                          unit_price=row["line"]["unitPrice"], product=Product.from_row(row["product"]))
                for row in rows]

    @strawberry.field(description="The store, for an in-store order.")
    async def store(self, info: Info) -> Store | None:
        return await _store(info, self.store_id)


@strawberry.type(description="A visit to a store.")
class VisitEntry(EngagementEntry):
    dwell_minutes: float | None
    source: str | None
    zones: list[str] | None
    store_id: strawberry.Private[str | None]

    @strawberry.field(description="The store visited.")
    async def store(self, info: Info) -> Store | None:
        return await _store(info, self.store_id)


@strawberry.type(description="A message sent to the customer.")
class MessageEntry(EngagementEntry):
    subject: str | None
    campaign: str | None
    offer_id: strawberry.ID | None


@strawberry.type(description="The customer's response to a message.")
class ResponseEntry(EngagementEntry):
    response: str = strawberry.field(description="delivered, opened, clicked, redeemed, replied or unsubscribed.")
    message_id: strawberry.ID
    text_value: strawberry.Private[str | None]
    customer_id: strawberry.Private[str]

    @strawberry.field(description="The reply's text (personal data; the read is audited).",
                      permission_classes=[CanSeePersonalData])
    def text(self, info: Info) -> str | None:
        context(info).read_personal(self.customer_id, "response.text")
        return self.text_value


def entry_from_row(row: dict[str, Any], customer_id: str) -> EngagementEntry:
    """The timeline entry of one row of :data:`api.queries.engagement.TIMELINE`."""
    kind, item = row["kind"], row["item"]
    common: dict[str, Any] = {"type": EngagementType(kind), "id": row["id"], "at": from_micros(row["atMicros"]),
                              "channel": row["channel"]}
    if kind == "SESSION":
        return SessionEntry(**common, device=item.get("device"), ended_at=item.get("endedAt"),
                            store_id=item.get("storeId"))
    if kind == "ORDER":
        return OrderEntry(**common, total=item.get("total"), currency=item.get("currency"),
                          cancelled=item.get("cancelled"), store_id=item.get("storeId"))
    if kind == "VISIT":
        return VisitEntry(**common, dwell_minutes=item.get("dwellMinutes"), source=item.get("source"),
                          zones=item.get("zones"), store_id=item.get("storeId"))
    if kind == "MESSAGE":
        return MessageEntry(**common, subject=item.get("subject"), campaign=item.get("campaign"),
                            offer_id=item.get("offerId"))
    return ResponseEntry(**common, response=item["type"], message_id=item["messageId"], text_value=item.get("text"),
                         customer_id=customer_id)


@strawberry.type(description="An entry of the timeline with its cursor.")
class EngagementEdge:
    cursor: str
    node: EngagementEntry


@strawberry.type(description="A page of the engagement timeline, newest first.")
class EngagementConnection:
    edges: list[EngagementEdge]
    page_info: PageInfo


async def engagement_history(info: Info, customer_id: str, *, first: int, after: str | None,
                             channels: list[Channel] | None, types: list[EngagementType] | None,
                             start: datetime | None, end: datetime | None) -> EngagementConnection:
    """One page of the customer's timeline."""
    first = page_size(info, first)
    position = decode_cursor(after) if after else None
    kinds = tuple(t.value for t in types) if types else q.ENTRY_KINDS
    wanted = tuple(c.value for c in channels) if channels else None
    rows = await context(info).loaders.timeline.load((customer_id, first + 1, kinds, wanted, start, end, position))
    page = rows[:first]
    edges = [EngagementEdge(cursor=encode_cursor(row["atText"], row["key"]), node=entry_from_row(row, customer_id))
             for row in page]
    return EngagementConnection(edges=edges, page_info=PageInfo(
        has_next_page=len(rows) > first, has_previous_page=position is not None,
        start_cursor=edges[0].cursor if edges else None, end_cursor=edges[-1].cursor if edges else None,
    ))
