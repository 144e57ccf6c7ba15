"""Issue 15's acceptance on real data: erasure lasts through a reload of the whole history and a nightly
drop, and the next algorithms run; consent withdrawn is obeyed at the next read and the next run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from test_api_support import ADMIN, READER, codes, make_app, post

from algorithms.run import run_all
from graph_model.connection import run_query
from graph_model.privacy.redaction import value_token
from loaders.online_retail import default_csv, load_online_retail
from loaders.pipeline import LoadOptions, load_drop

DROP = Path(__file__).resolve().parent.parent / "data" / "examples" / "nightly-drop"
ERASE = "mutation($id: ID!) { eraseCustomer(customerId: $id) { erased alreadyErased } }"
BY_ID = 'query($id: ID!) { customer(id: $id) { id } }'
BY_IDENTITY = "query($t: String!, $v: String!) { customer(identity: {type: $t, value: $v}) { id } }"
RECOMMEND = 'query($id: ID!) { customer(id: $id) { recommendations(first: 10) { sources explanation } } }'
SIMILAR = 'query($id: ID!) { customer(id: $id) { similarShoppers(first: 50) { customer { id } } } }'


def _load_everything(runs: Path, name: str) -> None:
    load_online_retail(default_csv(), by_day=True, limit_days=8, options=LoadOptions(report_dir=runs / f"{name}-or"))
    load_drop(DROP, LoadOptions(report_dir=runs / f"{name}-drop"))
    run_all()


def _product_level() -> dict:
    return run_query("""
        RETURN COUNT { (:Order) } AS orders, COUNT { (:Order)-[:INCLUDES]->(:Product) } AS lines,
               COLLECT { MATCH (a:Product)-[r:AFFINITY]->(b:Product) WHERE r.kind = 'bought_together'
                         RETURN [a.sku, b.sku] ORDER BY a.sku, b.sku } AS affinities
    """)[0]


@pytest.fixture(scope="module")
def loaded(neo4j_settings, tmp_path_factory):
    from graph_model import connection
    from graph_model.database import clear_graph

    connection.configure(neo4j_settings)
    clear_graph()
    runs = tmp_path_factory.mktemp("runs")
    _load_everything(runs, "first")
    return neo4j_settings, runs


def _busiest_online_retail_customer() -> str:
    return run_query("""MATCH (c:Customer)-[:PLACED]->(o) WHERE NOT c.customerId STARTS WITH 'C'
                        RETURN c.customerId AS id ORDER BY COUNT { (c)-[:PLACED]->() } DESC, id LIMIT 1""")[0]["id"]


def _drop_customer_with_identifiers() -> tuple[str, list[tuple[str, str]]]:
    row = run_query("""MATCH (c:Customer)<-[:IDENTIFIES]-(i:Identity) WHERE c.customerId STARTS WITH 'C'
                       WITH c, collect([i.type, i.value]) AS ids WHERE size(ids) >= 2
                       RETURN c.customerId AS id, ids ORDER BY size(ids) DESC, id LIMIT 1""")[0]
    return row["id"], [tuple(pair) for pair in row["ids"]]


def test_erasure_lasts_through_a_reload_and_the_next_run(loaded) -> None:
    settings, runs = loaded
    retail_id = _busiest_online_retail_customer()
    drop_id, identifiers = _drop_customer_with_identifiers()
    before = _product_level()
    assert before["affinities"], "the real history gives affinities"

    with TestClient(make_app(settings)) as api:
        for customer_id in (retail_id, drop_id):
            body = post(api, ERASE, {"id": customer_id}, key=ADMIN).json()
            assert body["data"]["eraseCustomer"] == {"erased": True, "alreadyErased": False}

        _load_everything(runs, "again")  # the whole history and the nightly drop, then the algorithms

        for customer_id in (retail_id, drop_id):
            assert codes(post(api, BY_ID, {"id": customer_id}, key=ADMIN).json()) == ["NOT_FOUND"]
            again = post(api, ERASE, {"id": customer_id}, key=ADMIN).json()["data"]["eraseCustomer"]
            assert again == {"erased": True, "alreadyErased": True}
        for kind, value in identifiers:
            body = post(api, BY_IDENTITY, {"t": kind, "v": value}, key=ADMIN).json()
            assert codes(body) == ["NOT_FOUND"], (kind, body)

    after = _product_level()
    assert after["orders"] == before["orders"] and after["lines"] == before["lines"]
    assert after["affinities"] == before["affinities"]
    assert run_query("MATCH (c:Customer) WHERE c.customerId IN $ids RETURN count(c) AS n",
                     {"ids": [retail_id, drop_id]})[0]["n"] == 0

    # the reload dropped their rows as erased, with no row kept; nothing else about them is in any reject file
    values = [retail_id, drop_id] + [value for _, value in identifiers]
    erased_rejects = 0
    for path in runs.rglob("rejects.jsonl"):
        text = path.read_text(encoding="utf-8")
        for value in values:
            assert value_token(value) not in text and f'"{value}"' not in text, (path, value)
        for line in text.splitlines():
            reject = json.loads(line)
            if reject["reason"] == "erased":
                erased_rejects += 1
                assert reject.get("row") is None
    assert erased_rejects > 0
    evidence = run_query("MATCH ()-[r:RECOMMENDED]->() UNWIND r.evidence AS code "
                         "WITH code WHERE code CONTAINS $a OR code CONTAINS $b RETURN count(*) AS n",
                         {"a": retail_id, "b": drop_id})[0]["n"]
    assert evidence == 0


def test_withdrawn_personalisation_is_obeyed_at_the_next_read_and_the_next_run(loaded) -> None:
    settings, _ = loaded
    shopper = run_query("""MATCH (c:Customer)-[:RECOMMENDED]->() WITH DISTINCT c
                           MATCH (other:Customer)-[:SIMILAR_TO]->(c)
                           RETURN c.customerId AS id, other.customerId AS other LIMIT 1""")[0]
    withdraw = """mutation($id: ID!, $ch: String!) { setConsent(input: {customerId: $id, channel: $ch,
                  purpose: "personalisation", granted: false}) { granted } }"""
    with TestClient(make_app(settings)) as api:
        personal = post(api, RECOMMEND, {"id": shopper["id"]}, key=READER).json()["data"]
        assert any("PERSONAL" in r["sources"] for r in personal["customer"]["recommendations"])
        for channel in ("web", "app", "email", "store"):
            body = post(api, withdraw, {"id": shopper["id"], "ch": channel}, key=ADMIN).json()
            assert "errors" not in body, body

        def check() -> None:
            recs = post(api, RECOMMEND, {"id": shopper["id"]}, key=READER).json()["data"]["customer"]
            assert recs["recommendations"]
            for rec in recs["recommendations"]:
                assert "PERSONAL" not in rec["sources"] and "which you bought" not in rec["explanation"]
            similar = post(api, SIMILAR, {"id": shopper["other"]}, key=READER).json()["data"]["customer"]
            assert shopper["id"] not in [s["customer"]["id"] for s in similar["similarShoppers"]]

        check()  # the next read, before the algorithms know
        run_all()
        check()  # and after the next run
    stored = run_query("""MATCH (c:Customer {customerId: $id})
                          RETURN COUNT { (c)-[:RECOMMENDED]->() } AS recommended,
                                 COUNT { (c)-[:SIMILAR_TO]-() } AS similar""", {"id": shopper["id"]})[0]
    assert stored == {"recommended": 0, "similar": 0}
