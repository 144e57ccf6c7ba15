"""Customers and the identifiers that resolve web, app and store activity to one person."""

from __future__ import annotations

import unicodedata

from neomodel import (
    BooleanProperty,
    FloatProperty,
    IntegerProperty,
    RelationshipFrom,
    RelationshipTo,
    StringProperty,
    StructuredNode,
    ZeroOrOne,
)

from graph_model.model.properties import GeoPointProperty, UtcDateTimeProperty
from graph_model.model.relationships import (
    BuyAgain,
    IdentityLink,
    Membership,
    Recommendation,
    Response,
    Similarity,
    TimedRel,
)

IDENTITY_TYPES = ("email_hash", "device_id", "cookie", "loyalty_card", "customer_ref")
CONSENT_CHANNELS = ("email", "sms", "push", "app", "web", "store")
CONSENT_PURPOSES = ("marketing", "personalisation", "analytics", "location")
LOYALTY_TIERS = ("none", "bronze", "silver", "gold", "platinum")


def normal_key(text: str) -> str:
    """A key as every way in reads it: without surrounding whitespace, without invisible format characters
    (zero-width spaces and joiners, byte-order marks), in Unicode's composed form (NFC), so that one id spelled
    several ways (``ZOË-1`` typed as ``E`` + a combining diaeresis, ``" C1"``, ``C1`` + a zero-width space) is one
    node and one tombstone (until stop 40 each spelling of an erased id was a new customer: found by audits).
    Case is kept: ids are case-sensitive.

    >>> normal_key(" ZOE\u0308-1 ") == "ZO\u00cb-1"
    True
    >>> normal_key("C0000010\u200b")
    'C0000010'
    """
    text = text.strip()
    if text.isascii():
        return text
    visible = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    return unicodedata.normalize("NFC", visible).strip()


def identity_key(identity_type: str, value: str) -> str:
    """The natural key of an :class:`Identity`: ``"<type>:<value>"``, the value read as a key (:func:`normal_key`:
    the API's identity inputs and the collector's ids map to the loaders' key).

    >>> identity_key("cookie", "abc123")
    'cookie:abc123'
    >>> identity_key("cookie", " abc123 ")
    'cookie:abc123'
    """
    return f"{identity_type}:{normal_key(value)}"


def consent_key(customer_id: str, channel: str, purpose: str) -> str:
    """The natural key of a :class:`Consent`: ``"<customerId>|<channel>|<purpose>"``."""
    return f"{customer_id}|{channel}|{purpose}"


class Country(StructuredNode):
    """A country customers live in and stores stand in."""

    name = StringProperty(unique_index=True, required=True)


class Customer(StructuredNode):
    """One person, however many identifiers and channels they use.

    Algorithm results live on the node too (RFM and retention figures), written by ``algorithms/``.
    """

    customerId = StringProperty(unique_index=True, required=True)
    name = StringProperty()  # personal
    emailHash = StringProperty()  # personal; also an Identity
    city = StringProperty()
    homeLocation = GeoPointProperty()  # personal
    loyaltyTier = StringProperty(index=True, choices={t: t for t in LOYALTY_TIERS})
    createdAt = UtcDateTimeProperty()
    updatedAt = UtcDateTimeProperty()
    erasedAt = UtcDateTimeProperty()  # right to erasure: personal data removed at this time
    # the storeId of HOME_STORE, written with the relationship by its one writer (loaders.writers.customers,
    # and the bulk import's): the store key of the keep-in-touch index (graph_model.schema)
    homeStoreId = StringProperty()

    # Written by algorithms/ (segments, retention):
    rfmRecencyDays = FloatProperty()
    rfmFrequency = IntegerProperty()
    rfmMonetary = FloatProperty()
    rfmScore = StringProperty()  # e.g. "545": recency, frequency, monetary quintiles
    rfmSegment = StringProperty()
    churnRisk = FloatProperty()  # 1 - pAlive
    pAlive = FloatProperty()
    expectedPurchases90d = FloatProperty()
    retentionModel = StringProperty()
    retentionVersion = StringProperty()
    # with churnRisk (algorithms.writeback.WRITE_RETENTION), as of that run: past net value (the sum of the
    # orders' totals, cancellations negative) and churnRisk x pastValue, the keep-in-touch list's order
    pastValue = FloatProperty()
    atStake = FloatProperty()

    country = RelationshipTo("Country", "IN_COUNTRY", cardinality=ZeroOrOne)
    homeStore = RelationshipTo("graph_model.model.stores.Store", "HOME_STORE", cardinality=ZeroOrOne)
    identities = RelationshipFrom("Identity", "IDENTIFIES", model=TimedRel)
    consents = RelationshipTo("Consent", "HAS_CONSENT")
    sessions = RelationshipTo("graph_model.model.activity.Session", "HAD_SESSION", model=TimedRel)
    orders = RelationshipTo("graph_model.model.commerce.Order", "PLACED", model=TimedRel)
    visits = RelationshipTo("graph_model.model.stores.Visit", "MADE_VISIT", model=TimedRel)
    messages = RelationshipFrom("graph_model.model.conversation.Message", "SENT_TO", model=TimedRel)
    responses = RelationshipTo("graph_model.model.conversation.Message", "RESPONDED", model=Response)
    similar = RelationshipTo("Customer", "SIMILAR_TO", model=Similarity)
    segments = RelationshipTo("graph_model.model.insights.Segment", "IN_SEGMENT", model=Membership)
    recommended = RelationshipTo("graph_model.model.catalogue.Product", "RECOMMENDED", model=Recommendation)
    buy_again = RelationshipTo("graph_model.model.catalogue.Product", "BUY_AGAIN", model=BuyAgain)


class Identity(StructuredNode):
    """An identifier seen on some channel: email hash, device/app id, web cookie, loyalty card.

    ``(:Identity)-[:IDENTIFIES {at}]->(:Customer)`` once known; ``(:Identity)-[:LINKED_TO {at, origin}]->(:Identity)``
    records two identifiers seen together, so an anonymous cookie joins the customer who later logs in.
    """

    identityKey = StringProperty(unique_index=True, required=True)
    type = StringProperty(required=True, index=True, choices={t: t for t in IDENTITY_TYPES})
    value = StringProperty(required=True)
    firstSeen = UtcDateTimeProperty()
    lastSeen = UtcDateTimeProperty()

    customer = RelationshipTo("Customer", "IDENTIFIES", model=TimedRel, cardinality=ZeroOrOne)
    linked = RelationshipTo("Identity", "LINKED_TO", model=IdentityLink)


class Consent(StructuredNode):
    """What the customer allows on one channel for one purpose (``granted``), and since when."""

    consentId = StringProperty(unique_index=True, required=True)
    channel = StringProperty(required=True, choices={c: c for c in CONSENT_CHANNELS})
    purpose = StringProperty(required=True, choices={p: p for p in CONSENT_PURPOSES})
    granted = BooleanProperty(required=True)
    updatedAt = UtcDateTimeProperty(required=True)
