"""Associates' notes about customers: write one, read a customer's newest first (batched)."""

from __future__ import annotations

from datetime import datetime

from api.db import Database, Row

NOTE = "n {.noteId, .text, .createdAt}"

NOTES_BY_CUSTOMER = f"""
UNWIND $ids AS id
CALL (id) {{
  MATCH (:Customer {{customerId: id}})-[:HAS_NOTE]->(n:Note)
  RETURN n ORDER BY n.createdAt DESC, n.noteId DESC LIMIT $first
}}
RETURN id AS customerId, {NOTE} AS note
"""

ADD_NOTE = f"""
MATCH (c:Customer {{customerId: $customerId}})
CREATE (c)-[:HAS_NOTE]->(n:Note {{noteId: $noteId, text: $text, author: $author, createdAt: $at}})
RETURN {NOTE} AS note
"""


async def notes_by_customer(db: Database, ids: list[str], first: int) -> dict[str, list[Row]]:
    """Each customer's newest ``first`` notes."""
    grouped: dict[str, list[Row]] = {customer_id: [] for customer_id in ids}
    for row in await db.run(NOTES_BY_CUSTOMER, {"ids": ids, "first": first}):
        grouped[row["customerId"]].append(row["note"])
    return grouped


async def add_note(db: Database, *, customer_id: str, note_id: str, text: str, author: str,
                   at: datetime) -> Row | None:
    """Write a note about ``customer_id``; ``None`` when there is no such customer."""
    rows = await db.run(ADD_NOTE, {"customerId": customer_id, "noteId": note_id, "text": text,
                                   "author": author, "at": at}, write=True)
    return rows[0]["note"] if rows else None
