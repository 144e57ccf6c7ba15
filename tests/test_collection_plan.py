# ruff: noqa: F811 - pytest fixtures imported from test_api_support are redefined as parameters
"""The collection API's tracking plan (``CUSTOMER_GRAPH_TRACKING_PLAN``): a track message that violates its
event's schema is kept as a reject with a reason in the collector's run report, not written; sent by the real
``segment-analytics-python`` client to the service on the real Neo4j."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from segment.analytics import Client
from test_api_support import make_app, served
from test_collection import CATALOGUE, T0, WRITE_KEY

from api.collection.config import load_collection_config
from api.collection.plan import TrackingPlan
from graph_model import run_query
from graph_model.errors import ConfigurationError
from graph_model.privacy.redaction import value_token
from graph_model.settings import Settings

ORDER_COMPLETED = {
    "type": "object",
    "required": ["order_id", "currency", "products"],
    "properties": {
        "order_id": {"type": "string"},
        "currency": {"type": "string", "enum": ["GBP", "EUR"]},
        "products": {"type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["sku", "price"],
            "properties": {"sku": {"type": "string"}, "quantity": {"type": "integer", "minimum": 1},
                           "price": {"type": "number"}}}},
    },
}
PLAN = {"events": {"Order Completed": ORDER_COMPLETED}}


def _plan_file(tmp_path: Path, plan: Any) -> Path:
    path = tmp_path / "tracking-plan.json"
    path.write_text(plan if isinstance(plan, str) else json.dumps(plan), encoding="utf-8")
    return path


def _env(tmp_path: Path, plan: Path) -> dict[str, str]:
    return {"CUSTOMER_GRAPH_WRITE_KEYS": WRITE_KEY, "CUSTOMER_GRAPH_SPOOL": str(tmp_path / "spool.sqlite"),
            "CUSTOMER_GRAPH_TRACKING_PLAN": str(plan)}


def test_an_order_that_violates_the_plan_is_a_reject_not_a_write(
        graph: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runs = tmp_path / "runs"
    monkeypatch.setenv("CUSTOMER_GRAPH_RUNS_DIR", str(runs))
    monkeypatch.setenv("CUSTOMER_GRAPH_REJECTS_REDACT", "1")
    run_query(CATALOGUE)
    config = replace(load_collection_config(_env(tmp_path, _plan_file(tmp_path, PLAN))), flush_seconds=0.05,
                     plan_ahead=False)  # planning ahead: tests/test_loaders_warmup.py
    app = make_app(graph, collection=config)
    with served(app) as port:
        client = Client(WRITE_KEY, host=f"http://127.0.0.1:{port}", sync_mode=True, max_retries=1)
        client.track(user_id="U1", event="Order Completed", message_id="order-W1", timestamp=T0,
                     properties={"order_id": "W1", "currency": "GBP",
                                 "products": [{"sku": "85123A", "quantity": 2, "price": 2.55}]})
        client.track(user_id="U2", event="Order Completed", message_id="order-W2", timestamp=T0,
                     properties={"order_id": "W2", "currency": "GBP",
                                 "products": [{"sku": "22423", "quantity": 1, "price": "12.75"}]})
        # no schema for this event in the plan: written as before, whatever its properties
        client.track(user_id="U3", event="Product Viewed", message_id="view-1", timestamp=T0,
                     properties={"sku": "22423", "price": "not checked"})
        assert app.state.collector.wait_idle()
    # the server has stopped: the collector closed its run report

    orders = run_query("""MATCH (c:Customer)-[:PLACED]->(o:Order)-[l:INCLUDES]->(p:Product)
                          MATCH (:Event {eventId: 'order-W1', type: 'purchase'})-[:PLACED_ORDER]->(o)
                          RETURN c.customerId AS customer, o.orderId AS id, p.sku AS sku, l.unitPrice AS price""")
    assert orders == [{"customer": "U1", "id": "W1", "sku": "85123A", "price": 2.55}]
    assert run_query("MATCH (o:Order {orderId: 'W2'}) RETURN count(*) AS n") == [{"n": 0}]
    assert run_query("MATCH (e:Event {eventId: 'order-W2'}) RETURN count(*) AS n") == [{"n": 0}]
    assert run_query("MATCH (c:Customer {customerId: 'U2'}) RETURN count(*) AS n") == [{"n": 0}]  # nothing of it
    assert run_query("MATCH (e:Event {eventId: 'view-1', type: 'product_view'}) RETURN count(*) AS n") == [{"n": 1}]

    [folder] = sorted(runs.glob("*-collect"))
    report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    assert report["entities"]["events"]["rejectReasons"] == {"invalid_value": 1}
    rejects = [json.loads(line) for line in (folder / "rejects.jsonl").read_text(encoding="utf-8").splitlines()]
    assert rejects == [{
        "file": "collect", "line": rejects[0]["line"], "entity": "events", "reason": "invalid_value",
        "message": "tracking plan of 'Order Completed': $.properties.products[0].price: "
                   "the value is not of type 'number'",  # the value sent is left out (redacted report)
        "row": {"messageId": "order-W2", "userId": value_token("U2"), "anonymousId": None,
                "event": "Order Completed"}}]


def test_the_reason_names_every_broken_rule_up_to_three() -> None:
    plan = TrackingPlan.from_dict(PLAN)
    message = {"type": "track", "event": "Order Completed",
               "properties": {"currency": "USD", "products": [{"sku": 85123, "quantity": 0, "price": 1}]}}
    assert plan.violation(message) == (
        "tracking plan of 'Order Completed': $.properties: 'order_id' is a required property; "
        "$.properties.currency: 'USD' is not one of ['GBP', 'EUR']; "
        "$.properties.products[0].quantity: 0 is less than the minimum of 1 (and 1 more)")
    assert plan.violation({**message, "type": "page"}) is None  # only track messages are checked
    assert plan.violation({**message, "event": "order completed"}) is None  # names match exactly
    assert TrackingPlan.from_dict(PLAN).violation(
        {"type": "track", "event": "Order Completed"}) == (
        "tracking plan of 'Order Completed': $.properties: 'order_id' is a required property; "
        "$.properties: 'currency' is a required property; $.properties: 'products' is a required property")


def test_a_schema_that_cannot_be_applied_rejects_instead_of_blocking_the_spool() -> None:
    plan = TrackingPlan.from_dict({"events": {"Signed Up": {"properties": {"plan": {"$ref": "#/$defs/missing"}}}}})
    reason = plan.violation({"type": "track", "event": "Signed Up", "properties": {"plan": "gold"}})
    assert reason is not None and reason.startswith("tracking plan of 'Signed Up': its schema could not be applied")


@pytest.mark.parametrize(("content", "says"), [
    (None, "cannot read the file"),
    ("{nope", "not JSON"),
    ({"Order Completed": ORDER_COMPLETED}, 'expected a JSON object {"events"'),
    ({"events": {"Order Completed": ["order_id"]}}, "the schema of 'Order Completed' must be a JSON object"),
    ({"events": {"Order Completed": {"type": "decimal"}}},
     r"the schema of 'Order Completed' is not a valid JSON schema at \$.type: 'decimal' is not valid"),
])
def test_a_bad_tracking_plan_stops_the_start(tmp_path: Path, content: Any, says: str) -> None:
    path = tmp_path / "missing.json" if content is None else _plan_file(tmp_path, content)
    with pytest.raises(ConfigurationError, match=f"^CUSTOMER_GRAPH_TRACKING_PLAN {re.escape(str(path))}: {says}"):
        load_collection_config(_env(tmp_path, path))


def test_no_plan_is_the_default(tmp_path: Path) -> None:
    env = _env(tmp_path, tmp_path)
    del env["CUSTOMER_GRAPH_TRACKING_PLAN"]
    assert load_collection_config(env).tracking_plan is None
    assert load_collection_config(_env(tmp_path, _plan_file(tmp_path, PLAN))).tracking_plan is not None


def test_server_write_keys_come_from_the_environment_and_never_double_as_public_ones() -> None:
    env = {"CUSTOMER_GRAPH_WRITE_KEYS": "browser-key-001", "CUSTOMER_GRAPH_SERVER_WRITE_KEYS": "backend-key-001"}
    config = load_collection_config(env)
    assert config.write_keys == {"browser-key-001"} and config.server_write_keys == {"backend-key-001"}
    assert load_collection_config({"CUSTOMER_GRAPH_SERVER_WRITE_KEYS": "backend-key-001"}).enabled
    with pytest.raises(ConfigurationError, match="a browser's key is public, a server's must not be"):
        load_collection_config({**env, "CUSTOMER_GRAPH_SERVER_WRITE_KEYS": "browser-key-001"})
    with pytest.raises(ConfigurationError, match="CUSTOMER_GRAPH_SERVER_WRITE_KEYS: every write key needs at least 8"):
        load_collection_config({"CUSTOMER_GRAPH_SERVER_WRITE_KEYS": "short"})
