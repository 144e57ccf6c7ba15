"""The neomodel classes of the company memory (one module per area of the business)."""

from graph_model.model.activity import CHANNELS, EVENT_TYPES, Event, SearchQuery, Session
from graph_model.model.catalogue import Brand, Category, Product
from graph_model.model.commerce import Order
from graph_model.model.conversation import Campaign, Message, Offer
from graph_model.model.customers import (
    CONSENT_CHANNELS,
    CONSENT_PURPOSES,
    IDENTITY_TYPES,
    Consent,
    Country,
    Customer,
    Identity,
    consent_key,
    identity_key,
)
from graph_model.model.insights import AlgorithmRun, Segment
from graph_model.model.notes import Note
from graph_model.model.privacy import AuditEntry, Tombstone
from graph_model.model.stores import Store, Visit

NODE_CLASSES = (
    Customer, Identity, Consent, Country, Session, Event, SearchQuery, Order, Product, Category, Brand,
    Store, Visit, Campaign, Offer, Message, Segment, AlgorithmRun, Tombstone, AuditEntry, Note,
)

__all__ = [
    "CHANNELS", "CONSENT_CHANNELS", "CONSENT_PURPOSES", "EVENT_TYPES", "IDENTITY_TYPES", "NODE_CLASSES",
    "AlgorithmRun", "AuditEntry", "Brand", "Campaign", "Category", "Consent", "Country", "Customer", "Event", "Identity",
    "Message", "Note", "Offer", "Order", "Product", "SearchQuery", "Segment", "Session", "Store", "Tombstone", "Visit",
    "consent_key", "identity_key",
]
