"""Associates' notes: what a store associate or service agent wrote down about a customer."""

from __future__ import annotations

from neomodel import One, RelationshipFrom, StringProperty, StructuredNode

from graph_model.model.properties import UtcDateTimeProperty


class Note(StructuredNode):
    """A note about one customer, ``(:Customer)-[:HAS_NOTE]->(:Note)``: free text, so personal data
    (read with an admin key, in the subject-access export, removed by erasure). ``author`` is the writing
    API key's label (role and first characters), as the audit trail names actors."""

    noteId = StringProperty(unique_index=True, required=True)
    text = StringProperty(required=True)
    author = StringProperty(required=True)
    createdAt = UtcDateTimeProperty(required=True)

    customer = RelationshipFrom("graph_model.model.customers.Customer", "HAS_NOTE", cardinality=One)
