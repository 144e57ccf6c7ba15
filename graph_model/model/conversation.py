"""The two-way conversation: campaigns, offers, messages sent and the customer's responses."""

from __future__ import annotations

from neomodel import FloatProperty, RelationshipTo, StringProperty, StructuredNode, ZeroOrOne

from graph_model.model.properties import UtcDateTimeProperty
from graph_model.model.relationships import TimedRel

MESSAGE_CHANNELS = ("email", "sms", "push", "app", "web", "store")


class Campaign(StructuredNode):
    """A marketing campaign; its messages point at it with ``PART_OF``."""

    campaignId = StringProperty(unique_index=True, required=True)
    name = StringProperty(required=True)
    purpose = StringProperty()
    startsAt = UtcDateTimeProperty()
    endsAt = UtcDateTimeProperty()

    offers = RelationshipTo("Offer", "HAS_OFFER")


class Offer(StructuredNode):
    """An offer (discount, voucher) on products or categories."""

    offerId = StringProperty(unique_index=True, required=True)
    description = StringProperty(required=True)
    discountPct = FloatProperty()
    validFrom = UtcDateTimeProperty()
    validTo = UtcDateTimeProperty()

    products = RelationshipTo("graph_model.model.catalogue.Product", "FOR_PRODUCT")
    categories = RelationshipTo("graph_model.model.catalogue.Category", "FOR_CATEGORY")
    store = RelationshipTo("graph_model.model.stores.Store", "VALID_AT", cardinality=ZeroOrOne)


class Message(StructuredNode):
    """A message sent to one customer on one channel.

    ``(:Message)-[:SENT_TO {at}]->(:Customer)``; the customer's answers are
    ``(:Customer)-[:RESPONDED {type, at, text}]->(:Message)``.
    """

    messageId = StringProperty(unique_index=True, required=True)
    channel = StringProperty(required=True, index=True, choices={c: c for c in MESSAGE_CHANNELS})
    sentAt = UtcDateTimeProperty(required=True, index=True)
    subject = StringProperty()

    campaign = RelationshipTo("Campaign", "PART_OF", cardinality=ZeroOrOne)
    offer = RelationshipTo("Offer", "CARRIES", cardinality=ZeroOrOne)
    customer = RelationshipTo("graph_model.model.customers.Customer", "SENT_TO", model=TimedRel, cardinality=ZeroOrOne)
