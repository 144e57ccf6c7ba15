"""Products, their categories, brand and affinities ("often bought with")."""

from __future__ import annotations

import enum
from typing import Any

import strawberry
from strawberry.types import Info

from api.errors import NotFound
from api.schema.common import KeyArguments, context, page_size


@strawberry.type(description="A brand products are made under.")
class Brand:
    id: strawberry.ID
    name: str


@strawberry.type(description="A category of the catalogue.")
class Category:
    id: strawberry.ID
    name: str
    parent_id: strawberry.ID | None
    parent_name: str | None

    @staticmethod
    def from_row(row: dict[str, Any]) -> Category:
        return Category(id=row["categoryId"], name=row["name"], parent_id=row.get("parentId"),
                        parent_name=row.get("parentName"))


@strawberry.enum(description="How two products go together.")
class AffinityKind(enum.Enum):
    BOUGHT_TOGETHER = "bought_together"
    VIEWED_TOGETHER = "viewed_together"


@strawberry.type(description="A product (stock keeping unit).")
class Product:
    sku: strawberry.ID
    name: str | None
    description: str | None
    price: float | None
    popularity: int | None = strawberry.field(description="Distinct buyers (trends algorithm).")
    popularity_rank: int | None
    trend_score: float | None
    trend_rank: int | None = strawberry.field(description="1 = rising fastest.")

    @staticmethod
    def from_row(row: dict[str, Any]) -> Product:
        return Product(sku=row["sku"], name=row.get("name"), description=row.get("description"),
                       price=row.get("price"), popularity=row.get("popularity"),
                       popularity_rank=row.get("popularityRank"), trend_score=row.get("trendScore"),
                       trend_rank=row.get("trendRank"))

    @strawberry.field(description="The categories the product is in.")
    async def categories(self, info: Info) -> list[Category]:
        return [Category.from_row(row) for row in await context(info).loaders.categories.load(self.sku)]

    @strawberry.field(description="The brand, if known.")
    async def brand(self, info: Info) -> Brand | None:
        row = await context(info).loaders.brand.load(self.sku)
        return Brand(id=row["brandId"], name=row["name"]) if row else None

    @strawberry.field(description="Products most often bought (or viewed) with this one, strongest first.")
    async def affinities(self, info: Info, first: int = 10, kind: AffinityKind | None = None) -> list[ProductAffinity]:
        first = page_size(info, first)
        rows = await context(info).loaders.affinities.load((self.sku, first, kind.value if kind else None))
        return [ProductAffinity.from_row(row) for row in rows]


@strawberry.type(description="An affinity between two products, from the affinity algorithm.")
class ProductAffinity:
    product: Product
    kind: AffinityKind
    score: float
    lift: float | None
    support: float | None
    confidence: float | None
    rank: int | None

    @staticmethod
    def from_row(row: dict[str, Any]) -> ProductAffinity:
        affinity = row["affinity"]
        return ProductAffinity(product=Product.from_row(row["product"]), kind=AffinityKind(affinity["kind"]),
                               score=affinity["score"], lift=affinity.get("lift"), support=affinity.get("support"),
                               confidence=affinity.get("confidence"), rank=affinity.get("rank"))


@strawberry.type
class ProductQuery:
    @strawberry.field(description="A product by SKU; an unknown SKU gives null and a NOT_FOUND error.",
                      extensions=[KeyArguments()])
    async def product(self, info: Info, sku: strawberry.ID) -> Product | None:
        row = await context(info).loaders.product.load(str(sku))
        if row is None:
            raise NotFound(f"No product with SKU {sku!r}.", sku=str(sku))
        return Product.from_row(row)
