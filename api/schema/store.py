"""Stores: location, visits, visit statistics and top products."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from api.errors import NotFound
from api.schema.common import KeyArguments, Location, context, page_size
from api.schema.product import Product


@strawberry.type(description="A customer's visit to a store (anonymous: the visitor is not exposed).")
class Visit:
    id: strawberry.ID
    arrived_at: datetime
    dwell_minutes: float | None
    source: str | None
    zones: list[str] | None

    @staticmethod
    def from_row(row: dict[str, Any]) -> Visit:
        return Visit(id=row["visitId"], arrived_at=row["arrivedAt"], dwell_minutes=row.get("dwellMinutes"),
                     source=row.get("source"), zones=row.get("zones"))


@strawberry.type(description="How many visits a store had in a period, and how long they stayed.")
class VisitStats:
    visits: int
    average_dwell_minutes: float | None


@strawberry.type(description="A product popular at a store (trends algorithm), with the stock there.")
class StoreProduct:
    product: Product
    rank: int | None
    score: float | None
    stock: int | None


@strawberry.type(description="A store.")
class Store:
    id: strawberry.ID
    name: str
    city: str | None
    country: str | None
    location: Location | None

    @staticmethod
    def from_row(row: dict[str, Any]) -> Store:
        return Store(id=row["storeId"], name=row["name"], city=row.get("city"), country=row.get("country"),
                     location=Location.from_row(row))

    @strawberry.field(description="The most recent visits, newest first, optionally within [from, to); always "
                                  "empty for a customer token (they are other people's visits).")
    async def visits(self, info: Info, first: int = 10, from_: Annotated[datetime | None, strawberry.argument(name="from")] = None, to: datetime | None = None) -> list[Visit]:
        first = page_size(info, first)
        if context(info).principal.is_customer:
            return []
        rows = await context(info).loaders.store_visits.load((self.id, first, from_, to))
        return [Visit.from_row(row) for row in rows]

    @strawberry.field(description="Visit count and average dwell time within [from, to).")
    async def visit_stats(self, info: Info, from_: Annotated[datetime | None, strawberry.argument(name="from")] = None,
                          to: datetime | None = None) -> VisitStats:
        row = await context(info).loaders.store_visit_stats.load((self.id, from_, to))
        return VisitStats(visits=row.get("visits", 0), average_dwell_minutes=row.get("averageDwellMinutes"))

    @strawberry.field(description="The store's most popular products, best first.")
    async def top_products(self, info: Info, first: int = 10) -> list[StoreProduct]:
        first = page_size(info, first)
        rows = await context(info).loaders.top_products.load((self.id, first))
        return [StoreProduct(product=Product.from_row(row["product"]), rank=row.get("rank"),
                             score=row.get("score"), stock=row.get("stock")) for row in rows]


@strawberry.type
class StoreQuery:
    @strawberry.field(description="A store by id; an unknown id gives null and a NOT_FOUND error.",
                      extensions=[KeyArguments()])
    async def store(self, info: Info, id: strawberry.ID) -> Store | None:
        row = await context(info).loaders.store.load(str(id))
        if row is None:
            raise NotFound(f"No store with id {id!r}.", id=str(id))
        return Store.from_row(row)
