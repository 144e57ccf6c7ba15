# ruff: noqa: F811 - pytest fixtures imported from test_api_support are redefined as parameters
"""The collection API (the Segment tracking spec) on the real Neo4j, driven by the real
``segment-analytics-python`` client pointed at the service by its ``host`` option."""

from __future__ import annotations

import gzip
import hashlib
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2 as httpx
import jwt
import pytest
from segment.analytics import Client
from starlette.testclient import TestClient
from test_api_support import ADMIN, READER, make_app, served

from api.collection.config import CollectionConfig
from api.tokens import TokenSettings
from graph_model import run_query
from graph_model.errors import ConfigurationError
from graph_model.settings import Settings

WRITE_KEY = "test-write-key-0001"
TOKEN_SECRET = "the-retailer-backend-signs-customer-tokens-0123"
SERVER_KEY = "test-server-write-key-0001"  # the retailer's back end: trusted for traits and consent grants
T0 = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)

CATALOGUE = """
CREATE (:Product {sku: '85123A', name: 'White hanging heart t-light holder'}),
       (:Product {sku: '22423', name: 'Regency cakestand 3 tier'}),
       (:Customer {customerId: 'GONE'})
"""


@pytest.fixture
def collecting(graph: Settings, tmp_path: Path) -> Iterator[tuple[Any, str]]:
    """The app with collection on (spool in ``tmp_path``), served on a free port; yields (app, base url)."""
    run_query(CATALOGUE)
    app = make_app(graph, collection=_config(tmp_path), tokens=TokenSettings(secret=TOKEN_SECRET))
    with served(app) as port:
        yield app, f"http://127.0.0.1:{port}"


def _config(tmp_path: Path, **overrides: Any) -> CollectionConfig:
    """Collection on, its spool in ``tmp_path``; no planning ahead (each test's empty graph replans every writer:
    8-12 s a test; tests/test_loaders_warmup.py covers planning ahead)."""
    return CollectionConfig(**{"write_keys": frozenset({WRITE_KEY}), "server_write_keys": frozenset({SERVER_KEY}),
                               "spool_path": tmp_path / "spool.sqlite", "flush_seconds": 0.05, "plan_ahead": False,
                               **overrides})


def _token(sub: str, seconds: int = 600) -> str:
    """A customer token for ``sub`` (HS256 with :data:`TOKEN_SECRET`), as the shop's back end signs them."""
    now = int(time.time())
    return jwt.encode({"sub": sub, "iat": now, "exp": now + seconds}, TOKEN_SECRET, algorithm="HS256")


def _client(base: str) -> Client:
    return Client(WRITE_KEY, host=base, sync_mode=True, max_retries=1)


def _chain(session_id: str) -> list[tuple[str, Any]]:
    """The session's events following NEXT from the first: (type, page or query or name)."""
    rows = run_query("""
        MATCH (s:Session {sessionId: $id})-[:CONTAINS]->(first:Event) WHERE NOT ()-[:NEXT]->(first)
        MATCH path = (first)-[:NEXT*0..]->(last:Event) WHERE NOT (last)-[:NEXT]->()
        RETURN [e IN nodes(path) | [e.type, coalesce(e.page, e.query, e.name)]] AS chain""", {"id": session_id})
    assert len(rows) == 1, rows
    return [tuple(pair) for pair in rows[0]["chain"]]


