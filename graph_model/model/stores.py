"""Brick-and-mortar stores and customers' visits to them."""

from __future__ import annotations

from neomodel import (
    ArrayProperty,
    FloatProperty,
    RelationshipTo,
    StringProperty,
    StructuredNode,
    ZeroOrOne,
)

from graph_model.model.properties import GeoPointProperty, UtcDateTimeProperty
from graph_model.model.relationships import Popularity, Stock

VISIT_SOURCES = ("location_ping", "loyalty_scan", "purchase")


class Store(StructuredNode):
    """A store with its location (a WGS-84 point, usable by ``point.distance``)."""

    storeId = StringProperty(unique_index=True, required=True)
    name = StringProperty(required=True)
    location = GeoPointProperty(required=True)
    city = StringProperty()
    openedAt = UtcDateTimeProperty()

    country = RelationshipTo("graph_model.model.customers.Country", "IN_COUNTRY", cardinality=ZeroOrOne)
    stock = RelationshipTo("graph_model.model.catalogue.Product", "STOCKS", model=Stock)
    popular = RelationshipTo("graph_model.model.catalogue.Product", "POPULAR_AT", model=Popularity)


class Visit(StructuredNode):
    """A customer's visit to a store: ``(:Customer)-[:MADE_VISIT {at}]->(:Visit)-[:TO_STORE]->(:Store)``."""

    visitId = StringProperty(unique_index=True, required=True)
    arrivedAt = UtcDateTimeProperty(required=True, index=True)
    dwellMinutes = FloatProperty()
    source = StringProperty(required=True, choices={s: s for s in VISIT_SOURCES})
    zones = ArrayProperty(StringProperty())

    store = RelationshipTo("Store", "TO_STORE", cardinality=ZeroOrOne)
