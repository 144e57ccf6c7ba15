"""Orders and their line items."""

from __future__ import annotations

from neomodel import BooleanProperty, FloatProperty, RelationshipTo, StringProperty, StructuredNode, ZeroOrOne

from graph_model.model.properties import UtcDateTimeProperty
from graph_model.model.relationships import LineItem

ORDER_CHANNELS = ("web", "app", "store", "phone")


class Order(StructuredNode):
    """An order (online or in store). Line items are ``(:Order)-[:INCLUDES {line, quantity, unitPrice}]->(:Product)``.

    A cancellation is an order with ``cancelled = true`` and negative quantities, linked to nothing else.
    """

    orderId = StringProperty(unique_index=True, required=True)
    channel = StringProperty(required=True, index=True, choices={c: c for c in ORDER_CHANNELS})
    placedAt = UtcDateTimeProperty(required=True, index=True)
    total = FloatProperty()
    currency = StringProperty(default="GBP")
    cancelled = BooleanProperty(default=False)

    lines = RelationshipTo("graph_model.model.catalogue.Product", "INCLUDES", model=LineItem)
    store = RelationshipTo("graph_model.model.stores.Store", "AT_STORE", cardinality=ZeroOrOne)