def test_an_anonymous_visitor_becomes_a_customer_with_the_whole_history(collecting: tuple[Any, str]) -> None:
    app, base = collecting
    client = _client(base)
    client.page(anonymous_id="anon-1", name="Home", properties={"path": "/"}, timestamp=T0)
    client.track(anonymous_id="anon-1", event="Products Searched", properties={"query": "Heart Lantern"},
                 timestamp=T0 + timedelta(minutes=1))
    client.track(anonymous_id="anon-1", event="Product Viewed", properties={"sku": "85123A"},
                 timestamp=T0 + timedelta(minutes=2))
    client.identify(user_id="U1", anonymous_id="anon-1", traits={"email": "Ada@Example.com", "name": "Ada"},
                    context={"customerToken": _token("U1")}, timestamp=T0 + timedelta(minutes=3))
    signed_in = {"customerToken": _token("U1")}  # the shop's middleware adds it to every message once logged in
    client.track(user_id="U1", anonymous_id="anon-1", event="Order Completed",
                 properties={"order_id": "W1", "currency": "GBP",
                             "products": [{"sku": "85123A", "quantity": 2, "price": 2.55}]},
                 context=signed_in, timestamp=T0 + timedelta(minutes=4))
    client.track(user_id="U1", anonymous_id="anon-1", event="Wishlist Product Added",
                 properties={"sku": "22423", "list": "xmas"}, context=signed_in, timestamp=T0 + timedelta(minutes=5))
    client.alias(previous_id="old-cookie-9", user_id="U1", context=signed_in,
                 timestamp=T0 + timedelta(minutes=6))
    client.page(anonymous_id="anon-1", name="Late", properties={"path": "/late"},  # sent last, happened second
                timestamp=T0 + timedelta(seconds=30))
    client.page(anonymous_id="anon-1", name="Tomorrow", properties={"path": "/next-day"}, timestamp=T0 + timedelta(days=1))
    assert app.state.collector.wait_idle()

    customer = run_query("MATCH (c:Customer {customerId: 'U1'}) RETURN c.name AS name, c.emailHash AS hash")
    assert customer == [{"name": "Ada", "hash": hashlib.sha256(b"ada@example.com").hexdigest()}]
    sessions = run_query("""MATCH (s:Session)-[:IDENTIFIED_BY]->(:Identity {identityKey: 'cookie:anon-1'})
                            OPTIONAL MATCH (c:Customer)-[:HAD_SESSION]->(s)
                            RETURN s.sessionId AS id, s.channel AS channel, s.startedAt AS started, c.customerId AS customer
                            ORDER BY started""")
    assert [(s["channel"], s["customer"]) for s in sessions] == [("web", "U1"), ("web", "U1")]  # 30-minute rule
    assert sessions[0]["started"].to_native() == T0
    assert _chain(sessions[0]["id"]) == [("page_view", "/"), ("page_view", "/late"), ("search", "Heart Lantern"),
                                          ("product_view", None), ("purchase", None),
                                          ("custom", "Wishlist Product Added")]
    assert _chain(sessions[1]["id"]) == [("page_view", "/next-day")]
    assert run_query("""MATCH (e:Event {name: 'Wishlist Product Added'}) RETURN e.properties AS p""") == [
        {"p": json.dumps({"sku": "22423", "list": "xmas"}, separators=(",", ":"))}]
    order = run_query("""MATCH (:Customer {customerId: 'U1'})-[:PLACED]->(o:Order {orderId: 'W1'})-[l:INCLUDES]->(p:Product)
                         MATCH (:Event {type: 'purchase'})-[:PLACED_ORDER]->(o)
                         RETURN p.sku AS sku, l.quantity AS quantity, l.unitPrice AS price""")
    assert order == [{"sku": "85123A", "quantity": 2, "price": 2.55}]
    identities = run_query("""MATCH (i:Identity)-[:IDENTIFIES]->(:Customer {customerId: 'U1'})
                              RETURN i.identityKey AS key ORDER BY key""")
    assert [i["key"] for i in identities] == ["cookie:anon-1", "cookie:old-cookie-9", "customer_ref:U1",
                                               f"email_hash:{hashlib.sha256(b'ada@example.com').hexdigest()}"]

    query = """{ customer(id: "U1") { engagementHistory(first: 5, types: [SESSION]) { edges { node {
                 ... on SessionEntry { channel events { type page } } } } } } }"""
    answer = httpx.post(f"{base}/graphql", json={"query": query}, headers={"X-API-Key": READER}).json()
    edges = answer["data"]["customer"]["engagementHistory"]["edges"]
    assert [edge["node"]["events"][0] for edge in edges] == [{"type": "page_view", "page": "/next-day"},
                                                             {"type": "page_view", "page": "/"}]


def test_a_retried_message_is_written_once(collecting: tuple[Any, str]) -> None:
    app, base = collecting
    client = _client(base)
    for _ in range(2):
        client.page(anonymous_id="anon-2", name="Home", properties={"path": "/"}, timestamp=T0, message_id="m-1")
    assert app.state.collector.wait_idle()
    client.page(anonymous_id="anon-2", name="Home", properties={"path": "/"}, timestamp=T0, message_id="m-1")
    assert app.state.collector.wait_idle()  # written before, and sent again: still a duplicate
    assert run_query("MATCH (e:Event {eventId: 'm-1'}) RETURN count(*) AS n") == [{"n": 1}]
    assert app.state.collector.written == 1


