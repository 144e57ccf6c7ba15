"""Sessions on web, app and in store, with their ordered interaction events."""

from __future__ import annotations

from neomodel import IntegerProperty, RelationshipTo, StringProperty, StructuredNode, ZeroOrOne

from graph_model.model.properties import UtcDateTimeProperty
from graph_model.model.relationships import Step, TimedRel

CHANNELS = ("web", "app", "store")
EVENT_TYPES = (
    "page_view",
    "search",
    "product_view",
    "add_to_cart",
    "remove_from_cart",
    "checkout",
    "purchase",
    "custom",  # any other tracked interaction: its name and properties kept as sent (the collection API)
)


class Session(StructuredNode):
    """One visit to the web shop or app (or a clienteling session in store).

    ``(:Customer)-[:HAD_SESSION {at}]->(:Session)`` once the session resolves to a customer;
    ``(:Session)-[:IDENTIFIED_BY {at}]->(:Identity)`` for the cookie/device it came from.
    """

    sessionId = StringProperty(unique_index=True, required=True)
    channel = StringProperty(required=True, index=True, choices={c: c for c in CHANNELS})
    device = StringProperty()
    startedAt = UtcDateTimeProperty(required=True, index=True)
    endedAt = UtcDateTimeProperty()

    identities = RelationshipTo("graph_model.model.customers.Identity", "IDENTIFIED_BY", model=TimedRel)
    events = RelationshipTo("Event", "CONTAINS", model=TimedRel)
    store = RelationshipTo("graph_model.model.stores.Store", "AT_STORE", cardinality=ZeroOrOne)


class SearchQuery(StructuredNode):
    """A normalised search text (lower case, single spaces), shared by every search that typed it."""

    text = StringProperty(unique_index=True, required=True)


class Event(StructuredNode):
    """One interaction in a session, chained in order by ``(:Event)-[:NEXT]->(:Event)``."""

    eventId = StringProperty(unique_index=True, required=True)
    type = StringProperty(required=True, index=True, choices={t: t for t in EVENT_TYPES})
    at = UtcDateTimeProperty(required=True, index=True)
    page = StringProperty()  # URL path or screen name
    query = StringProperty()  # search text as typed
    resultsCount = IntegerProperty()
    quantity = IntegerProperty()
    name = StringProperty()  # a custom event's name as the tracking SDK sent it ("Wishlist Product Added")
    properties = StringProperty()  # a custom event's properties as JSON text

    next = RelationshipTo("Event", "NEXT", model=Step, cardinality=ZeroOrOne)
    product = RelationshipTo("graph_model.model.catalogue.Product", "ABOUT_PRODUCT", model=TimedRel)
    category = RelationshipTo("graph_model.model.catalogue.Category", "ABOUT_CATEGORY", model=TimedRel)
    search = RelationshipTo("SearchQuery", "SEARCHED", model=TimedRel)
    order = RelationshipTo("graph_model.model.commerce.Order", "PLACED_ORDER", model=TimedRel)
