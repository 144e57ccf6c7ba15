"""Products: lookup by SKU, categories, brand and affinities ("often bought with"), batched by SKU."""

from __future__ import annotations

from api.db import Database, Row
from api.queries.projections import PRODUCT, current_version

PRODUCTS_BY_SKU = f"""
UNWIND $skus AS sku
MATCH (p:Product {{sku: sku}})
RETURN {PRODUCT} AS product
"""

CATEGORIES_BY_PRODUCT = """
UNWIND $skus AS sku
MATCH (:Product {sku: sku})-[:IN_CATEGORY]->(cat:Category)
OPTIONAL MATCH (cat)-[:SUBCATEGORY_OF]->(parent:Category)
RETURN sku, cat {.categoryId, .name, parentId: parent.categoryId, parentName: parent.name} AS category
ORDER BY cat.categoryId
"""

BRAND_BY_PRODUCT = """
UNWIND $skus AS sku
MATCH (:Product {sku: sku})-[:MADE_BY]->(b:Brand)
RETURN sku, b {.brandId, .name} AS brand
"""

AFFINITIES_BY_PRODUCT = f"""
{current_version('affinity')}
UNWIND $skus AS sku
MATCH (:Product {{sku: sku}})
CALL (sku, version) {{
  MATCH (:Product {{sku: sku}})-[a:AFFINITY]->(p:Product)
  WHERE (version IS NULL OR a.version = version) AND ($kind IS NULL OR a.kind = $kind)
  RETURN a, p ORDER BY a.rank, a.score DESC LIMIT $first
}}
RETURN sku, a {{.kind, .score, .lift, .support, .confidence, .rank}} AS affinity, {PRODUCT} AS product
"""


async def products_by_sku(db: Database, skus: list[str]) -> dict[str, Row]:
    """Product rows by SKU (missing SKUs are absent)."""
    return {row["product"]["sku"]: row["product"] for row in await db.run(PRODUCTS_BY_SKU, {"skus": skus})}


async def categories_by_product(db: Database, skus: list[str]) -> dict[str, list[Row]]:
    """Each product's categories (with their parent)."""
    grouped: dict[str, list[Row]] = {sku: [] for sku in skus}
    for row in await db.run(CATEGORIES_BY_PRODUCT, {"skus": skus}):
        grouped[row["sku"]].append(row["category"])
    return grouped


async def brands_by_product(db: Database, skus: list[str]) -> dict[str, Row]:
    """Each product's brand (missing when none)."""
    return {row["sku"]: row["brand"] for row in await db.run(BRAND_BY_PRODUCT, {"skus": skus})}


async def affinities_by_product(db: Database, skus: list[str], first: int, kind: str | None) -> dict[str, list[Row]]:
    """Each product's strongest affinities of the current run, best first."""
    grouped: dict[str, list[Row]] = {sku: [] for sku in skus}
    for row in await db.run(AFFINITIES_BY_PRODUCT, {"skus": skus, "first": first, "kind": kind}):
        grouped[row["sku"]].append(row)
    return grouped