def test_the_spec_s_clock_skew_correction(collecting: tuple[Any, str]) -> None:
    app, base = collecting
    received = datetime.now(UTC)
    skewed = received + timedelta(hours=3)  # the device's clock is three hours ahead
    body = {"batch": [{"type": "page", "anonymousId": "anon-3", "messageId": "skew-1", "properties": {"path": "/"},
                       "originalTimestamp": (skewed - timedelta(minutes=10)).isoformat()}],
            "sentAt": skewed.isoformat()}
    assert httpx.post(f"{base}/v1/batch", json=body, auth=(WRITE_KEY, "")).json() == {"success": True}
    assert app.state.collector.wait_idle()
    at = run_query("MATCH (e:Event {eventId: 'skew-1'}) RETURN e.at AS at")[0]["at"].to_native()
    assert abs(at - (received - timedelta(minutes=10))) < timedelta(seconds=5)


def test_refusals_answer_with_a_code_and_a_reason(collecting: tuple[Any, str]) -> None:
    _, base = collecting
    page = {"anonymousId": "a", "properties": {"path": "/"}}

    def post(path: str, body: Any, **kwargs: Any) -> httpx.Response:
        kwargs.setdefault("auth", (WRITE_KEY, ""))
        return httpx.post(f"{base}{path}", json=body, **kwargs)

    assert post("/v1/page", page, auth=None).status_code == 401
    assert post("/v1/page", page, auth=("wrong-key-0000", "")).json()["code"] == "UNAUTHENTICATED"
    assert post("/v1/page", {**page, "writeKey": WRITE_KEY}, auth=None).json() == {"success": True}
    missing = post("/v1/track", {"anonymousId": "a"})
    assert missing.status_code == 400 and missing.json()["message"] == "a track message needs an `event` name"
    assert post("/v1/page", {"properties": {}}).json()["message"] == "every message needs a `userId` or an `anonymousId`"
    big = post("/v1/page", {**page, "properties": {"x": "y" * 33_000}})
    assert big.status_code == 400 and "32 KB" in big.json()["message"]
    batch = {"batch": [{**page, "type": "page", "properties": {"x": "y" * 30_000}} for _ in range(20)]}
    assert post("/v1/batch", batch).status_code == 413
    wrong = post("/v1/batch", {"batch": [{**page, "type": "page"}, {**page, "type": "launch"}]})
    assert wrong.status_code == 400 and wrong.json()["message"].startswith("batch[1]: `type` must be one of")
    not_json = httpx.post(f"{base}/v1/page", content=b"{nope", auth=(WRITE_KEY, ""))
    assert not_json.status_code == 400 and not_json.json()["code"] == "BAD_REQUEST"
    zipped = httpx.post(f"{base}/v1/page", content=gzip.compress(json.dumps(page).encode()), auth=(WRITE_KEY, ""),
                        headers={"Content-Encoding": "gzip", "Content-Type": "application/json"})
    assert zipped.json() == {"success": True}
    year_zero = post("/v1/track", {**page, "event": "x", "timestamp": "0001-01-01T00:00:00+01:00"})
    assert year_zero.status_code == 400 and "years 1 to 9999" in year_zero.json()["message"]
    apart = post("/v1/track", {**page, "event": "x", "originalTimestamp": "0001-01-01T00:00:00Z",
                               "sentAt": "9999-12-31T00:00:00Z"})
    assert apart.status_code == 400 and "too far apart" in apart.json()["message"]
    # orjson, as the GraphQL endpoint: a lone surrogate could not be spooled, and nesting overflowed the parser
    for body in (b'{"type": "track", "event": "x\\ud800", "anonymousId": "a"}',
                 b'{"anonymousId": "a", "properties": {"x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}",
                 b'{"anonymousId": "a", "properties": {"x": NaN}}'):
        odd = httpx.post(f"{base}/v1/page", content=body, auth=(WRITE_KEY, ""))
        assert odd.status_code == 400 and odd.json()["message"] == "the body is not valid UTF-8 JSON (or nests too deeply)"
    twice = post("/v1/batch", {"batch": [{**page, "type": "page", "messageId": "dup-1"},
                                         {"type": "track", "userId": "B", "event": "Signed Up", "messageId": "dup-1"}]})
    assert twice.status_code == 400 and twice.json()["message"].startswith("batch[1]: `messageId` 'dup-1' is batch[0]'s")
    retried = post("/v1/batch", {"batch": [{**page, "type": "page", "messageId": "dup-2"}] * 2})  # the same: fine
    assert retried.json() == {"success": True}
    empty_date = post("/v1/track", {**page, "event": "x", "timestamp": "0001-01-01T00:00:00Z"})  # .NET's MinValue
    assert empty_date.status_code == 400 and "before 2000" in empty_date.json()["message"]
    deep = httpx.post(f"{base}/v1/track", auth=(WRITE_KEY, ""), headers={"Content-Type": "application/json"},
                      content=b'{"anonymousId": "a", "event": "x", "properties": {"x": ' + b"[" * 1_000 + b"]" * 1_000
                      + b"}}")  # within what the parser reads (1,024 levels), beyond what the spool stores
    assert deep.status_code == 400 and deep.json()["message"] == "a message nests at most 255 levels deep"
    whole = gzip.compress(json.dumps(page).encode())
    for damaged in (whole + b"GARBAGE", whole[:-8], whole + whole):  # trailing bytes, no checksum, two members
        refused = httpx.post(f"{base}/v1/page", content=damaged, auth=(WRITE_KEY, ""),
                             headers={"Content-Encoding": "gzip", "Content-Type": "application/json"})
        assert refused.status_code == 400 and "not valid gzip" in refused.json()["message"]
    for response in (missing, big, wrong, not_json, year_zero, apart, empty_date, deep):
        assert "Traceback" not in response.text


