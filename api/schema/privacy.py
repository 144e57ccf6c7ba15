"""The admin's privacy queries: the right of access (``subjectAccess``) and the audit trail (``auditLog``).

Both need an admin key. ``subjectAccess`` is :func:`graph_model.privacy.access.subject_access`'s document,
and each export appends an ``export`` audit entry; ``auditLog`` reads
:data:`graph_model.privacy.audit.READ_ENTRIES` (newest first). Entries name the customer only by the keyed
hash of their id (``subject``), so the trail of an erased person names no one.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from api.errors import BadUserInput, NotFound
from api.schema.common import KeyArguments, context, page_size
from api.schema.permissions import CanAdminister
from graph_model.privacy import audit
from graph_model.privacy.access import subject_access


@strawberry.type(description="One entry of the audit trail: who did what about whom (a keyed hash), when.")
class AuditEntry:
    id: strawberry.ID
    at: datetime
    actor: str = strawberry.field(description="The API key's label (role and first characters), or a tool's name.")
    action: str = strawberry.field(description="erase, export, consent, read_personal or retention.")
    subject: str | None = strawberry.field(description="The keyed hash of the customer id (never the id).")
    detail: str | None = strawberry.field(description="What was done, without any personal value.")

    @staticmethod
    def from_row(row: dict[str, Any]) -> AuditEntry:
        return AuditEntry(id=row["entryId"], at=row["at"], actor=row["actor"], action=row["action"],
                          subject=row.get("subject"), detail=row.get("detail"))


@strawberry.type
class PrivacyQuery:
    @strawberry.field(description="Right of access (GDPR Art. 15): everything held about one customer as one JSON "
                                  "document (admin; audited as `export`). Unknown: null and NOT_FOUND.",
                      permission_classes=[CanAdminister], extensions=[KeyArguments()])
    async def subject_access(self, info: Info, customer_id: strawberry.ID) -> JSON | None:
        document = await asyncio.to_thread(subject_access, str(customer_id))
        if document is None:
            raise NotFound(f"No customer with id {str(customer_id)!r}.", argument="customerId")
        entry = audit.audit_entry(context(info).principal.label, "export", str(customer_id),
                                  "truncated=" + ",".join(document.get("truncated", [])))
        await context(info).db.run(audit.RECORD_ENTRIES, {"entries": [entry]}, write=True)
        return document  # type: ignore[return-value]  # a JSON object is what the JSON scalar carries

    @strawberry.field(description="The audit trail, newest first, optionally about one customer and/or of one "
                                  "action (erase, export, consent, read_personal, retention); admin.",
                      permission_classes=[CanAdminister], extensions=[KeyArguments()])
    async def audit_log(self, info: Info, customer_id: strawberry.ID | None = None, action: str | None = None,
                        first: int = 100) -> list[AuditEntry]:
        first = page_size(info, first)
        if action is not None and action not in audit.ACTIONS:
            raise BadUserInput(f"action must be one of {', '.join(audit.ACTIONS)}.", argument="action")
        parameters = audit.read_parameters(str(customer_id) if customer_id is not None else None, action, first)
        rows = await context(info).db.run(audit.READ_ENTRIES, parameters)
        return [AuditEntry.from_row(row["entry"]) for row in rows]
