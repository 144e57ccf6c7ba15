# ruff: noqa: F811 - pytest fixtures imported from test_api_support are redefined as parameters
"""Buy again (issue 19): the repeat-purchase features and model on tiny inputs, then against the real Neo4j:
the algorithms run writes ``BUY_AGAIN``, the API serves it as ``BUY_AGAIN``, ``MIXED`` (the default) and
``DISCOVER``, within each customer's consent."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest
from starlette.testclient import TestClient
from test_api_support import ADMIN, data, make_app

from algorithms import buy_again
from algorithms.features import build_interactions
from algorithms.pipeline import Params, compute_buy_again
from algorithms.run import run_all
from graph_model import connection
from graph_model.connection import run_query
from graph_model.database import clear_graph
from graph_model.settings import Settings

# ---------------------------------------------------------------- the maths (no database)


def test_features_describe_the_repeat_cycle_exactly() -> None:
    # customer 0 buys product 7 on days 0, 20, 40 (two lines on day 40) and product 8 on day 40
    f = buy_again.repurchase_features(np.array([0, 0, 0, 0, 0]), np.array([7, 7, 7, 7, 8]),
                                      np.array([0.2, 20.5, 40.0, 40.9, 40.0]), as_of=50.0)
    milk = f[f["product"] == 7].iloc[0]
    assert (milk.days, milk.since_last, milk.cycle, milk.due, milk.share) == (3, 10.0, 20.0, 0.5, 1.0)
    assert (milk.customer_days, milk.customer_since, milk.customer_cycle, milk.repeat_rate) == (3, 10.0, 20.0, 1.0)
    other = f[f["product"] == 8].iloc[0]
    assert other.days == 1 and np.isnan(other.cycle) and np.isnan(other.due) and other.share == pytest.approx(1 / 3)


def test_features_describe_units_spend_basket_and_the_product_trend_exactly() -> None:
    # customer 0: product 7 on days 0, 30, 60.5 (2 + 4 + 3 units for 4 + 8 + 6) and product 8 on day 30
    # (1 unit for 10); customer 1: product 7 on day 55 (5 units for 10)
    customer, product = np.array([0, 0, 0, 0, 1]), np.array([7, 7, 7, 8, 7])
    day = np.array([0.0, 30.0, 60.5, 30.0, 55.0])
    f = buy_again.repurchase_features(customer, product, day, as_of=70.0, quantity=np.array([2.0, 4.0, 3.0, 1.0, 5.0]),
                                      value=np.array([4.0, 8.0, 6.0, 10.0, 10.0])).set_index(["customer", "product"])
    assert f.loc[(0, 7), ["units", "units_per_day", "customer_products"]].tolist() == [9.0, 3.0, 2.0]
    assert f.loc[(0, 7), "spend_share"] == pytest.approx(18 / 28) and f.loc[(0, 8), "spend_share"] == pytest.approx(10 / 28)
    assert f.loc[(0, 7), "basket"] == pytest.approx(4 / 3)  # 3 + 1 product-days over 3 shopping days (0, 30, 60)
    assert f.loc[(1, 7), ["units", "units_per_day", "spend_share", "customer_products", "basket"]].tolist() == [
        5.0, 5.0, 1.0, 1.0, 1.0]
    # product 7: 2 buyers, both in the last 28 days [42, 70), 1 in the 84 before: 2 / (1 + 1/3) = 1.5;
    # product 8: its one buyer bought it before the last 28 days
    assert f.loc[(0, 7), ["product_buyers", "recent_buyers", "product_trend"]].tolist() == [2.0, 2.0, 1.5]
    assert f.loc[(0, 8), ["product_buyers", "recent_buyers", "product_trend"]].tolist() == [1.0, 0.0, 0.0]
    # without quantities and amounts: a unit per order line, its units as its amount
    plain = buy_again.repurchase_features(customer, product, day, as_of=70.0).set_index(["customer", "product"])
    assert plain.loc[(0, 7), ["units", "spend_share"]].tolist() == [3.0, 0.75]


def test_product_features_come_from_the_aggregates_passed() -> None:
    customer, product, day = np.array([0]), np.array([7]), np.array([50.0])
    others = (np.array([1, 2, 3]), np.array([7, 7, 7]), np.array([10.0, 60.0, 65.0]))
    f = buy_again.repurchase_features(customer, product, day, as_of=70.0, aggregates=others)
    assert f[["product_buyers", "recent_buyers", "product_trend"]].values.tolist() == [[3.0, 2.0, 1.5]]


def test_purchases_on_or_after_as_of_are_not_features_but_labels() -> None:
    customer, product, day = np.array([0, 0, 0, 1]), np.array([5, 5, 5, 5]), np.array([0.0, 10.0, 95.0, 10.0])
    features, label = buy_again.training_pairs(customer, product, day, as_of=100.0, horizon=50.0)
    assert features[["customer", "product", "days"]].values.tolist() == [[0, 5, 2], [1, 5, 1]]
    assert label.tolist() == [True, False]  # customer 0 bought it again on day 95, customer 1 did not


def test_the_model_ranks_a_due_regular_above_a_one_off() -> None:
    rng = np.random.default_rng(0)
    rows = []
    for c in range(300):  # regulars buy product 0 every ~14 days; everyone bought product 1 once
        start = rng.uniform(0, 14)
        rows += [(c, 0, d) for d in np.arange(start, 360, 14 + rng.uniform(-2, 2))]
        rows.append((c, 1, rng.uniform(0, 250)))
    customer, product, day = (np.array(column) for column in zip(*rows, strict=True))
    model = buy_again.fit(customer, product, day, as_of=360.0, horizon=90.0)
    scored = buy_again.repurchase_features(customer, product, day, as_of=360.0)
    scored["p"] = buy_again.predict(model, scored)
    by_product = scored.groupby("product").p.mean()
    assert model.classifier is not None and model.training_pairs > 600  # three windows of 300 customers x 2
    assert by_product[0] > 0.8 and by_product[1] < 0.2


def test_without_any_repeat_purchase_there_is_nothing_to_learn() -> None:
    model = buy_again.fit(np.array([0, 1]), np.array([0, 1]), np.array([0.0, 1.0]), as_of=200.0)
    assert model.classifier is None and model.positive_rate == 0.0


def _shop_with_a_withdrawn_regular(*, with_x: bool, aggregates_without_analytics: bool):
    """Sixty regulars buy product R every ~14 days and product O once; x, who withdrew analytics but permits
    personalisation, buys O every week (absent when ``with_x`` is false)."""
    rng = np.random.default_rng(1)
    rows = []
    for c in range(60):
        rows += [(f"c{c}", "R", d) for d in np.arange(rng.uniform(0, 14), 360, 14 + rng.uniform(-2, 2))]
        rows.append((f"c{c}", "O", rng.uniform(0, 350)))
    if with_x:
        rows += [("x", "O", d) for d in range(0, 360, 7)]
    orders = pd.DataFrame([{"orderId": f"{c}-{sku}-{d:.3f}", "customerId": c, "storeId": None, "at": d * 86_400.0,
                            "cancelled": False, "sku": sku, "quantity": 1.0, "unitPrice": 1.0} for c, sku, d in rows])
    customers = pd.Series(sorted({c for c, _, _ in rows}))
    consent = pd.DataFrame({"personalisation": [True], "analytics": [False]}, index=["x"]) if with_x else None
    return build_interactions(customers, pd.DataFrame({"sku": ["O", "R"], "name": ["ONE-OFF", "REGULAR"]}),
                              pd.Series([], dtype=str), orders,
                              pd.DataFrame(columns=["sessionId", "customerId", "sku", "type", "at"]),
                              pd.DataFrame(columns=["customerId", "storeId", "at"]), as_of=360 * 86_400.0,
                              consent=consent, aggregates_without_analytics=aggregates_without_analytics)


@pytest.mark.parametrize("aggregates_without_analytics", [False, True])
def test_the_product_features_count_only_whom_the_policy_admits_into_aggregates(aggregates_without_analytics,
                                                                               monkeypatch):
    data = _shop_with_a_withdrawn_regular(with_x=True, aggregates_without_analytics=aggregates_without_analytics)
    x = data.customers.get_loc("x")
    seen: list[set[int]] = []
    features = buy_again.product_features

    def spy(purchases: buy_again.Purchases, as_of: float) -> pd.DataFrame:
        seen.append(set(np.asarray(purchases[0]).tolist()))
        return features(purchases, as_of)

    monkeypatch.setattr(buy_again, "product_features", spy)
    scored, model = compute_buy_again(data, Params(buy_again_min_probability=0.0))
    assert model.classifier is not None and len(seen) == 4  # three training windows, then the scoring
    assert "x" in set(scored.customerId)  # x permits personalisation: x's own re-orders are scored
    # x withdrew analytics: x's purchases reach the product columns only when the policy admits them
    assert all((x in customers) == aggregates_without_analytics for customers in seen)


# ---------------------------------------------------------------- the graph and the API (real Neo4j)

NOW = datetime(2024, 6, 30, 12, 0, tzinfo=UTC)
REGULARS = [f"R{i}" for i in range(60)]  # milk every 14 days; jam once, with milk, for half of them
ONE_OFFS = [f"O{i}" for i in range(40)]  # one candle long ago, bread with it for some


def _orders() -> list[dict[str, Any]]:
    orders = []
    for n, customer in enumerate(REGULARS):
        for k, days_ago in enumerate(range(7 + n % 10, 365, 14)):
            skus = ["MILK"] + (["JAM"] if k == 3 and n % 2 else [])
            orders.append({"o": f"{customer}-{k}", "c": customer, "at": NOW - timedelta(days=days_ago), "p": skus})
    for n, customer in enumerate(ONE_OFFS):
        orders.append({"o": f"{customer}-0", "c": customer, "at": NOW - timedelta(days=150 + n),
                       "p": ["CANDLE", "BREAD"] if n % 2 else ["CANDLE"]})
    return orders


GRAPH = """
UNWIND ['MILK', 'JAM', 'CANDLE', 'BREAD'] AS sku CREATE (:Product {sku: sku, name: sku, price: 2.0});
UNWIND $customers AS id CREATE (:Customer {customerId: id});
UNWIND $orders AS r MATCH (c:Customer {customerId: r.c})
CREATE (c)-[:PLACED {at: r.at}]->(o:Order {orderId: r.o, channel: 'web', placedAt: r.at, cancelled: false})
WITH o, r UNWIND range(0, size(r.p) - 1) AS i MATCH (p:Product {sku: r.p[i]})
CREATE (o)-[:INCLUDES {line: i + 1, quantity: 1, unitPrice: 2.0}]->(p)
"""

RECOMMEND = """{ customer(id: $id) { recommendations(first: $first, kind: $kind) {
  product { sku } score sources explanation } } }"""


def recommendations(client: TestClient, customer_id: str, kind: str = "MIXED", first: int = 3) -> list[dict[str, Any]]:
    query = RECOMMEND.replace("$first", str(first)).replace("$kind", kind)
    return data(client, query.replace("$id", f'"{customer_id}"'), key=ADMIN)["customer"]["recommendations"]


def buy_again_edges(customer_id: str) -> list[dict[str, Any]]:
    return run_query("""MATCH (run:AlgorithmRun {family: 'recommend', status: 'current'})
                        MATCH (:Customer {customerId: $id})-[r:BUY_AGAIN]->(p:Product) WHERE r.version = run.runId
                        RETURN p.sku AS sku, r.probability AS probability, r.rank AS rank, r.reason AS reason,
                               r.cycleDays AS cycleDays, toString(r.lastDate) AS lastDate ORDER BY r.rank""",
                     {"id": customer_id})


@pytest.fixture(scope="module")
def regulars(neo4j_settings: Settings) -> Iterator[TestClient]:
    """The shop above after a full algorithms run, and an API client on it."""
    connection.configure(neo4j_settings)
    clear_graph()
    for statement in GRAPH.strip().split(";"):
        run_query(statement, {"customers": REGULARS + ONE_OFFS, "orders": _orders()})
    summary = run_all()
    assert any(note.startswith("buy again: gradient-boosted") for note in summary["notes"])
    with TestClient(make_app(neo4j_settings)) as client:
        yield client
    run_query("MATCH (k:Consent) DETACH DELETE k")


def test_the_run_writes_due_reorders_with_their_reason(regulars: TestClient) -> None:
    edges = buy_again_edges("R0")  # R0 last bought milk 7 days ago, every 14 days
    assert edges[0]["sku"] == "MILK" and edges[0]["rank"] == 1 and edges[0]["probability"] > 0.5
    assert edges[0]["cycleDays"] == 14.0 and edges[0]["lastDate"] == "2024-06-23"
    assert edges[0]["reason"] == "you order this about every 14 days; last on 2024-06-23"
    candle = buy_again_edges("O0")  # a single candle 150 days ago is not due
    assert all(edge["probability"] < edges[0]["probability"] / 5 for edge in candle)


def test_buy_again_discover_and_mixed_through_the_api(regulars: TestClient) -> None:
    again = recommendations(regulars, "R0", "BUY_AGAIN")
    assert again[0]["product"]["sku"] == "MILK" and again[0]["sources"] == ["BUY_AGAIN"]
    assert again[0]["explanation"].startswith("you order this about every 14 days")
    discover = recommendations(regulars, "R0", "DISCOVER", first=10)
    assert discover and not {"MILK"} & {item["product"]["sku"] for item in discover}  # R0 never bought jam
    mixed = recommendations(regulars, "R0", "MIXED", first=2)
    assert [item["product"]["sku"] for item in mixed][0] == "MILK"
    assert mixed[1]["sources"] != ["BUY_AGAIN"]  # R0 has one due re-order; the first discovery (0.08) comes next
    default = data(regulars, '{ customer(id: "R0") { recommendations(first: 2) { product { sku } } } }', key=ADMIN)
    assert [item["product"]["sku"] for item in default["customer"]["recommendations"]] == \
        [item["product"]["sku"] for item in mixed]


def test_withdrawn_personalisation_hides_reorders_at_once_and_the_next_run_writes_none(regulars: TestClient) -> None:
    assert buy_again_edges("R1")
    run_query("""MATCH (c:Customer {customerId: 'R1'})
                 CREATE (c)-[:HAS_CONSENT]->(:Consent {consentId: 'R1|web|personalisation', channel: 'web',
                                                        purpose: 'personalisation', granted: false, updatedAt: datetime()})""")
    assert recommendations(regulars, "R1", "BUY_AGAIN") == []  # the live decision, before any run
    assert all("BUY_AGAIN" not in item["sources"] for item in recommendations(regulars, "R1", first=10))
    run_all("recommend")
    assert buy_again_edges("R1") == [] and buy_again_edges("R2")


def test_a_short_history_learns_on_a_horizon_of_half_of_it() -> None:
    rows = [(c, 0, float(d)) for c in range(100) for d in range(c % 7, 60, 7)] + [(c, 1, 5.0) for c in range(100)]
    customer, product, day = (np.array(column) for column in zip(*rows, strict=True))
    model = buy_again.fit(customer, product, day, as_of=60.0, horizon=90.0)
    assert model.horizon_days == 30.0 and model.classifier is not None


def test_churn_risk_is_learned_from_the_same_history(regulars: TestClient) -> None:
    risk = {row["id"]: row["risk"] for row in run_query(
        "MATCH (c:Customer) WHERE c.customerId IN ['R0', 'O0'] RETURN c.customerId AS id, c.churnRisk AS risk")}
    assert risk["R0"] < 0.2 < 0.8 < risk["O0"]  # the regular buys every 14 days; the one-off bought once, long ago
    [run] = run_query("MATCH (r:AlgorithmRun {family: 'retention', status: 'current'}) RETURN r.churnModel AS model")
    assert run["model"] == "gradient-boosted"