def test_a_message_of_an_unforeseen_shape_is_a_reject_not_a_stopped_collector(collecting: tuple[Any, str]) -> None:
    """Found by the stop-37 audit: `context.library` as text, or `products` as a number, was accepted (200),
    then failed every micro-batch for good: nobody's messages were written again; a batch `context` that is
    not an object answered 500."""
    app, base = collecting
    post = lambda path, body: httpx.post(f"{base}{path}", auth=(WRITE_KEY, ""), json=body)  # noqa: E731
    assert post("/v1/page", {"anonymousId": "odd-1", "messageId": "odd-1", "context": {"library": "analytics-ios"},
                             "properties": {"path": "/p1"}}).status_code == 200
    assert post("/v1/track", {"userId": "U5", "messageId": "odd-2", "event": "Order Completed",
                              "properties": {"products": 5}}).status_code == 200
    assert post("/v1/identify", {"userId": "U5", "messageId": "odd-3", "context": {"traits": "text"}}).status_code == 200
    refused = post("/v1/batch", {"batch": [{"type": "page", "anonymousId": "odd-4"}], "context": "text"})
    assert refused.status_code == 400 and refused.json()["message"] == "batch[0]: the batch's `context` must be a " \
                                                                       "JSON object"
    assert post("/v1/page", {"anonymousId": "after", "messageId": "after-1", "properties": {"path": "/"}}
                ).status_code == 200
    assert app.state.collector.wait_idle()
    assert run_query("MATCH (e:Event) RETURN e.eventId AS id ORDER BY id") == [
        {"id": "after-1"}, {"id": "odd-1"}, {"id": "odd-2"}]  # mapped as well as their shapes allow


def test_a_collected_order_never_changes_an_order_the_graph_holds(collecting: tuple[Any, str]) -> None:
    """Found by the stop-37 audit: an `Order Completed` naming an existing order id moved the order to the
    sender's customer, repriced its lines, re-dated it and un-cancelled a cancellation."""
    app, base = collecting
    run_query("""MATCH (p:Product {sku: '22423'})
                 CREATE (:Customer {customerId: 'REAL'})-[:PLACED {at: datetime('2011-12-08T10:00:00Z')}]->
                        (o:Order {orderId: '581334', placedAt: datetime('2011-12-08T10:00:00Z'), channel: 'store',
                                  cancelled: true, total: 12.75})-[:INCLUDES {line: 1, quantity: 1, unitPrice: 12.75}]->(p)""")
    client = _client(base)
    for order_id in ("581334", "W9"):
        client.track(user_id="U7", event="Order Completed", timestamp=T0, message_id=f"order-{order_id}",
                     properties={"order_id": order_id, "products": [{"sku": "85123A", "quantity": 100, "price": 0.01}]})
    assert app.state.collector.wait_idle()
    assert run_query("""MATCH (c:Customer)-[:PLACED]->(o:Order)-[l:INCLUDES]->(p:Product)
                        RETURN o.orderId AS id, c.customerId AS customer, o.cancelled AS cancelled, p.sku AS sku,
                               l.unitPrice AS price ORDER BY id""") == [
        {"id": "581334", "customer": "REAL", "cancelled": True, "sku": "22423", "price": 12.75},
        {"id": "W9", "customer": "U7", "cancelled": False, "sku": "85123A", "price": 0.01}]


