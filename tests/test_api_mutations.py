"""Mutations over real HTTP, checked in the graph itself: events, check-ins, responses, consent, erasure;
and the roles they need."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx2 as httpx
import pytest
from starlette.testclient import TestClient
from test_api_support import ADMIN, GRAPHQL_RESPONSE, READER, WRITER, codes, data, make_app, post, seed

from api.auth import Role, key_label
from graph_model import run_query
from graph_model.connection import execute_write
from graph_model.settings import Settings
from loaders.writers.events import write_events

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


def test_a_time_utc_cannot_hold_is_bad_input_not_an_internal_error(api: TestClient) -> None:
    """Found by hand (stop 37): year 0 once in UTC made trackEvent answer INTERNAL_SERVER_ERROR."""
    event = {"type": "PAGE_VIEW", "sessionId": "WEB-Y0", "eventId": "EV-Y0", "page": "/"}
    for at in ("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"):
        response = post(api, TRACK, {"input": {**event, "at": at}}, key=WRITER)
        body = response.json()
        assert codes(body) == ["BAD_USER_INPUT"] and "out of range once in UTC" in body["errors"][0]["message"], body
    assert one("MATCH (e:Event {eventId: 'EV-Y0'}) RETURN count(e)") == 0
    edge = {"input": {**event, "at": "0001-01-01T00:00:00Z"}}  # the earliest time UTC holds is a time like any other
    assert data(api, TRACK, edge, key=WRITER)["trackEvent"]["at"] == "0001-01-01T00:00:00+00:00"


def test_an_interaction_dated_in_the_future_is_bad_input(api: TestClient) -> None:
    """Found by the stop-37 audit: trackEvent took `at: 2999-…`, an entry that would top every timeline and
    never age out under retention; the loaders now refuse the same (tests/test_loaders_rejects.py)."""
    event = {"type": "PAGE_VIEW", "sessionId": "WEB-F", "eventId": "EV-F", "page": "/"}
    soon = datetime.now(UTC) + timedelta(hours=23)  # within the clock tolerance: accepted
    for at in ("2999-01-01T00:00:00Z", (datetime.now(UTC) + timedelta(days=2)).isoformat()):
        body = post(api, TRACK, {"input": {**event, "at": at}}, key=WRITER).json()
        assert codes(body) == ["BAD_USER_INPUT"] and "is in the future" in body["errors"][0]["message"], body
    assert one("MATCH (e:Event {eventId: 'EV-F'}) RETURN count(e)") == 0
    assert data(api, TRACK, {"input": {**event, "at": soon.isoformat()}}, key=WRITER)["trackEvent"]["at"]
    respond = "mutation($input: RecordResponseInput!) { recordResponse(input: $input) { type } }"
    response = {"input": {"messageId": "M1", "type": "OPENED", "at": "2999-01-01T00:00:00Z"}}
    assert codes(post(api, respond, response, key=WRITER).json()) == ["BAD_USER_INPUT"]


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


def test_record_response_and_the_loaders_write_one_response_the_same_way(api: TestClient) -> None:
    """recordResponse and a loaded responses file share one writer: one RESPONDED per message, type and time,
    its text the latest given, the API's idempotency key kept."""
    from loaders.writers.conversation import write_responses

    mutation = """mutation($input: RecordResponseInput!, $key: String) {
      recordResponse(input: $input, idempotencyKey: $key) { type } }"""
    at = "2025-03-04T08:00:00Z"
    data(api, mutation, {"input": {"messageId": "M1", "type": "REPLIED", "at": at, "text": "yes"}, "key": "k-1"},
         key=WRITER)
    data(api, mutation, {"input": {"messageId": "M1", "type": "REPLIED", "at": at, "text": "yes, Tuesday"}},
         key=WRITER)
    assert one("MATCH (:Customer {customerId: 'C1'})-[r:RESPONDED {type: 'replied'}]->(:Message {messageId: 'M1'}) "
               "WHERE r.at = datetime($at) RETURN collect(r.text)", at=at) == ["yes, Tuesday"]
    execute_write(write_responses, [{"customerId": "C1", "messageId": "M1", "type": "replied", "text": "Tuesday 10:00",
                                     "at": datetime.fromisoformat(at)}])
    rows = run_query("""MATCH (:Customer {customerId: 'C1'})-[r:RESPONDED {type: 'replied'}]->(:Message {messageId: 'M1'})
                        WHERE r.at = datetime($at) RETURN r.text AS text, r.idempotencyKey AS key""", {"at": at})
    assert rows == [{"text": "Tuesday 10:00", "key": "k-1"}]


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
        {"detail": "channel=email purpose=marketing granted=false superseded", "actor": key_label(Role.writer, WRITER)},
        {"detail": "channel=email purpose=marketing granted=false", "actor": key_label(Role.writer, WRITER)}]


