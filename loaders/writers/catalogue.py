"""Writing the catalogue and stores: categories, brands, products, stores, stock.

Every statement MERGEs on the natural key; an absent field never erases the graph's value; a row older
than the graph's ``updatedAt`` does not overwrite it.
"""

from __future__ import annotations

from loaders.writers import statement_writer

CATEGORIES = """
UNWIND $rows AS r
MERGE (c:Category {categoryId: r.categoryId})
SET c.name = r.name
WITH c, r
OPTIONAL MATCH (c)-[old:SUBCATEGORY_OF]->(p:Category)
WHERE r.parentId IS NULL OR p.categoryId <> r.parentId
DELETE old
WITH DISTINCT c, r
WHERE r.parentId IS NOT NULL
MATCH (p:Category {categoryId: r.parentId})
MERGE (c)-[:SUBCATEGORY_OF]->(p)
"""

BRANDS = """
UNWIND $rows AS r
MERGE (b:Brand {brandId: r.brandId})
SET b.name = r.name
"""

PRODUCTS = """
UNWIND $rows AS r
MERGE (p:Product {sku: r.sku})
WITH p, r
WHERE p.updatedAt IS NULL OR r.updatedAt IS NULL OR r.updatedAt >= p.updatedAt
SET p += r.props,
    p.createdAt = CASE WHEN p.createdAt IS NULL OR r.createdAt < p.createdAt THEN coalesce(r.createdAt, p.createdAt)
                       ELSE p.createdAt END
WITH p, r
CALL (p, r) {
  WITH p, r WHERE size(r.categoryIds) > 0
  OPTIONAL MATCH (p)-[old:IN_CATEGORY]->(c:Category) WHERE NOT c.categoryId IN r.categoryIds
  DELETE old
  WITH DISTINCT p, r
  UNWIND r.categoryIds AS categoryId
  MATCH (c:Category {categoryId: categoryId})
  MERGE (p)-[:IN_CATEGORY]->(c)
}
CALL (p, r) {
  WITH p, r WHERE r.brandId IS NOT NULL
  OPTIONAL MATCH (p)-[old:MADE_BY]->(b:Brand) WHERE b.brandId <> r.brandId
  DELETE old
  WITH DISTINCT p, r
  MATCH (b:Brand {brandId: r.brandId})
  MERGE (p)-[:MADE_BY]->(b)
}
"""

STORES = """
UNWIND $rows AS r
MERGE (s:Store {storeId: r.storeId})
SET s.name = r.name, s.location = point({latitude: r.latitude, longitude: r.longitude}), s += r.props
WITH s, r
WHERE r.country IS NOT NULL
MERGE (c:Country {name: r.country})
WITH s, c
OPTIONAL MATCH (s)-[old:IN_COUNTRY]->(other:Country) WHERE other <> c
DELETE old
WITH DISTINCT s, c
MERGE (s)-[:IN_COUNTRY]->(c)
"""

STOCK = """
UNWIND $rows AS r
MATCH (s:Store {storeId: r.storeId})
MATCH (p:Product {sku: r.sku})
MERGE (s)-[k:STOCKS]->(p)
WITH k, r, k.updatedAt IS NULL OR r.updatedAt >= k.updatedAt AS newer
SET k.quantity = CASE WHEN newer THEN r.quantity ELSE k.quantity END,
    k.updatedAt = CASE WHEN newer THEN r.updatedAt ELSE k.updatedAt END
"""


write_categories = statement_writer(CATEGORIES, "write_categories", round_keys=lambda rows: [r["categoryId"] for r in rows])
write_brands = statement_writer(BRANDS, "write_brands")
write_products = statement_writer(PRODUCTS, "write_products", round_keys=lambda rows: [r["sku"] for r in rows])
write_stores = statement_writer(STORES, "write_stores", round_keys=lambda rows: [r["storeId"] for r in rows])
# stock is partitioned by store; the products are what two writers share
write_stock = statement_writer(STOCK, "write_stock", lock_order=lambda row: row["sku"],
                              round_keys=lambda rows: [(r["storeId"], r["sku"]) for r in rows])
