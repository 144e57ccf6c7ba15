"""Segments of the current segmentation run and the products popular in them."""

from __future__ import annotations

from api.db import Database, Row
from api.queries.projections import PRODUCT, SEGMENT, current_version

SEGMENTS = f"""
{current_version('segments')}
MATCH (g:Segment)
WHERE (version IS NULL OR g.version = version) AND ($kind IS NULL OR g.kind = $kind)
RETURN {SEGMENT} AS segment
ORDER BY g.kind, g.segmentId
LIMIT $first
"""

SEGMENTS_BY_ID = f"""
UNWIND $ids AS id
MATCH (g:Segment {{segmentId: id}})
RETURN {SEGMENT} AS segment
"""

POPULAR_BY_SEGMENT = f"""
{current_version('trends')}
UNWIND $ids AS id
MATCH (:Segment {{segmentId: id}})
CALL (id, version) {{
  MATCH (:Segment {{segmentId: id}})-[r:POPULAR_IN]->(p:Product)
  WHERE version IS NULL OR r.version = version
  RETURN r, p ORDER BY r.rank LIMIT $first
}}
RETURN id AS segmentId, r.rank AS rank, r.score AS score, {PRODUCT} AS product
"""


async def segments(db: Database, kind: str | None, first: int) -> list[Row]:
    """The segments of the current run, optionally of one kind."""
    return [row["segment"] for row in await db.run(SEGMENTS, {"kind": kind, "first": first})]


async def segments_by_id(db: Database, ids: list[str]) -> dict[str, Row]:
    """Segment rows by id."""
    return {row["segment"]["segmentId"]: row["segment"] for row in await db.run(SEGMENTS_BY_ID, {"ids": ids})}


async def popular_by_segment(db: Database, ids: list[str], first: int) -> dict[str, list[Row]]:
    """Each segment's most popular products."""
    grouped: dict[str, list[Row]] = {segment_id: [] for segment_id in ids}
    for row in await db.run(POPULAR_BY_SEGMENT, {"ids": ids, "first": first}):
        grouped[row["segmentId"]].append(row)
    return grouped