def test_set_consent_goes_through_the_one_writer_and_is_audited(api: TestClient) -> None:
    data(api, SET_CONSENT, {"input": {"customerId": "C2", "channel": "web", "purpose": "personalisation",
                                      "granted": False}}, key=WRITER)
    row = run_query("MATCH (:Customer {customerId: 'C2'})-[:HAS_CONSENT]->(k:Consent) "
                    "RETURN k.consentId AS id, k.granted AS granted")
    assert row == [{"id": "C2|web|personalisation", "granted": False}]
    [entry] = data(api, '{ auditLog(customerId: "C2", action: "consent") { actor action subject detail } }',
                   key=ADMIN)["auditLog"]
    assert entry["detail"] == "channel=web purpose=personalisation granted=false" and entry["actor"] == key_label(Role.writer, WRITER)
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
    assert one("MATCH (a:AuditEntry {action: 'erase'}) RETURN a.actor") == key_label(Role.admin, ADMIN)
    assert ADMIN[:4] not in key_label(Role.admin, ADMIN)  # no part of the key in the trail (until stop 40 its first 4)
    gone = post(api, '{ customer(id: "C1") { id } }').json()
    assert codes(gone) == ["NOT_FOUND"]
    for identity in ({"type": "cookie", "value": "ck-ada"}, {"type": "email_hash", "value": "hash-ada"},
                     {"type": "customer_ref", "value": "C1"}):
        body = post(api, "query($i: IdentityInput) { customer(identity: $i) { id } }", {"i": identity}).json()
        assert body["data"] == {"customer": None} and codes(body) == ["NOT_FOUND"], identity
    again = data(api, ERASE, {"id": " C1 "}, key=ADMIN)["eraseCustomer"]  # pasted with spaces: the same id
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


# ------------------------------------------------------------------------------------ idempotent writes

EVENT = {"type": "PRODUCT_VIEW", "sessionId": "WEB-ID", "channel": "WEB", "eventId": "EV-ID", "customerId": "C1",
         "productSku": "P3", "at": "2025-05-01T10:00:00Z", "page": "/p/P3", "quantity": 1}


def event_state() -> list[dict[str, object]]:
    """Every event with its session, customer, product and NEXT successor (what a conflict must not change)."""
    return run_query("""MATCH (s:Session)-[:CONTAINS]->(e:Event)
                        OPTIONAL MATCH (e)-[:ABOUT_PRODUCT]->(p:Product)
                        OPTIONAL MATCH (e)-[n:NEXT]->(next:Event)
                        RETURN s.sessionId AS session, [(c:Customer)-[:HAD_SESSION]->(s) | c.customerId] AS customers,
                               e.eventId AS event, e.type AS type, toString(e.at) AS at, e.page AS page,
                               e.quantity AS quantity, p.sku AS sku, next.eventId AS next, n.gapSeconds AS gap
                        ORDER BY event""")


def test_a_retried_event_answers_the_stored_content_and_writes_nothing(api: TestClient) -> None:
    first = data(api, TRACK, {"input": EVENT}, key=WRITER)["trackEvent"]
    assert first["duplicate"] is False
    before = (event_state(), one("MATCH (n) RETURN count(n)"), one("MATCH ()-[r]->() RETURN count(r)"))
    retry = {key: value for key, value in EVENT.items() if key != "at"}  # no time: the stored one is answered
    again = data(api, TRACK, {"input": retry}, key=WRITER)["trackEvent"]
    assert again == {**first, "duplicate": True, "at": "2025-05-01T10:00:00+00:00"}
    assert data(api, TRACK, {"input": EVENT}, key=WRITER)["trackEvent"]["duplicate"] is True
    assert (event_state(), one("MATCH (n) RETURN count(n)"), one("MATCH ()-[r]->() RETURN count(r)")) == before


