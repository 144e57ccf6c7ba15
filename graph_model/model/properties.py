"""Property types the model needs beyond neomodel's own: UTC datetimes and WGS-84 points, both native Neo4j."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import neo4j.time
from neo4j.spatial import WGS84Point
from neomodel.properties import Property, validator

from graph_model.timestamps import to_utc


class UtcDateTimeProperty(Property[datetime]):
    """A timestamp stored as a native Neo4j ``DateTime`` in UTC (naive values are taken as UTC)."""

    @validator
    def inflate(self, value: Any) -> datetime:
        native = value.to_native() if isinstance(value, neo4j.time.DateTime) else value
        return native if native.tzinfo else native.replace(tzinfo=UTC)

    @validator
    def deflate(self, value: datetime) -> neo4j.time.DateTime:
        if not isinstance(value, datetime):
            raise ValueError(f"datetime expected, got {type(value).__name__}")
        return neo4j.time.DateTime.from_native(to_utc(value))


class GeoPointProperty(Property[WGS84Point]):
    """A WGS-84 ``point({longitude, latitude})``, usable by ``point.distance`` and point indexes.

    Accepts a :class:`neo4j.spatial.WGS84Point` or a ``(longitude, latitude)`` pair.
    """

    @validator
    def inflate(self, value: Any) -> WGS84Point:
        return value if isinstance(value, WGS84Point) else WGS84Point(tuple(value))

    @validator
    def deflate(self, value: Any) -> WGS84Point:
        point = value if isinstance(value, WGS84Point) else WGS84Point(tuple(value))
        longitude, latitude = point[0], point[1]
        if not (-180 <= longitude <= 180 and -90 <= latitude <= 90):
            raise ValueError(f"not a longitude/latitude pair: {tuple(point)}")
        return point