def test_a_customer_s_own_token_cannot_take_another_customer_s_identifiers(collecting: tuple[Any, str]) -> None:
    """Found by the stop-37 audit: an alias or an identify moved a cookie, or an e-mail hash, that identified
    another customer to the sender (who then read the victim's browsing through their own token)."""
    app, base = collecting
    victim_hash = hashlib.sha256(b"vic@example.com").hexdigest()
    run_query("""CREATE (v:Customer {customerId: 'VIC'}),
                        (:Identity {identityKey: 'cookie:vic-cookie', type: 'cookie', value: 'vic-cookie'})-[:IDENTIFIES]->(v),
                        (:Identity {identityKey: 'email_hash:' + $hash, type: 'email_hash', value: $hash})-[:IDENTIFIES]->(v)""",
              {"hash": victim_hash})
    client, own = _client(base), {"customerToken": _token("MALLORY")}
    client.alias(previous_id="vic-cookie", user_id="MALLORY", context=own)
    client.identify(user_id="MALLORY", traits={"email": "vic@example.com", "name": "Mal"}, context=own)
    client.alias(previous_id="mal-cookie", user_id="MALLORY", context=own)  # an unowned one: joined as usual
    assert app.state.collector.wait_idle()
    assert run_query("""MATCH (i:Identity)-[:IDENTIFIES]->(c:Customer) WHERE i.type IN ['cookie', 'email_hash']
                        RETURN i.value AS value, c.customerId AS owner ORDER BY value""") == [
        {"value": victim_hash, "owner": "VIC"}, {"value": "mal-cookie", "owner": "MALLORY"},
        {"value": "vic-cookie", "owner": "VIC"}]
    assert run_query("MATCH (c:Customer {customerId: 'MALLORY'}) RETURN c.name AS name, c.emailHash AS hash") == [
        {"name": "Mal", "hash": None}]  # the rest of the profile is kept


def test_collection_is_off_without_write_keys(graph: Settings) -> None:
    with TestClient(make_app(graph, collection=CollectionConfig())) as client:
        answer = client.post("/v1/batch", json={"batch": []})
    assert answer.status_code == 404 and answer.json()["message"] == "collection is off: set CUSTOMER_GRAPH_WRITE_KEYS"


def test_what_was_accepted_is_written_after_a_restart(graph: Settings, tmp_path: Path) -> None:
    run_query(CATALOGUE)
    app = make_app(graph, collection=_config(tmp_path))
    stopped = TestClient(app)  # no lifespan: its writer never starts
    body = {"batch": [{"type": "track", "userId": "U7", "event": "Product Viewed", "properties": {"sku": "22423"},
                       "messageId": f"r-{n}", "timestamp": (T0 + timedelta(seconds=n)).isoformat()} for n in range(3)]}
    assert stopped.post("/v1/batch", json=body, auth=(WRITE_KEY, "")).json() == {"success": True}
    assert run_query("MATCH (e:Event) RETURN count(*) AS n") == [{"n": 0}]
    with pytest.raises(ConfigurationError, match="in use by another process"):
        make_app(graph, collection=_config(tmp_path))  # a second worker on the same spool
    app.state.collector.spool.close()  # the process ends
    restarted = make_app(graph, collection=_config(tmp_path))
    with TestClient(restarted):
        assert restarted.state.collector.wait_idle()
    assert run_query("""MATCH (:Customer {customerId: 'U7'})-[:HAD_SESSION]->(:Session)-[:CONTAINS]->(e:Event)
                        RETURN e.eventId AS id ORDER BY id""") == [{"id": "r-0"}, {"id": "r-1"}, {"id": "r-2"}]


