"""Segments of the current segmentation run (communities of similar shoppers, RFM segments)."""

from __future__ import annotations

import enum
from typing import Any

import strawberry
from strawberry.types import Info

from api.errors import NotFound
from api.queries import segments as q
from api.schema.common import KeyArguments, context, page_size
from api.schema.product import Product


@strawberry.enum(description="How a segment was formed.")
class SegmentKind(enum.Enum):
    COMMUNITY = "community"
    RFM = "rfm"


@strawberry.type(description="A product popular in a segment.")
class SegmentProduct:
    product: Product
    rank: int | None
    score: float | None


@strawberry.type(description="A group of customers.")
class Segment:
    id: strawberry.ID
    kind: str
    name: str
    description: str | None
    size: int | None

    @staticmethod
    def from_row(row: dict[str, Any]) -> Segment:
        return Segment(id=row["segmentId"], kind=row["kind"], name=row["name"],
                       description=row.get("description"), size=row.get("size"))

    @strawberry.field(description="The segment's most popular products, best first.")
    async def popular_products(self, info: Info, first: int = 10) -> list[SegmentProduct]:
        first = page_size(info, first)
        rows = await context(info).loaders.segment_products.load((self.id, first))
        return [SegmentProduct(product=Product.from_row(row["product"]), rank=row.get("rank"),
                               score=row.get("score")) for row in rows]


@strawberry.type
class SegmentQuery:
    @strawberry.field(description="The segments of the current run, optionally of one kind.")
    async def segments(self, info: Info, kind: SegmentKind | None = None, first: int = 100) -> list[Segment]:
        first = page_size(info, first)
        rows = await q.segments(context(info).db, kind.value if kind else None, first)
        return [Segment.from_row(row) for row in rows]

    @strawberry.field(description="A segment by id; an unknown id gives null and a NOT_FOUND error.",
                      extensions=[KeyArguments()])
    async def segment(self, info: Info, id: strawberry.ID) -> Segment | None:
        row = await context(info).loaders.segment.load(str(id))
        if row is None:
            raise NotFound(f"No segment with id {id!r}.", id=str(id))
        return Segment.from_row(row)
