"""The neomodel classes round-trip through the real database with native temporal and spatial types."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from neo4j.spatial import WGS84Point
from neomodel.exceptions import DeflateError

from graph_model import run_query
from graph_model.model import Customer, Event, Identity, Order, Product, Session, Store, identity_key
from graph_model.settings import Settings


def test_timestamps_are_stored_as_native_utc_datetimes(graph: Settings) -> None:
    paris = timezone(timedelta(hours=1))
    Customer(customerId="C1", createdAt=datetime(2011, 1, 5, 10, 0, tzinfo=paris)).save()
    row = run_query("MATCH (c:Customer {customerId: 'C1'}) RETURN c.createdAt AS t, valueType(c.createdAt) AS type")[0]
    assert row["type"].startswith("ZONED DATETIME")
    assert row["t"].to_native() == datetime(2011, 1, 5, 9, 0, tzinfo=UTC)
    assert Customer.nodes.get(customerId="C1").createdAt == datetime(2011, 1, 5, 9, 0, tzinfo=UTC)


def test_store_location_is_a_point_usable_by_point_distance(graph: Settings) -> None:
    Store(storeId="S1", name="Oxford St", location=(-0.1410, 51.5154)).save()
    row = run_query("MATCH (s:Store {storeId: 'S1'}) "
                    "RETURN point.distance(s.location, point({longitude: -0.1276, latitude: 51.5072})) AS metres")[0]
    assert 1000 < row["metres"] < 1400
    assert isinstance(Store.nodes.get(storeId="S1").location, WGS84Point)


def test_an_invalid_coordinate_is_refused() -> None:
    with pytest.raises(DeflateError):
        Store(storeId="S9", name="Nowhere", location=(200.0, 95.0)).save()


def test_session_events_chain_in_order_and_link_to_what_they_touched(graph: Settings) -> None:
    t0 = datetime(2011, 3, 1, 12, 0, tzinfo=UTC)
    customer = Customer(customerId="C1").save()
    cookie = Identity(identityKey=identity_key("cookie", "ck-1"), type="cookie", value="ck-1").save()
    cookie.customer.connect(customer, {"at": t0})
    session = Session(sessionId="W1", channel="web", startedAt=t0).save()
    session.identities.connect(cookie, {"at": t0})
    customer.sessions.connect(session, {"at": t0})
    product = Product(sku="P1", name="Mug").save()
    events = []
    for i, kind in enumerate(["page_view", "product_view", "add_to_cart", "checkout", "purchase"]):
        event = Event(eventId=f"E{i}", type=kind, at=t0 + timedelta(seconds=30 * i)).save()
        session.events.connect(event, {"at": event.at})
        if kind in ("product_view", "add_to_cart"):
            event.product.connect(product, {"at": event.at})
        if events:
            events[-1].next.connect(event, {"gapSeconds": 30.0})
        events.append(event)
    order = Order(orderId="O1", channel="web", placedAt=t0 + timedelta(minutes=2)).save()
    order.lines.connect(product, {"line": 1, "quantity": 2, "unitPrice": 3.5})
    events[-1].order.connect(order, {"at": order.placedAt})

    path = run_query(
        "MATCH (c:Customer {customerId: 'C1'})<-[:IDENTIFIES]-(:Identity)<-[:IDENTIFIED_BY]-(s:Session) "
        "MATCH p = (first:Event)-[:NEXT*]->(last:Event) WHERE (s)-[:CONTAINS]->(first) AND NOT ()-[:NEXT]->(first) "
        "AND NOT (last)-[:NEXT]->() RETURN [e IN nodes(p) | e.type] AS steps", write=False)
    assert path[0]["steps"] == ["page_view", "product_view", "add_to_cart", "checkout", "purchase"]
    line = run_query("MATCH (:Order {orderId: 'O1'})-[l:INCLUDES]->(p:Product) RETURN p.sku AS sku, l.quantity AS q")
    assert line == [{"sku": "P1", "q": 2}]