def test_an_erased_person_is_not_collected_again(collecting: tuple[Any, str]) -> None:
    app, base = collecting
    erased = httpx.post(f"{base}/graphql", headers={"X-API-Key": ADMIN}, json={  # waits for the batch in flight
        "query": 'mutation { eraseCustomer(customerId: "GONE") { erased alreadyErased } }'}).json()
    assert erased == {"data": {"eraseCustomer": {"erased": True, "alreadyErased": False}}}
    client = _client(base)
    client.identify(user_id="GONE", anonymous_id="anon-gone", traits={"email": "gone@example.com"}, timestamp=T0)
    client.track(user_id="GONE", event="Product Viewed", properties={"sku": "85123A"}, timestamp=T0)
    client.track(user_id=" GONE ", event="Product Viewed", properties={"sku": "85123A"}, timestamp=T0)  # spaced
    assert app.state.collector.wait_idle()
    assert run_query("MATCH (c:Customer {customerId: 'GONE'}) RETURN count(*) AS n") == [{"n": 0}]
    assert run_query("MATCH (s:Session) RETURN count(*) AS n") == [{"n": 0}]
    # withheld at the door, spaced or not: no session state of theirs in the spool (until stop 40 ' GONE ' kept some)
    assert app.state.collector.spool.actor_sessions(" GONE ") == [] and app.state.collector.spool.actor_sessions(
        "GONE") == []


def _consents(customer_id: str) -> list[dict[str, Any]]:
    return run_query("""MATCH (:Customer {customerId: $id})-[:HAS_CONSENT]->(k:Consent)
                        RETURN k.purpose AS purpose, k.granted AS granted, k.updatedAt AS at ORDER BY purpose""",
                     {"id": customer_id})


def test_consent_preferences_and_location_follow_the_consent_policy(collecting: tuple[Any, str]) -> None:
    app, base = collecting
    run_query("CREATE (:Store {storeId: 'S1', name: 'Oxford Street', location: point({latitude: 51.515, longitude: -0.142})})")
    before = datetime.now(UTC)
    client = _client(base)
    context = {"consent": {"categoryPreferences": {"Advertising": False, "Analytics": True, "Location": True}},
               "customerToken": _token("U9"), "location": {"latitude": 51.515, "longitude": -0.142}}
    for minutes in (0, 10, 20):
        client.track(user_id="U9", event="Store Entered", context=context, timestamp=T0 + timedelta(minutes=minutes))
    client.track(user_id="U10", event="Store Entered", context={"location": context["location"]}, timestamp=T0)
    # a public key cannot place a customer who allows location at a store: the ping needs their token
    run_query("CREATE (c:Customer {customerId: 'U12'})-[:HAS_CONSENT]->(:Consent {consentId: 'U12|app|location', "
              "channel: 'app', purpose: 'location', granted: true, updatedAt: datetime()})")
    for minutes in (0, 10, 20):
        client.track(user_id="U12", event="Store Entered", context={"location": context["location"]},
                     timestamp=T0 + timedelta(minutes=minutes))
    # the retailer's back end (a server write key) speaks for its customers without their token
    Client(SERVER_KEY, host=base, sync_mode=True, max_retries=1).track(
        user_id="U11", event="Newsletter Form Sent", context={"consent": {"categoryPreferences": {"Marketing": True}}})
    assert app.state.collector.wait_idle()
    consents = _consents("U9")
    assert [(k["purpose"], k["granted"]) for k in consents] == [("analytics", True), ("location", True),
                                                                 ("marketing", False)]
    # dated when the server received them, not by the client's `timestamp` (T0, days ago)
    assert all(before <= k["at"].to_native() <= datetime.now(UTC) for k in consents), consents
    assert [(k["purpose"], k["granted"]) for k in _consents("U11")] == [("marketing", True)]
    visits = run_query("""MATCH (c:Customer)-[:MADE_VISIT]->(v:Visit)-[:TO_STORE]->(:Store {storeId: 'S1'})
                          RETURN c.customerId AS customer, v.source AS source""")
    assert visits == [{"customer": "U9", "source": "location_ping"}]  # U10 never allowed location, U12 unproven


