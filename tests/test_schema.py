"""The schema: applied idempotently, a constraint on every natural key, duplicates rejected."""

from __future__ import annotations

import os
import subprocess
import sys

import neo4j
import pytest
from neomodel.exceptions import UniqueProperty

from graph_model import run_query
from graph_model.errors import QueryError
from graph_model.model import NODE_CLASSES, Product
from graph_model.schema import apply_schema, existing_schema_names, schema_items
from graph_model.settings import Settings


def test_every_natural_key_has_a_uniqueness_constraint(graph: Settings) -> None:
    constraints = {
        (row["label"], row["prop"])
        for row in run_query(
            "SHOW CONSTRAINTS YIELD type, labelsOrTypes, properties WHERE type = 'UNIQUENESS' "
            "RETURN labelsOrTypes[0] AS label, properties[0] AS prop", write=False)
    }
    for cls in NODE_CLASSES:
        keys = [name for name, prop in cls.defined_properties(aliases=False, rels=False).items() if prop.unique_index]
        assert keys, f"{cls.__name__} has no natural key"
        for key in keys:
            assert (cls.__label__, key) in constraints


def test_apply_schema_twice_changes_nothing(graph: Settings) -> None:
    before = existing_schema_names()
    apply_schema()
    apply_schema()
    assert existing_schema_names() == before
    assert {item.name for item in schema_items()} <= before


def test_apply_schema_sends_only_what_is_missing(graph: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every start and every load applies the schema: when it is complete, no CREATE statement is sent; a dropped
    index is created again, and only it."""
    from graph_model import schema as schema_module

    sent: list[str] = []
    real_run_query = schema_module.run_query

    def recording(query: object, *args: object, **kwargs: object) -> object:
        sent.append(str(getattr(query, "text", query)))
        return real_run_query(query, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(schema_module, "run_query", recording)
    apply_schema()
    assert not [q for q in sent if q.startswith("CREATE")]
    run_query("DROP INDEX affinity_kind_index")
    sent.clear()
    apply_schema()
    assert [q for q in sent if q.startswith("CREATE")] == [
        item.statement for item in schema_items() if item.name == "affinity_kind_index"]
    assert "affinity_kind_index" in existing_schema_names()


def test_db_init_command_succeeds_twice_in_a_row(graph: Settings) -> None:
    env = {**os.environ, "NEO4J_URI": graph.bolt_uri, "NEO4J_USER": graph.user, "NEO4J_PASSWORD": graph.password}
    for _ in range(2):
        completed = subprocess.run([sys.executable, "-m", "customer_graph", "db", "init"],
                                   capture_output=True, text=True, env=env, check=False)
        assert completed.returncode == 0, completed.stderr
        assert "schema applied" in completed.stdout


def test_uniqueness_constraint_rejects_a_duplicate_in_cypher(graph: Settings) -> None:
    run_query("CREATE (:Customer {customerId: 'C1'})")
    with pytest.raises(QueryError) as caught:
        run_query("CREATE (:Customer {customerId: 'C1'})")
    assert caught.value.code == "Neo.ClientError.Schema.ConstraintValidationFailed"
    assert run_query("MATCH (c:Customer) RETURN count(c) AS n")[0]["n"] == 1


def test_uniqueness_constraint_rejects_a_duplicate_through_neomodel(graph: Settings) -> None:
    Product(sku="85123A", name="WHITE HANGING HEART T-LIGHT HOLDER").save()
    with pytest.raises(UniqueProperty):
        Product(sku="85123A", name="duplicate").save()
    assert len(Product.nodes.filter(sku="85123A")) == 1


def test_point_index_serves_distance_queries(graph: Settings) -> None:
    run_query("CREATE (:Store {storeId: 'S1', name: 'Oxford St', location: point({longitude: -0.1410, latitude: 51.5154})})")
    run_query("CREATE (:Store {storeId: 'S2', name: 'Manchester', location: point({longitude: -2.2426, latitude: 53.4808})})")
    rows = run_query(
        "MATCH (s:Store) WHERE point.distance(s.location, point({longitude: $lon, latitude: $lat})) < $metres "
        "RETURN s.storeId AS id", {"lon": -0.1276, "lat": 51.5072, "metres": 5000}, write=False)
    assert [r["id"] for r in rows] == ["S1"]


def test_driver_errors_are_translated_at_one_boundary(graph: Settings) -> None:
    with pytest.raises(QueryError) as caught:
        run_query("THIS IS NOT CYPHER")
    assert caught.value.code == "Neo.ClientError.Statement.SyntaxError"
    assert isinstance(caught.value.__cause__, neo4j.exceptions.Neo4jError)
