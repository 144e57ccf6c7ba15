"""The clienteling page's store list: a home store's valuable customers at risk, and where to reach them."""

from __future__ import annotations

from api.db import Database, Row
from api.queries.projections import CUSTOMER, micros
from graph_model.privacy.policy import current_policy, permits_cypher

# Listing a customer as "at risk" is analysis of them: only customers whose policy permits analytics.
# Past net value as the analysts' library counts it (cypher/customers_at_risk.cypher): the sum of the
# order totals (cancellations count negative); most at stake first (churn risk x past value).
KEEP_IN_TOUCH = f"""
MATCH (s:Store {{storeId: $storeId}})
CALL (s) {{
  MATCH (c:Customer)-[:HOME_STORE]->(s)
  WHERE c.churnRisk >= $minChurnRisk AND c.erasedAt IS NULL AND {permits_cypher('c', 'analytics')}
  WITH c, [(c)-[:PLACED]->(o:Order) | o] AS orders
  WITH c, reduce(total = 0.0, o IN orders | total + coalesce(o.total, 0.0)) AS pastValue,
       reduce(last = null, o IN orders | CASE WHEN NOT coalesce(o.cancelled, false)
                                                   AND (last IS NULL OR o.placedAt > last)
                                              THEN o.placedAt ELSE last END) AS lastOrderAt
  RETURN c, pastValue, lastOrderAt ORDER BY c.churnRisk * pastValue DESC, c.customerId LIMIT $first
}}
RETURN {CUSTOMER} AS customer, round(pastValue, 2) AS pastValue, {micros('lastOrderAt')} AS lastOrderAt,
       [channel IN $channels WHERE {permits_cypher('c', 'marketing', 'channel')}] AS contactableOn
ORDER BY c.churnRisk * pastValue DESC, c.customerId
"""


async def keep_in_touch(db: Database, store_id: str, min_churn_risk: float, first: int,
                        channels: list[str]) -> list[Row]:
    """At most ``first`` customers of the home store ``store_id`` with a churn risk of at least
    ``min_churn_risk``, most at stake first, with the ``channels`` each may be sent marketing on."""
    return await db.run(KEEP_IN_TOUCH, {"storeId": store_id, "minChurnRisk": min_churn_risk, "first": first,
                                        "channels": channels, **current_policy().parameters()})
