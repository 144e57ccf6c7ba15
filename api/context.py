"""What every resolver gets as ``info.context``: the caller, the database, the limits and the loaders,
and the admin's reads of personal fields, audited once at the end of the request."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from api.auth import Principal
from api.config import ApiConfig
from api.db import Database
from api.loaders import Loaders
from graph_model.privacy.audit import RECORD_ENTRIES, audit_entry

if TYPE_CHECKING:
    from api.collection.writer import Collector


@dataclass
class RequestContext:
    """One request's context; its DataLoaders live (and cache) only as long as the request."""

    principal: Principal
    db: Database
    config: ApiConfig
    collector: Collector | None = None  # the collection API's writer, when collection is on
    loaders: Loaders = field(init=False)
    personal_reads: dict[str, set[str]] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.loaders = Loaders(self.db)

    def read_personal(self, customer_id: str, name: str) -> None:
        """Note that this request reads the personal field ``name`` of ``customer_id`` (audited at the end)."""
        self.personal_reads.setdefault(customer_id, set()).add(name)

    def personal_read_entries(self) -> list[dict[str, object]]:
        """One ``read_personal`` audit entry per customer whose personal fields this request read: which
        fields, never their values."""
        return [audit_entry(self.principal.label, "read_personal", customer_id, "fields=" + ",".join(sorted(names)))
                for customer_id, names in self.personal_reads.items()]

    async def flush_audit(self) -> None:
        """Write the request's ``read_personal`` entries in one statement (nothing when there are none)."""
        entries = self.personal_read_entries()
        if entries:
            self.personal_reads = {}
            await self.db.run(RECORD_ENTRIES, {"entries": entries}, write=True)
