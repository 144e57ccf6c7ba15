"""Relationship models: every relationship that records behaviour carries its time ``at`` (UTC)."""

from __future__ import annotations

from neomodel import (
    ArrayProperty,
    DateProperty,
    FloatProperty,
    IntegerProperty,
    StringProperty,
    StructuredRel,
)

from graph_model.model.properties import UtcDateTimeProperty


class TimedRel(StructuredRel):
    """A behavioural relationship: when it happened."""

    at = UtcDateTimeProperty(required=True)


class IdentityLink(TimedRel):
    """Two identifiers seen together (e.g. a cookie on a session that logged in)."""

    origin = StringProperty()  # what linked them, e.g. "login", "loyalty_scan"


class LineItem(StructuredRel):
    """One line of an order: ``(:Order)-[:INCLUDES {line, quantity, unitPrice}]->(:Product)``."""

    line = IntegerProperty(required=True)
    quantity = IntegerProperty(required=True)
    unitPrice = FloatProperty(required=True)


class Step(StructuredRel):
    """``(:Event)-[:NEXT {gapSeconds}]->(:Event)``: the order of events in a session."""

    gapSeconds = FloatProperty()


class Stock(StructuredRel):
    """``(:Store)-[:STOCKS {quantity, updatedAt}]->(:Product)``."""

    quantity = IntegerProperty(required=True)
    updatedAt = UtcDateTimeProperty()


class Response(TimedRel):
    """``(:Customer)-[:RESPONDED {type, at, text}]->(:Message)``: the customer's side of the conversation."""

    type = StringProperty(required=True, choices={t: t for t in ("delivered", "opened", "clicked", "redeemed", "replied", "unsubscribed")})
    text = StringProperty()


class Affinity(StructuredRel):
    """``(:Product)-[:AFFINITY]->(:Product)`` written by the algorithms."""

    kind = StringProperty(required=True)  # "bought_together" | "viewed_together"
    score = FloatProperty(required=True)
    lift = FloatProperty()
    support = FloatProperty()
    confidence = FloatProperty()
    rank = IntegerProperty()
    version = StringProperty()


class Similarity(StructuredRel):
    """``(:Customer)-[:SIMILAR_TO {score, rank, version}]->(:Customer)`` written by the algorithms."""

    score = FloatProperty(required=True)
    rank = IntegerProperty()
    version = StringProperty()


class Recommendation(StructuredRel):
    """``(:Customer)-[:RECOMMENDED {score, rank, reason, evidence, version}]->(:Product)`` written by the algorithms."""

    score = FloatProperty(required=True)
    rank = IntegerProperty()
    reason = StringProperty()  # a readable sentence naming real nodes
    evidence = ArrayProperty(StringProperty())  # e.g. ["affinity:85123A", "similar_shoppers:3"]; never a customer id
    version = StringProperty()


class BuyAgain(StructuredRel):
    """``(:Customer)-[:BUY_AGAIN {probability, rank, reason, cycleDays, lastDate, version}]->(:Product)``: a due
    re-order, written by the algorithms (``algorithms/buy_again.py``)."""

    probability = FloatProperty(required=True)  # of buying it again within 90 days
    rank = IntegerProperty()
    reason = StringProperty()  # e.g. "you order this about every 30 days; last on 2011-11-02"
    cycleDays = FloatProperty()  # null after a single purchase
    lastDate = DateProperty()
    version = StringProperty()


class Popularity(StructuredRel):
    """``(:Store)-[:POPULAR_AT]->(:Product)`` and ``(:Segment)-[:POPULAR_IN]->(:Product)``: fallbacks for new customers."""

    rank = IntegerProperty(required=True)
    score = FloatProperty()
    version = StringProperty()


class Membership(StructuredRel):
    """``(:Customer)-[:IN_SEGMENT {version}]->(:Segment)`` written by the algorithms."""

    version = StringProperty()
