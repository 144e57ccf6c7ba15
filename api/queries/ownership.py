"""Whose a session or an order is: what a customer token may touch besides its own customer node."""

from __future__ import annotations

from dataclasses import dataclass

from api.db import Database

OWNERS = """
CALL () {
  OPTIONAL MATCH (s:Session {sessionId: $sessionId})
  OPTIONAL MATCH (c:Customer)-[:HAD_SESSION]->(s)
  RETURN count(s) > 0 AS session, collect(DISTINCT c.customerId) AS sessionOwners
}
CALL () {
  OPTIONAL MATCH (o:Order {orderId: $orderId})
  OPTIONAL MATCH (c:Customer)-[:PLACED]->(o)
  RETURN count(o) > 0 AS order, collect(DISTINCT c.customerId) AS orderOwners
}
RETURN session, sessionOwners, order, orderOwners
"""


@dataclass(frozen=True)
class Owners:
    """Who a session and an order belong to (empty: nobody, or they do not exist)."""

    session_exists: bool
    session_owners: frozenset[str]
    order_owners: frozenset[str]

    def session_is_only(self, customer_id: str) -> bool:
        """True when the session exists and belongs to ``customer_id`` and nobody else."""
        return self.session_exists and self.session_owners == {customer_id}

    def session_open_to(self, customer_id: str) -> bool:
        """True when ``customer_id`` may add to the session: it is new, or only theirs."""
        return not self.session_exists or self.session_is_only(customer_id)

    def order_is_only(self, customer_id: str) -> bool:
        """True when the order was placed by ``customer_id`` (and nobody else)."""
        return self.order_owners == {customer_id}


async def owners(db: Database, *, session_id: str | None = None, order_id: str | None = None) -> Owners:
    """The owners of a session and an order, in one round trip."""
    rows = await db.run(OWNERS, {"sessionId": session_id, "orderId": order_id})
    row = rows[0]
    return Owners(session_exists=bool(row["session"]), session_owners=frozenset(row["sessionOwners"]),
                  order_owners=frozenset(row["orderOwners"]))