def test_a_public_write_key_cannot_grant_consent_or_rewrite_a_profile(
        graph: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The write key is in the shop's JavaScript: anyone may send a message naming any user id. A consent grant
    or profile traits need that customer's token (or a server write key); a withdrawal does not; the client's
    clock dates nothing (found by the stop-37 audit: any customer's marketing and location could be granted,
    and an identify could put anyone's e-mail on one's own account, its identity first)."""
    runs = tmp_path / "runs"
    monkeypatch.setenv("CUSTOMER_GRAPH_RUNS_DIR", str(runs))
    run_query(CATALOGUE + ", (:Customer {customerId: 'VICTIM', name: 'Vic Tim'})")
    app = make_app(graph, collection=_config(tmp_path), tokens=TokenSettings(secret=TOKEN_SECRET))
    grants = {"consent": {"categoryPreferences": {"Advertising": True, "Location": True}}}
    attempts = [
        grants,  # no token
        {**grants, "customerToken": _token("MALLORY")},  # another customer's token
        {**grants, "customerToken": _token("VICTIM", seconds=-3600)},  # expired
        {**grants, "customerToken": "not.a.jwt"},
    ]
    with served(app) as port:
        client = _client(f"http://127.0.0.1:{port}")
        for number, context in enumerate(attempts):
            client.track(user_id="VICTIM", event="Product Viewed", properties={"sku": "85123A"}, context=context,
                         message_id=f"forged-{number}", timestamp=T0)
        # the server's own proof cannot be sent by the client, at the top or in the properties
        client.track(user_id="VICTIM", event="Product Viewed", context=grants,
                     properties={"sku": "85123A", "senderProof": "server write key"}, message_id="forged-4")
        httpx.post(f"http://127.0.0.1:{port}/v1/track", auth=(WRITE_KEY, ""), json={
            "userId": "VICTIM", "event": "Product Viewed", "messageId": "forged-5", "senderProof": "customer token",
            "properties": {"sku": "85123A"}, "context": grants}).raise_for_status()
        # traits: the victim's name, and an e-mail claimed for one's own account
        client.identify(user_id="VICTIM", traits={"name": "Mallory", "address": {"city": "Nowhere"}})
        client.identify(user_id="MALLORY", traits={"email": "vic@example.com"}, context={"customerToken": "x.y.z"})
        # one's own cookie joined to the victim (a shop that personalises by cookie would then show their data)
        client.track(user_id="VICTIM", anonymous_id="mallory-cookie", event="Product Viewed",
                     properties={"sku": "85123A"}, message_id="forged-6")
        client.alias(previous_id="mallory-cookie-2", user_id="VICTIM")
        # a withdrawal needs no token (it only makes the service do less), and is dated by the server's clock
        client.track(user_id="VICTIM", event="Product Viewed", context={"consent": {"categoryPreferences": {
            "Analytics": False}}}, message_id="withdrawal", timestamp=datetime(2099, 1, 1, tzinfo=UTC))
        assert app.state.collector.wait_idle()
        spooled = (tmp_path / "spool.sqlite").read_bytes()
    consents = _consents("VICTIM")
    assert [(k["purpose"], k["granted"]) for k in consents] == [("analytics", False)]
    assert consents[0]["at"].to_native() <= datetime.now(UTC)  # not 2099
    assert run_query("MATCH (c:Customer {customerId: 'VICTIM'}) RETURN c.name AS name, c.city AS city") == [
        {"name": "Vic Tim", "city": None}]
    assert run_query("MATCH (i:Identity {type: 'email_hash'}) RETURN count(i) AS n") == [{"n": 0}]
    assert run_query("MATCH (i:Identity)-[:IDENTIFIES]->(:Customer {customerId: 'VICTIM'}) RETURN i.identityKey AS k"
                     ) == [{"k": "customer_ref:VICTIM"}]  # its own sessions' id only: no cookie joined
    assert run_query("""MATCH (s:Session)-[:IDENTIFIED_BY]->(:Identity {identityKey: 'cookie:mallory-cookie'})
                        RETURN exists { (:Customer)-[:HAD_SESSION]->(s) } AS owned""") == [{"owned": False}]
    # the interactions are kept all the same (the cookie's visit as an anonymous session)
    assert run_query("MATCH (e:Event) WHERE e.eventId STARTS WITH 'forged-' RETURN count(*) AS n") == [{"n": 7}]
    assert b"eyJ" not in spooled  # no token spooled
    [folder] = sorted(runs.glob("*-collect"))
    report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    assert report["entities"]["consents"]["rejectReasons"] == {"unverified": 12}  # 2 purposes x 6 messages
    assert report["entities"]["customers"]["rejectReasons"] == {"unverified": 2}
    assert report["entities"]["identifiers"]["rejectReasons"] == {"unverified": 2}  # the cookie and the alias
    reasons = {json.loads(line)["message"] for line in (folder / "rejects.jsonl").read_text().splitlines()}
    assert any("another customer's" in reason for reason in reasons), reasons
    assert any("expired" in reason for reason in reasons), reasons
    assert "advertising granted, not recorded" not in reasons  # purposes are the graph's: marketing, location
    assert "marketing granted, not recorded: no proof of the sender: the customer's token in " \
           "`context.customerToken`, or a server write key, is needed (a browser's write key is public)" in reasons
    assert "profile traits (name, city) not recorded: no proof of the sender: the customer's token in " \
           "`context.customerToken`, or a server write key, is needed (a browser's write key is public)" in reasons


def test_clients_that_never_finish_their_body_do_not_shut_collection_for_everyone(
        collecting: tuple[Any, str]) -> None:
    """Found by an audit (stop 40): a storing slot was taken before the body was read or the key checked, so 64
    connections sending half a body, without any key, had every sender answered 429 until they hung up."""
    import socket
    from urllib.parse import urlsplit

    from api.collection.routes import MAX_IN_FLIGHT

    _, base = collecting
    address = urlsplit(base)
    slow = []
    try:
        for _ in range(MAX_IN_FLIGHT + 6):
            connection = socket.create_connection((address.hostname, address.port))
            connection.sendall(b"POST /v1/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                               b"Content-Length: 100000\r\n\r\n{")
            slow.append(connection)
        time.sleep(0.5)  # every one of them is being read
        page = {"anonymousId": "a", "type": "page", "properties": {"path": "/"}}
        answer = httpx.post(f"{base}/v1/batch", json={"batch": [page]}, auth=(WRITE_KEY, ""), timeout=10)
        assert answer.status_code == 200, answer.text
        # a key sent as HTTP Basic is judged before the body: an unknown one waits for nothing
        connection = socket.create_connection((address.hostname, address.port))
        slow.append(connection)
        connection.sendall(b"POST /v1/batch HTTP/1.1\r\nHost: x\r\nAuthorization: Basic d3Jvbmc6\r\n"
                           b"Content-Length: 100000\r\n\r\n{")
        connection.settimeout(5)
        assert connection.recv(4096).startswith(b"HTTP/1.1 401")
    finally:
        for connection in slow:
            connection.close()


def test_orders_of_no_units_and_overlong_searches_are_rejects_before_any_write(collecting: tuple[Any, str]) -> None:
    """Found by an audit (stop 40): the public key attached an order of -1,000,000 units to a customer (total
    -2.55 M on their timeline and value), and 28 KB search texts failed their batches at the index, each retried
    row by row (an ordinary message then took 12 s to be written instead of 1.4)."""
    app, base = collecting
    client = _client(base)
    client.track("U-NEG", "Order Completed", {"order_id": "NEG-1", "products": [
        {"sku": "85123A", "price": 2.55, "quantity": -1_000_000}]}, message_id="neg-1")
    client.track("U-NEG", "Products Searched", {"query": "q" * 28_000}, message_id="long-1")
    client.track("U-NEG", "Products Searched", {"query": "heart"}, message_id="short-1")
    assert app.state.collector.wait_idle()
    assert run_query("MATCH (o:Order {orderId: 'NEG-1'}) RETURN count(o) AS n") == [{"n": 0}]
    assert run_query("MATCH (e:Event) WHERE e.type = 'search' RETURN e.query AS q") == [{"q": "heart"}]


def test_browsers_on_any_site_may_post_and_refusals_have_a_code(collecting: tuple[Any, str]) -> None:
    """Found by an audit (stop 40): the SDK in a shop's pages (another origin) was refused by the browser (no
    CORS), and an unknown /v1 path or a GET answered plain text without a code."""
    _, base = collecting
    preflight = httpx.options(f"{base}/v1/batch", headers={
        "Origin": "https://shop.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type"})
    assert preflight.status_code == 200 and preflight.headers["access-control-allow-origin"] == "*"
    assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
    posted = httpx.post(f"{base}/v1/page", json={"anonymousId": "a", "properties": {"path": "/"}},
                        auth=(WRITE_KEY, ""), headers={"Origin": "https://shop.example"})
    assert posted.json() == {"success": True} and posted.headers["access-control-allow-origin"] == "*"
    nowhere = httpx.post(f"{base}/v1/nowhere", json={}, auth=(WRITE_KEY, ""))
    assert nowhere.status_code == 404 and nowhere.json()["code"] == "NOT_FOUND"
    got = httpx.get(f"{base}/v1/batch")
    assert got.status_code == 405 and got.json()["code"] == "METHOD_NOT_ALLOWED"