@pytest.mark.parametrize("change", [
    {"type": "ADD_TO_CART"}, {"sessionId": "WEB-OTHER"}, {"customerId": "C2"}, {"productSku": "P4"},
    {"at": "2025-05-01T10:00:01Z"}, {"page": "/p/other"}, {"quantity": 3}, {"storeId": "S1"},
    {"type": "STORE_CHECK_IN", "storeId": "S1"},
], ids=lambda change: "+".join(change))
def test_the_same_event_id_with_other_content_is_a_conflict_and_writes_nothing(
        api: TestClient, change: dict[str, str]) -> None:
    data(api, TRACK, {"input": EVENT}, key=WRITER)
    before = (event_state(), one("MATCH (n) RETURN count(n)"), one("MATCH ()-[r]->() RETURN count(r)"))
    body = post(api, TRACK, {"input": {**EVENT, **change}}, key=WRITER).json()
    assert body["data"] == {"trackEvent": None} and codes(body) == ["CONFLICT"], body
    assert (event_state(), one("MATCH (n) RETURN count(n)"), one("MATCH ()-[r]->() RETURN count(r)")) == before


async def _concurrently(app: object, query: str, variables: list[dict[str, object]]) -> list[dict[str, object]]:
    """POST every request at once (asyncio.gather over the ASGI app); the response bodies."""
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            responses = await asyncio.gather(*(
                client.post("/graphql", json={"query": query, "variables": v},
                            headers={"X-API-Key": WRITER, "Accept": GRAPHQL_RESPONSE}) for v in variables))
    finally:
        await app.state.db.close()  # type: ignore[attr-defined]
    return [response.json() for response in responses]


def test_concurrent_retries_write_one_event_and_all_answer(graph: Settings) -> None:
    seed(graph)
    bodies = asyncio.run(_concurrently(make_app(graph), TRACK, [{"input": EVENT}] * 10))
    assert [codes(body) for body in bodies] == [[]] * 10, bodies
    answers = sorted(body["data"]["trackEvent"]["duplicate"] for body in bodies)
    assert answers == [False] + [True] * 9
    assert one("MATCH (e:Event {eventId: 'EV-ID'}) RETURN count(e)") == 1
    assert one("MATCH (:Session {sessionId: 'WEB-ID'})-[r:CONTAINS]->(:Event {eventId: 'EV-ID'}) RETURN count(r)") == 1
    assert one("MATCH (:Customer)-[r:HAD_SESSION]->(:Session {sessionId: 'WEB-ID'}) RETURN count(r)") == 1
    assert one("MATCH (e:Event {eventId: 'EV-ID'}) RETURN e.claimToken") is None


def test_concurrent_events_of_one_session_make_one_time_ordered_chain(graph: Settings) -> None:
    seed(graph)
    events = [{"input": {**EVENT, "eventId": f"EV-{i}", "at": f"2025-05-01T10:00:{59 - i:02d}Z"}} for i in range(10)]
    bodies = asyncio.run(_concurrently(make_app(graph), TRACK, events))
    assert [codes(body) for body in bodies] == [[]] * 10, bodies
    chain = run_query("""MATCH p = (first:Event)-[:NEXT*]->(last:Event)
                         WHERE NOT ()-[:NEXT]->(first) AND NOT (last)-[:NEXT]->() AND first.eventId STARTS WITH 'EV-'
                         RETURN [e IN nodes(p) | e.eventId] AS ids""")
    assert chain == [{"ids": [f"EV-{i}" for i in range(9, -1, -1)]}]


def test_a_session_of_another_customer_is_not_re_attached(api: TestClient) -> None:
    data(api, TRACK, {"input": {**EVENT, "sessionId": "SS1"}}, key=WRITER)  # SS1 is C1's (seeded)
    before = (event_state(), one("MATCH (n) RETURN count(n)"))
    intruder = {**EVENT, "sessionId": "SS1", "eventId": "EV-INTRUDER", "customerId": "C2"}
    body = post(api, TRACK, {"input": intruder}, key=WRITER).json()
    assert body["data"] == {"trackEvent": None} and codes(body) == ["CONFLICT"]
    assert one("MATCH (c:Customer)-[:HAD_SESSION]->(:Session {sessionId: 'SS1'}) RETURN collect(c.customerId)") == ["C1"]
    assert one("MATCH (e:Event {eventId: 'EV-INTRUDER'}) RETURN count(e)") == 0
    assert (event_state(), one("MATCH (n) RETURN count(n)")) == before
    anonymous = {**intruder, "customerId": None, "eventId": "EV-ANON"}  # naming no one attaches no one
    assert data(api, TRACK, {"input": anonymous}, key=WRITER)["trackEvent"]["duplicate"] is False
    assert one("MATCH (c:Customer)-[:HAD_SESSION]->(:Session {sessionId: 'SS1'}) RETURN collect(c.customerId)") == ["C1"]


