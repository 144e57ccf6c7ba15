"""The product catalogue: products, a category hierarchy, brands."""

from __future__ import annotations

from neomodel import FloatProperty, IntegerProperty, RelationshipTo, StringProperty, StructuredNode, ZeroOrOne

from graph_model.model.properties import UtcDateTimeProperty
from graph_model.model.relationships import Affinity


class Brand(StructuredNode):
    """A brand products are made under."""

    brandId = StringProperty(unique_index=True, required=True)
    name = StringProperty(required=True)


class Category(StructuredNode):
    """A category; ``(:Category)-[:SUBCATEGORY_OF]->(:Category)`` forms the hierarchy."""

    categoryId = StringProperty(unique_index=True, required=True)
    name = StringProperty(required=True)

    parent = RelationshipTo("Category", "SUBCATEGORY_OF", cardinality=ZeroOrOne)


class Product(StructuredNode):
    """A product (stock keeping unit)."""

    sku = StringProperty(unique_index=True, required=True)
    name = StringProperty()
    description = StringProperty()
    price = FloatProperty()
    createdAt = UtcDateTimeProperty()
    updatedAt = UtcDateTimeProperty()

    # Written by algorithms/ (trends):
    popularity = IntegerProperty()  # distinct buyers
    popularityRank = IntegerProperty()
    trendScore = FloatProperty()
    trendRank = IntegerProperty()  # 1 = demand rising fastest

    categories = RelationshipTo("Category", "IN_CATEGORY")
    brand = RelationshipTo("Brand", "MADE_BY", cardinality=ZeroOrOne)
    affinities = RelationshipTo("Product", "AFFINITY", model=Affinity)
