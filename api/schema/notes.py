"""Associates' notes: ``Customer.notes`` and the ``addNote`` mutation (a writer key; the text is personal
data, read with an admin key and audited, like a reply's text)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import strawberry
from strawberry.types import Info

from api.errors import BadUserInput, NotFound
from api.queries import notes as q
from api.schema.common import KeyArguments, context
from api.schema.permissions import CanSeePersonalData, CanWrite

MAX_NOTE = 2_000


@strawberry.type(description="A store associate's or service agent's note about the customer.")
class Note:
    id: strawberry.ID
    created_at: datetime
    raw_text: strawberry.Private[str]
    customer_id: strawberry.Private[str]

    @staticmethod
    def from_row(row: dict[str, Any], customer_id: str) -> Note:
        return Note(id=row["noteId"], created_at=row["createdAt"], raw_text=row["text"], customer_id=customer_id)

    @strawberry.field(description="What was written (personal data; the read is audited).",
                      permission_classes=[CanSeePersonalData])
    def text(self, info: Info) -> str | None:
        context(info).read_personal(self.customer_id, "note.text")
        return self.raw_text


async def customer_notes(info: Info, customer_id: str, first: int) -> list[Note]:
    """The customer's newest ``first`` notes (batched per request)."""
    rows = await context(info).loaders.notes.load((customer_id, first))
    return [Note.from_row(row, customer_id) for row in rows]


@strawberry.type
class NoteMutation:
    @strawberry.mutation(description="Write a note about a customer (a writer key): at most 2000 characters, "
                                     "not blank. Unknown customer: NOT_FOUND.",
                         permission_classes=[CanWrite], extensions=[KeyArguments()])
    async def add_note(self, info: Info, customer_id: strawberry.ID, text: str) -> Note | None:
        text = text.strip()
        if not text or len(text) > MAX_NOTE:
            raise BadUserInput(f"`text` must hold 1 to {MAX_NOTE} characters.", argument="text")
        row = await q.add_note(context(info).db, customer_id=str(customer_id), note_id=f"note:{uuid.uuid4()}",
                               text=text, author=context(info).principal.label, at=datetime.now(UTC))
        if row is None:
            raise NotFound(f"No customer with id {str(customer_id)!r}.", argument="customerId")
        return Note.from_row(row, str(customer_id))
