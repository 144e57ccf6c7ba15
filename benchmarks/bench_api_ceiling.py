"""The ceiling for bench_api.py: the same data as the benchmarked GraphQL queries, fetched by a minimal
Starlette endpoint that calls the driver directly (one statement, no GraphQL).

Run by bench_api.py as ``uvicorn benchmarks.bench_api_ceiling:app``. It uses the API's async driver
module (:mod:`api.db`), so both sides share the same driver configuration.
"""

from __future__ import annotations

from typing import Any

import neo4j
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.db import Database

RECOMMENDATIONS = """
MATCH (c:Customer {customerId: $id})
CALL (c) {
  MATCH (c)-[r:RECOMMENDED]->(p:Product)
  RETURN r, p ORDER BY r.rank LIMIT 10
}
RETURN r.score AS score, r.reason AS explanation, p.sku AS sku, p.name AS name, p.price AS price
"""

ENGAGEMENT = """
MATCH (c:Customer {customerId: $id})
CALL (c) {
  MATCH (c)-[:HAD_SESSION]->(s:Session) RETURN 'SESSION' AS kind, s.sessionId AS id, s.startedAt AS at, s.channel AS channel
  UNION ALL
  MATCH (c)-[:PLACED]->(o:Order) RETURN 'ORDER' AS kind, o.orderId AS id, o.placedAt AS at, o.channel AS channel
  UNION ALL
  MATCH (c)-[:MADE_VISIT]->(v:Visit) RETURN 'VISIT' AS kind, v.visitId AS id, v.arrivedAt AS at, 'store' AS channel
  UNION ALL
  MATCH (m:Message)-[:SENT_TO]->(c) RETURN 'MESSAGE' AS kind, m.messageId AS id, m.sentAt AS at, m.channel AS channel
  UNION ALL
  MATCH (c)-[r:RESPONDED]->(m:Message)
  RETURN 'RESPONSE' AS kind, m.messageId + '|' + r.type AS id, r.at AS at, m.channel AS channel
}
RETURN kind, id, toString(at) AS at, channel
ORDER BY at DESC, kind DESC, id DESC LIMIT 21
"""

db = Database()


async def _rows(query: str, customer_id: str) -> list[dict[str, Any]]:
    """One auto-commit read straight on the driver, as :meth:`api.db.Database.run` does it."""
    async with db.driver.session(database=db.settings.database, default_access_mode=neo4j.READ_ACCESS) as session:
        result = await session.run(query, {"id": customer_id})
        return [record.data() async for record in result]


async def recommendations(request: Request) -> Response:
    rows = await _rows(RECOMMENDATIONS, request.query_params["id"])
    return Response(orjson.dumps({"data": {"customer": {"recommendations": rows}}}), media_type="application/json")


async def engagement(request: Request) -> Response:
    rows = await _rows(ENGAGEMENT, request.query_params["id"])
    return Response(orjson.dumps({"data": {"customer": {"engagementHistory": rows[:20]}}}),
                    media_type="application/json")


app = Starlette(routes=[Route("/ceiling/recommendations", recommendations), Route("/ceiling/engagement", engagement)])
