"""The audit trail: who erased, exported, changed consent, read personal fields or applied the retention
periods, what, when.

Entries are ``(:AuditEntry)`` nodes, created and never changed or deleted by the project's code
(append-only); ``subject`` is the keyed hash of the customer id, so the trail of an erased person names
no one. The admin reads it through ``customer-graph privacy audit`` or the ``auditLog`` GraphQL query.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from graph_model.privacy.keys import customer_hash

ACTIONS = ("erase", "export", "consent", "read_personal", "retention")

RECORD_ENTRIES = """
UNWIND $entries AS e
CREATE (a:AuditEntry {entryId: e.entryId, at: e.at, actor: e.actor, action: e.action, subject: e.subject,
                      detail: e.detail})
"""

READ_ENTRIES = """
MATCH (a:AuditEntry)
WHERE ($subject IS NULL OR a.subject = $subject) AND ($action IS NULL OR a.action = $action)
WITH a ORDER BY a.at DESC, a.entryId LIMIT $limit
RETURN a {.entryId, .at, .actor, .action, .subject, .detail} AS entry
"""


def audit_entry(actor: str, action: str, customer_id: str | None = None, detail: str | None = None,
                *, at: datetime | None = None, subject: str | None = None) -> dict[str, Any]:
    """The parameters of one entry for :data:`RECORD_ENTRIES` (``detail`` must hold no personal value);
    ``subject``: the customer id's keyed hash, when the caller has it already."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}; one of {', '.join(ACTIONS)}")
    if subject is None and customer_id:
        subject = customer_hash(customer_id)
    return {"entryId": str(uuid.uuid4()), "at": at or datetime.now(UTC), "actor": actor, "action": action,
            "subject": subject, "detail": detail}


def read_parameters(customer_id: str | None = None, action: str | None = None, limit: int = 100) -> dict[str, Any]:
    """The parameters of :data:`READ_ENTRIES`: entries about one customer and/or of one action, newest first."""
    return {"subject": customer_hash(customer_id) if customer_id else None, "action": action,
            "limit": max(0, min(limit, 1000))}