LATE = [("L-1", "2025-05-01T10:00:00.250Z"), ("L-3", "2025-05-01T10:00:02.750Z"), ("L-4", "2025-05-01T10:00:04Z"),
        ("L-2", "2025-05-01T10:00:01.500Z"),  # late: between L-1 and L-3
        ("L-0", "2025-05-01T09:59:59Z")]  # late: before the first


def chain_of(session_id: str) -> list[tuple[str, float | None]]:
    """A session's events along NEXT from its first: (event id without prefix, gap to the next)."""
    rows = run_query("""MATCH (:Session {sessionId: $s})-[:CONTAINS]->(first:Event) WHERE NOT ()-[:NEXT]->(first)
                        MATCH p = (first)-[:NEXT*0..]->(last:Event) WHERE NOT (last)-[:NEXT]->()
                        RETURN [e IN nodes(p) | e.eventId] AS ids, [r IN relationships(p) | r.gapSeconds] AS gaps""",
                     {"s": session_id})
    assert len(rows) == 1, rows  # one chain, no branch
    ids, gaps = rows[0]["ids"], rows[0]["gaps"]
    return [(event_id.split(":")[-1], gap) for event_id, gap in zip(ids, [*gaps, None], strict=True)]


def test_late_events_land_in_time_order_exactly_as_the_loader_puts_them(api: TestClient) -> None:
    for event_id, at in LATE:
        data(api, TRACK, {"input": {**EVENT, "sessionId": "API", "eventId": f"api:{event_id}", "at": at}}, key=WRITER)
    run_query("CREATE (:Session {sessionId: 'LOADED', channel: 'web', startedAt: datetime('2025-05-01T09:59:59Z')})")
    for event_id, at in LATE:  # the loader's writer, one late event per batch like the API
        row = {"eventId": f"loaded:{event_id}", "sessionId": "LOADED", "type": "product_view",
               "at": datetime.fromisoformat(at), "sku": "P3", "categoryId": None, "orderId": None, "searchText": None,
               "page": "/p/P3", "query": None, "resultsCount": None, "quantity": 1}
        execute_write(lambda tx, r=row: write_events(tx, [r]))
    assert chain_of("API") == [("L-0", 1.25), ("L-1", 1.25), ("L-2", 1.25), ("L-3", 1.25), ("L-4", None)]
    assert chain_of("API") == chain_of("LOADED")
    assert one("MATCH (s:Session {sessionId: 'API'}) RETURN [toString(s.startedAt), toString(s.endedAt)]") == [
        "2025-05-01T09:59:59Z", "2025-05-01T10:00:04Z"]


CHECK_IN = {"type": "STORE_CHECK_IN", "eventId": "VISIT-ID", "customerId": "C2", "storeId": "S2",
            "at": "2025-05-02T09:00:00Z"}


def test_a_check_in_follows_the_same_event_id_rules(api: TestClient) -> None:
    assert data(api, TRACK, {"input": CHECK_IN}, key=WRITER)["trackEvent"]["duplicate"] is False
    retry = {key: value for key, value in CHECK_IN.items() if key != "at"}
    again = data(api, TRACK, {"input": retry}, key=WRITER)["trackEvent"]
    assert again["duplicate"] is True and again["at"] == "2025-05-02T09:00:00+00:00"
    for change in ({"storeId": "S1"}, {"customerId": "C3"}, {"at": "2025-05-02T09:00:05Z"},
                   {"type": "PAGE_VIEW", "sessionId": "WEB-ID"}):
        body = post(api, TRACK, {"input": {**CHECK_IN, **change}}, key=WRITER).json()
        assert body["data"] == {"trackEvent": None} and codes(body) == ["CONFLICT"], change
    assert one("MATCH (c:Customer)-[:MADE_VISIT]->(v:Visit {visitId: 'VISIT-ID'})-[:TO_STORE]->(s:Store) "
               "RETURN [c.customerId, s.storeId, toString(v.arrivedAt), v.source]") == [
        "C2", "S2", "2025-05-02T09:00:00Z", "loyalty_scan"]
    assert one("MATCH (v:Visit {visitId: 'VISIT-ID'}) RETURN count(v)") == 1
    assert one("MATCH (e:Event {eventId: 'VISIT-ID'}) RETURN count(e)") == 0


