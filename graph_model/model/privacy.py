"""What the graph keeps about erasure and accountability: tombstones and the audit trail.

Neither holds a personal value: a :class:`Tombstone` holds a keyed hash (see
:mod:`graph_model.privacy.keys`) of an erased customer id or identifier, an :class:`AuditEntry` the
keyed hash of the customer it is about.
"""

from __future__ import annotations

from neomodel import BooleanProperty, StringProperty, StructuredNode

from graph_model.model.properties import UtcDateTimeProperty


class Tombstone(StructuredNode):
    """An erased customer id (``kind = 'customer'``) or identifier (``kind = 'identity'``), as a keyed hash.

    Every write path drops what carries a tombstoned key; ``suppressed = true`` keeps the opt-out: the
    person is never selected for a message again.
    """

    hash = StringProperty(unique_index=True, required=True)
    kind = StringProperty(required=True, choices={"customer": "customer", "identity": "identity"})
    suppressed = BooleanProperty(default=True)
    erasedAt = UtcDateTimeProperty(required=True)


class AuditEntry(StructuredNode):
    """One privacy-relevant act: an erasure, an export, a consent change, an admin read of personal fields.

    Created once, never changed or deleted by the code (append-only).
    """

    entryId = StringProperty(unique_index=True, required=True)
    at = UtcDateTimeProperty(required=True, index=True)
    actor = StringProperty(required=True)  # the caller's key label ("admin:abcd…") or "cli:<user>"
    action = StringProperty(required=True, index=True)  # erase | export | consent | read_personal
    subject = StringProperty(index=True)  # keyed hash of the customer id (never the id itself)
    detail = StringProperty()  # short, non-personal ("channel=email purpose=marketing granted=false")
