"""The clienteling page's store list: a home store's valuable customers at risk, and where to reach them."""

from __future__ import annotations

from api.db import Database, Row
from api.queries.projections import CUSTOMER, micros
from graph_model.privacy.policy import current_policy, permits_cypher

# Listing a customer as "at risk" is analysis of them: only customers whose policy permits analytics.
# Most at stake first: churnRisk x pastValue, both as the last algorithms run wrote them (Customer.atStake and
# pastValue, algorithms.writeback.WRITE_RETENTION: past net value as the analysts' library counts it, the sum
# of the order totals, cancellations negative); ties: the greater customerId first.
#
# Bounded by `first`: the customer_home_store_at_stake index (graph_model.schema; homeStoreId, atStake,
# customerId) hands the store's customers over in that order (the ORDER BY names its three keys, the first
# two constant or descending, so Neo4j needs no Sort), so the seek stops after `first` listed rows plus
# those the filters skip; only the rows listed read their orders (lastOrderAt) and consents (contactableOn).
# tests/test_api_keep_in_touch.py profiles it.
KEEP_IN_TOUCH = f"""
MATCH (c:Customer)
USING INDEX SEEK c:Customer(homeStoreId, atStake, customerId)
WHERE c.homeStoreId = $storeId AND c.atStake IS NOT NULL AND c.customerId IS NOT NULL
  AND c.churnRisk >= $minChurnRisk AND c.erasedAt IS NULL AND {permits_cypher('c', 'analytics')}
WITH c ORDER BY c.homeStoreId DESC, c.atStake DESC, c.customerId DESC LIMIT $first
WITH c, reduce(last = null, o IN [(c)-[:PLACED]->(o:Order) WHERE NOT coalesce(o.cancelled, false) | o] |
               CASE WHEN last IS NULL OR o.placedAt > last THEN o.placedAt ELSE last END) AS lastOrderAt
RETURN {CUSTOMER} AS customer, round(c.pastValue, 2) AS pastValue, {micros('lastOrderAt')} AS lastOrderAt,
       [channel IN $channels WHERE {permits_cypher('c', 'marketing', 'channel')}] AS contactableOn
ORDER BY c.atStake DESC, c.customerId DESC
"""


async def keep_in_touch(db: Database, store_id: str, min_churn_risk: float, first: int,
                        channels: list[str]) -> list[Row]:
    """At most ``first`` customers of the home store ``store_id`` with a churn risk of at least
    ``min_churn_risk``, most at stake (as of the last algorithms run) first, with the ``channels`` each may
    be sent marketing on."""
    return await db.run(KEEP_IN_TOUCH, {"storeId": store_id, "minChurnRisk": min_churn_risk, "first": first,
                                        "channels": channels, **current_policy().parameters()})