RESPOND_KEYED = """mutation($input: RecordResponseInput!, $key: String) {
  recordResponse(input: $input, idempotencyKey: $key) { messageId customerId type at replayed } }"""


def test_record_response_replays_an_idempotency_key(api: TestClient) -> None:
    clicked = {"messageId": "M1", "type": "CLICKED", "text": "yes"}  # no time: the server's, once
    first = data(api, RESPOND_KEYED, {"input": clicked, "key": "k-1"}, key=WRITER)["recordResponse"]
    assert first["replayed"] is False
    again = data(api, RESPOND_KEYED, {"input": clicked, "key": "k-1"}, key=WRITER)["recordResponse"]
    assert again == {**first, "replayed": True}
    assert one("MATCH (:Customer)-[r:RESPONDED {type: 'clicked'}]->(:Message) RETURN count(r)") == 1
    for change in ({"type": "OPENED"}, {"text": "no"}, {"at": "2025-03-03T11:00:00Z"}):
        body = post(api, RESPOND_KEYED, {"input": {**clicked, **change}, "key": "k-1"}, key=WRITER).json()
        assert body["data"] == {"recordResponse": None} and codes(body) == ["CONFLICT"], change
    assert one("MATCH (:Customer)-[r:RESPONDED]->(:Message) RETURN count(r)") == 3  # 2 seeded + 1
    unsubscribe = {"messageId": "M1", "type": "UNSUBSCRIBED"}
    data(api, RESPOND_KEYED, {"input": unsubscribe, "key": "k-2"}, key=WRITER)
    data(api, RESPOND_KEYED, {"input": unsubscribe, "key": "k-2"}, key=WRITER)  # replayed: no second consent write
    assert one("MATCH (a:AuditEntry {action: 'consent'}) RETURN count(a)") == 1
    assert one("MATCH ()-[r:RESPONDED {type: 'unsubscribed'}]->() RETURN count(r)") == 1
    body = post(api, RESPOND_KEYED, {"input": {"messageId": "M1", "type": "OPENED"}, "key": ""}, key=WRITER).json()
    assert codes(body) == ["BAD_USER_INPUT"]


def test_concurrent_record_response_retries_write_once(graph: Settings) -> None:
    seed(graph)
    variables = [{"input": {"messageId": "M1", "type": "REDEEMED"}, "key": "k-same"}] * 10
    bodies = asyncio.run(_concurrently(make_app(graph), RESPOND_KEYED, variables))
    assert [codes(body) for body in bodies] == [[]] * 10, bodies
    assert sorted(body["data"]["recordResponse"]["replayed"] for body in bodies) == [False] + [True] * 9
    assert len({body["data"]["recordResponse"]["at"] for body in bodies}) == 1
    assert one("MATCH ()-[r:RESPONDED {type: 'redeemed'}]->() RETURN count(r)") == 1


def test_erasure_removes_idempotency_keys_with_the_responses(
        api: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUSTOMER_GRAPH_RUNS_DIR", str(tmp_path))
    data(api, RESPOND_KEYED, {"input": {"messageId": "M1", "type": "CLICKED"}, "key": "ada-click-1"}, key=WRITER)
    data(api, ERASE, {"id": "C1"}, key=ADMIN)
    assert one("MATCH ()-[r]->() WHERE r.idempotencyKey IS NOT NULL RETURN count(r)") == 0
    assert one("MATCH (n) WHERE any(k IN keys(n) WHERE n[k] = 'ada-click-1') RETURN count(n)") == 0


def test_an_erased_persons_session_takes_no_new_event(
        api: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUSTOMER_GRAPH_RUNS_DIR", str(tmp_path))
    data(api, ERASE, {"id": "C1"}, key=ADMIN)  # SS1 was C1's: tombstoned, kept anonymous
    before = (event_state(), one("MATCH (n) RETURN count(n)"))
    for session in ("SS1", " SS1", "SS1 "):  # spaced, it passed the tombstone check until stop 40 (an audit)
        body = post(api, TRACK, {"input": {"type": "PAGE_VIEW", "sessionId": session, "customerId": "C2",
                                           "page": "/?email=ada"}}, key=WRITER).json()
        assert body["data"] == {"trackEvent": None} and codes(body) == ["NOT_FOUND"], session
    assert (event_state(), one("MATCH (n) RETURN count(n)")) == before
