"""The Cypher schema: uniqueness constraints on natural keys and the indexes the API and loaders use.

Uniqueness constraints and range indexes are derived from the neomodel classes (``unique_index=True`` /
``index=True``), so the model is declared once; point, full-text and relationship indexes are listed here.
Every statement is ``IF NOT EXISTS``: :func:`apply_schema` is safe to run on every start. When it creates an
index keyed on a property that mirrors a relationship, it sets that property on the graph's nodes once
(:data:`MIRROR_KEYS`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import neo4j

from graph_model.connection import run_query, session
from graph_model.model import NODE_CLASSES


@dataclass(frozen=True)
class SchemaItem:
    """One constraint or index: its name and the statement that creates it."""

    name: str
    statement: str


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _model_items() -> list[SchemaItem]:
    items: list[SchemaItem] = []
    for cls in NODE_CLASSES:
        label = cls.__label__
        for prop_name, prop in cls.defined_properties(aliases=False, rels=False).items():
            name = f"{_snake(label)}_{_snake(prop_name)}"
            if prop.unique_index:
                items.append(SchemaItem(
                    f"{name}_unique",
                    f"CREATE CONSTRAINT {name}_unique IF NOT EXISTS FOR (n:{label}) REQUIRE n.{prop_name} IS UNIQUE",
                ))
            elif prop.index:
                items.append(SchemaItem(
                    f"{name}_index", f"CREATE INDEX {name}_index IF NOT EXISTS FOR (n:{label}) ON (n.{prop_name})"
                ))
    return items


EXTRA_ITEMS: tuple[SchemaItem, ...] = (
    SchemaItem("store_location_point",
               "CREATE POINT INDEX store_location_point IF NOT EXISTS FOR (n:Store) ON (n.location)"),
    SchemaItem("customer_home_location_point",
               "CREATE POINT INDEX customer_home_location_point IF NOT EXISTS FOR (n:Customer) ON (n.homeLocation)"),
    SchemaItem("product_text",
               "CREATE FULLTEXT INDEX product_text IF NOT EXISTS FOR (n:Product) ON EACH [n.name, n.description]"),
    SchemaItem("customer_name_text",  # the clienteling page's search by name (admin only, api.queries.customers)
               "CREATE FULLTEXT INDEX customer_name_text IF NOT EXISTS FOR (n:Customer) ON EACH [n.name]"),
    # the clienteling page's keep-in-touch list (api.queries.clienteling): a store's customers, most at stake
    # first, read in index order (customerId breaks ties, so a page never reads past its last row)
    SchemaItem("customer_home_store_at_stake",
               "CREATE INDEX customer_home_store_at_stake IF NOT EXISTS FOR (n:Customer) "
               "ON (n.homeStoreId, n.atStake, n.customerId)"),
    SchemaItem("placed_at_index", "CREATE INDEX placed_at_index IF NOT EXISTS FOR ()-[r:PLACED]-() ON (r.at)"),
    SchemaItem("responded_type_index",
               "CREATE INDEX responded_type_index IF NOT EXISTS FOR ()-[r:RESPONDED]-() ON (r.type)"),
    SchemaItem("responded_idempotency_key_index",  # recordResponse's idempotencyKey
               "CREATE INDEX responded_idempotency_key_index IF NOT EXISTS FOR ()-[r:RESPONDED]-() "
               "ON (r.idempotencyKey)"),
    SchemaItem("privacy_key_name_unique",
               "CREATE CONSTRAINT privacy_key_name_unique IF NOT EXISTS FOR (n:PrivacyKey) REQUIRE n.name IS UNIQUE"),
    SchemaItem("affinity_kind_index", "CREATE INDEX affinity_kind_index IF NOT EXISTS FOR ()-[r:AFFINITY]-() ON (r.kind)"),
)


def schema_items() -> list[SchemaItem]:
    """Every constraint and index of the schema, constraints first."""
    return _model_items() + list(EXTRA_ITEMS)


#: Index keys that mirror a relationship, by the index they serve: set for the customers written before the
#: mirror existed (a graph loaded by an earlier version), once, when :func:`apply_schema` creates that index.
#: From then on the relationship's one writer (loaders.writers.customers, the bulk import) sets both, so no
#: start or load reads the graph for it again. ``Customer.homeStoreId`` from ``HOME_STORE``; run in an
#: implicit transaction (IN TRANSACTIONS).
MIRROR_KEYS: dict[str, str] = {
    "customer_home_store_at_stake":
        "MATCH (c:Customer)-[:HOME_STORE]->(s:Store) WHERE c.homeStoreId IS NULL OR c.homeStoreId <> s.storeId "
        "CALL (c, s) { SET c.homeStoreId = s.storeId } IN TRANSACTIONS OF 10000 ROWS",
}


def apply_schema(wait_seconds: int = 300) -> list[str]:
    """Create every missing constraint and index, wait until they are online, and set the mirrored keys of the
    indexes it created (:data:`MIRROR_KEYS`); return the schema's names.

    Only the items whose names the database lacks are sent (every start and every load's first batch calls
    this: on a just-started server the 47 ``IF NOT EXISTS`` statements took 2 s, all of them no-ops). A name
    that exists is left as it is, as ``IF NOT EXISTS`` would."""
    existing = existing_schema_names()
    new = set(MIRROR_KEYS) - existing
    for item in schema_items():
        if item.name not in existing:
            run_query(item.statement)
    # a transaction of its own that may outlast the server's db.transaction.timeout (a new index on a big graph)
    run_query(neo4j.Query("CALL db.awaitIndexes($seconds)", timeout=wait_seconds + 60), {"seconds": wait_seconds})
    with session() as s:
        for name in sorted(new):
            s.run(MIRROR_KEYS[name]).consume()
    return [item.name for item in schema_items()]


def existing_schema_names() -> set[str]:
    """Names of the constraints and indexes the database holds now."""
    rows = run_query("SHOW CONSTRAINTS YIELD name", write=False) + run_query("SHOW INDEXES YIELD name", write=False)
    return {row["name"] for row in rows}
