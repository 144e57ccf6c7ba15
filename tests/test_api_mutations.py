"""Mutations over real HTTP, checked in the graph itself: events, check-ins, responses, consent, erasure;
and the roles they need."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from test_api_support import ADMIN, READER, WRITER, codes, data, make_app, post, seed

from graph_model import run_query
from graph_model.settings import Settings

TRACK = """mutation($input: TrackEventInput!) { trackEvent(input: $input) {
  eventId type sessionId customerId duplicate at } }"""


@pytest.fixture
def api(graph: Settings) -> Iterator[TestClient]:
    """A client on a freshly seeded graph (mutations change it)."""
    seed(graph)
    with TestClient(make_app(graph)) as client:
        yield client


def one(query: str, **params: object) -> object:
    return next(iter(run_query(query, params)[0].values()))


def test_track_event_writes_session_event_chain_and_product(api: TestClient) -> None:
    first = {"type": "PRODUCT_VIEW", "sessionId": "WEB-9", "channel": "WEB", "eventId": "EV-1", "customerId": "C1",
             "productSku": "P3", "at": "2025-05-01T10:00:00Z", "page": "/p/P3",
             "identity": {"type": "cookie", "value": "ck-new"}}
    payload = data(api, TRACK, {"input": first}, key=WRITER)["trackEvent"]
    assert payload == {"eventId": "EV-1", "type": "PRODUCT_VIEW", "sessionId": "WEB-9", "customerId": "C1",
                       "duplicate": False, "at": "2025-05-01T10:00:00+00:00"}
    second = {**first, "type": "ADD_TO_CART", "eventId": "EV-2", "at": "2025-05-01T10:00:30Z", "quantity": 2}
    data(api, TRACK, {"input": second}, key=WRITER)
    row = run_query("""MATCH (c:Customer {customerId: 'C1'})-[:HAD_SESSION]->(s:Session {sessionId: 'WEB-9'})
                       -[:CONTAINS]->(e1:Event {eventId: 'EV-1'})-[n:NEXT]->(e2:Event {eventId: 'EV-2'})
                       MATCH (e1)-[:ABOUT_PRODUCT]->(p:Product), (s)-[:IDENTIFIED_BY]->(i:Identity)
                       RETURN s.channel AS channel, e2.type AS type, e2.quantity AS qty, n.gapSeconds AS gap,
                              p.sku AS sku, i.identityKey AS identity""")
    assert row == [{"channel": "web", "type": "add_to_cart", "qty": 2, "gap": 30, "sku": "P3",
                    "identity": "cookie:ck-new"}]
    again = data(api, TRACK, {"input": first}, key=WRITER)["trackEvent"]  # a retried request
    assert again["duplicate"] is True and one("MATCH (e:Event {eventId: 'EV-1'}) RETURN count(e)") == 1
    timeline = data(api, '{ customer(id: "C1") { engagementHistory(first: 1) { edges { node { id } } } } }')
    assert timeline["customer"]["engagementHistory"]["edges"][0]["node"]["id"] == "WEB-9"


def test_search_purchase_and_store_check_in(api: TestClient) -> None:
    search = {"type": "SEARCH", "sessionId": "APP-1", "channel": "APP", "query": "  Two   PERSON Tent ",
              "resultsCount": 7, "identity": {"type": "cookie", "value": "ck-ada"}}
    payload = data(api, TRACK, {"input": search}, key=WRITER)["trackEvent"]
    assert payload["customerId"] == "C1"  # the cookie resolves to the customer
    assert one("MATCH (:Event)-[:SEARCHED]->(q:SearchQuery) RETURN q.text") == "two person tent"
    assert one("MATCH (:Customer {customerId: 'C1'})-[:HAD_SESSION]->(s:Session {sessionId: 'APP-1'}) "
               "RETURN count(s)") == 1
    purchase = {"type": "PURCHASE", "sessionId": "APP-1", "channel": "APP", "orderId": "O1", "customerId": "C1"}
    data(api, TRACK, {"input": purchase}, key=WRITER)
    assert one("MATCH (:Event {type: 'purchase'})-[:PLACED_ORDER]->(o:Order) RETURN o.orderId") == "O1"
    check_in = {"type": "STORE_CHECK_IN", "eventId": "VISIT-7", "customerId": "C2", "storeId": "S2"}
    data(api, TRACK, {"input": check_in}, key=WRITER)
    assert one("MATCH (:Customer {customerId: 'C2'})-[:MADE_VISIT]->(v:Visit)-[:TO_STORE]->(:Store {storeId: 'S2'}) "
               "RETURN v.source") == "loyalty_scan"


def test_track_event_with_an_unknown_reference_writes_nothing(api: TestClient) -> None:
    before = one("MATCH (n) RETURN count(n)")
    body = post(api, TRACK, {"input": {"type": "PRODUCT_VIEW", "sessionId": "X", "productSku": "NOPE"}},
                key=WRITER).json()
    assert body["data"] == {"trackEvent": None} and codes(body) == ["NOT_FOUND"]
    assert one("MATCH (n) RETURN count(n)") == before


def test_record_response_and_unsubscribe(api: TestClient) -> None:
    mutation = """mutation($input: RecordResponseInput!) { recordResponse(input: $input) {
      messageId customerId type at } }"""
    clicked = {"messageId": "M1", "type": "CLICKED", "at": "2025-03-03T11:00:00Z"}
    assert data(api, mutation, {"input": clicked}, key=WRITER)["recordResponse"]["customerId"] == "C1"
    data(api, mutation, {"input": clicked}, key=WRITER)  # idempotent
    assert one("MATCH (:Customer {customerId: 'C1'})-[r:RESPONDED {type: 'clicked'}]->(:Message {messageId: 'M1'}) "
               "RETURN count(r)") == 1
    data(api, mutation, {"input": {"messageId": "M1", "type": "UNSUBSCRIBED"}}, key=WRITER)
    assert one("MATCH (:Customer {customerId: 'C1'})-[:HAS_CONSENT]->(k:Consent {channel: 'email', "
               "purpose: 'marketing'}) RETURN k.granted") is False
    body = post(api, mutation, {"input": {"messageId": "NOPE", "type": "OPENED"}}, key=WRITER).json()
    assert body["data"] == {"recordResponse": None} and codes(body) == ["NOT_FOUND"]


RESPOND = """mutation($input: RecordResponseInput!) { recordResponse(input: $input) { customerId type at } }"""
SET_CONSENT = """mutation($input: SetConsentInput!) { setConsent(input: $input) { channel purpose granted updatedAt } }"""


def test_a_late_unsubscribe_never_moves_the_consent_back(api: TestClient) -> None:
    run_query("MATCH (k:Consent {consentId: 'C1|email|marketing'}) SET k.updatedAt = datetime('2025-03-10T00:00:00Z')")
    late = {"messageId": "M1", "type": "UNSUBSCRIBED", "at": "2025-03-04T08:00:00Z"}  # older than the record
    assert data(api, RESPOND, {"input": late}, key=WRITER)["recordResponse"]["type"] == "UNSUBSCRIBED"
    row = run_query("MATCH (k:Consent {consentId: 'C1|email|marketing'}) RETURN k.granted AS granted, "
                    "toString(k.updatedAt) AS at")[0]
    assert row == {"granted": True, "at": "2025-03-10T00:00:00Z"}  # the newer grant stands
    assert one("MATCH (:Customer {customerId: 'C1'})-[r:RESPONDED {type: 'unsubscribed'}]->() RETURN count(r)") == 1
    newer = {"messageId": "M1", "type": "UNSUBSCRIBED", "at": "2025-03-11T08:00:00Z"}
    data(api, RESPOND, {"input": newer}, key=WRITER)
    row = run_query("MATCH (k:Consent {consentId: 'C1|email|marketing'}) RETURN k.granted AS granted, "
                    "toString(k.updatedAt) AS at")[0]
    assert row == {"granted": False, "at": "2025-03-11T08:00:00Z"}
    details = run_query("MATCH (a:AuditEntry {action: 'consent'}) RETURN a.detail AS detail, a.actor AS actor "
                        "ORDER BY a.at")
    assert details == [
        {"detail": "channel=email purpose=marketing granted=false superseded", "actor": "writer:test…"},
        {"detail": "channel=email purpose=marketing granted=false", "actor": "writer:test…"}]


def test_set_consent_goes_through_the_one_writer_and_is_audited(api: TestClient) -> None:
    data(api, SET_CONSENT, {"input": {"customerId": "C2", "channel": "web", "purpose": "personalisation",
                                      "granted": False}}, key=WRITER)
    row = run_query("MATCH (:Customer {customerId: 'C2'})-[:HAS_CONSENT]->(k:Consent) "
                    "RETURN k.consentId AS id, k.granted AS granted")
    assert row == [{"id": "C2|web|personalisation", "granted": False}]
    [entry] = data(api, '{ auditLog(customerId: "C2", action: "consent") { actor action subject detail } }',
                   key=ADMIN)["auditLog"]
    assert entry["detail"] == "channel=web purpose=personalisation granted=false" and entry["actor"] == "writer:test…"
    assert entry["subject"] and "C2" not in entry["subject"]  # the keyed hash, never the id


def test_set_consent(api: TestClient) -> None:
    mutation = """mutation($input: SetConsentInput!) { setConsent(input: $input) { channel purpose granted updatedAt } }"""
    consent = data(api, mutation, {"input": {"customerId": "C2", "channel": "sms", "purpose": "marketing",
                                             "granted": True}}, key=WRITER)["setConsent"]
    assert (consent["channel"], consent["purpose"], consent["granted"]) == ("sms", "marketing", True)
    data(api, mutation, {"input": {"customerId": "C2", "channel": "sms", "purpose": "marketing", "granted": False}},
         key=WRITER)
    consents = data(api, '{ customer(id: "C2") { consents { channel granted } } }')["customer"]["consents"]
    assert consents == [{"channel": "sms", "granted": False}]
    bad = post(api, mutation, {"input": {"customerId": "C2", "channel": "pigeon", "purpose": "marketing",
                                         "granted": True}}, key=WRITER).json()
    assert codes(bad) == ["BAD_USER_INPUT"]
    unknown = post(api, mutation, {"input": {"customerId": "NOPE", "channel": "sms", "purpose": "marketing",
                                             "granted": True}}, key=WRITER).json()
    assert codes(unknown) == ["NOT_FOUND"]


ERASE = """mutation($id: ID!) { eraseCustomer(customerId: $id) { customerId erased alreadyErased identitiesRemoved
  consentsRemoved sessionsScrubbed visitsDetached } }"""


def test_erase_customer_removes_personal_data_and_keeps_anonymous_history(
        api: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUSTOMER_GRAPH_RUNS_DIR", str(tmp_path))  # where erasure purges reject files
    orders_before = one("MATCH (o:Order) RETURN count(o)")
    payload = data(api, ERASE, {"id": "C1"}, key=ADMIN)["eraseCustomer"]
    assert payload == {"customerId": "C1", "erased": True, "alreadyErased": False, "identitiesRemoved": 2,
                       "consentsRemoved": 1, "sessionsScrubbed": 1, "visitsDetached": 1}
    assert one("MATCH (c:Customer {customerId: 'C1'}) RETURN count(c)") == 0
    assert one("MATCH (o:Order) RETURN count(o)") == orders_before  # anonymous history stays, detached
    assert one("MATCH (o:Order) WHERE NOT EXISTS { (o)<-[:PLACED]-() } RETURN count(o)") == orders_before
    assert one("MATCH (i:Identity) RETURN count(i)") == 0
    assert one("MATCH (n) WHERE any(k IN keys(n) WHERE n[k] IS :: STRING AND (n[k] CONTAINS 'Ada' OR "
               "n[k] CONTAINS '-ada' OR n[k] CONTAINS '07700')) RETURN count(n)") == 0
    assert one("MATCH (a:AuditEntry {action: 'erase'}) RETURN a.actor") == "admin:test…"
    gone = post(api, '{ customer(id: "C1") { id } }').json()
    assert codes(gone) == ["NOT_FOUND"]
    for identity in ({"type": "cookie", "value": "ck-ada"}, {"type": "email_hash", "value": "hash-ada"},
                     {"type": "customer_ref", "value": "C1"}):
        body = post(api, "query($i: IdentityInput) { customer(identity: $i) { id } }", {"i": identity}).json()
        assert body["data"] == {"customer": None} and codes(body) == ["NOT_FOUND"], identity
    again = data(api, ERASE, {"id": "C1"}, key=ADMIN)["eraseCustomer"]
    assert again == {"customerId": "C1", "erased": True, "alreadyErased": True, "identitiesRemoved": 0,
                     "consentsRemoved": 0, "sessionsScrubbed": 0, "visitsDetached": 0}
    never = post(api, ERASE, {"id": "NEVER"}, key=ADMIN).json()
    assert never["data"] == {"eraseCustomer": None} and codes(never) == ["NOT_FOUND"]


def test_track_event_for_an_erased_customer_or_identifier_is_refused_and_writes_nothing(
        api: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUSTOMER_GRAPH_RUNS_DIR", str(tmp_path))
    data(api, ERASE, {"id": "C1"}, key=ADMIN)
    before = one("MATCH (n) RETURN count(n)")
    for extra in ({"customerId": "C1"}, {"identity": {"type": "cookie", "value": "ck-ada"}},
                  {"identity": {"type": "email_hash", "value": "hash-ada"}}):
        event = {"type": "PAGE_VIEW", "sessionId": "WEB-ERASED", "page": "/", **extra}
        body = post(api, TRACK, {"input": event}, key=WRITER).json()
        assert body["data"] == {"trackEvent": None} and codes(body) == ["NOT_FOUND"], extra
    check_in = {"type": "STORE_CHECK_IN", "customerId": "C1", "storeId": "S1"}
    assert codes(post(api, TRACK, {"input": check_in}, key=WRITER).json()) == ["NOT_FOUND"]
    assert one("MATCH (n) RETURN count(n)") == before
    assert one("MATCH (i:Identity {identityKey: 'cookie:ck-ada'}) RETURN count(i)") == 0
    # an identifier nobody erased is still tracked
    fresh = {"type": "PAGE_VIEW", "sessionId": "WEB-FRESH", "identity": {"type": "cookie", "value": "ck-new"}}
    assert data(api, TRACK, {"input": fresh}, key=WRITER)["trackEvent"]["duplicate"] is False


def test_mutations_need_the_right_role(api: TestClient) -> None:
    before = one("MATCH (n) RETURN count(n)")
    body = post(api, TRACK, {"input": {"type": "PAGE_VIEW", "sessionId": "S-R"}}, key=READER).json()
    assert body["data"] == {"trackEvent": None} and codes(body) == ["FORBIDDEN"]
    erase = post(api, 'mutation { eraseCustomer(customerId: "C1") { erased } }', key=WRITER).json()
    assert erase["data"] == {"eraseCustomer": None} and codes(erase) == ["FORBIDDEN"]
    assert one("MATCH (n) RETURN count(n)") == before
    assert one("MATCH (c:Customer {customerId: 'C1'}) RETURN c.name") == "Ada Lovelace"
