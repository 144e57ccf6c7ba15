"""The API obeys the privacy rules (graph_model.privacy) at the next read, over real HTTP on the real
database: consent decides recommendations, similar shoppers, the home location and who is contactable;
admins get the subject-access export and the audit trail; admin reads of personal fields are audited."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient
from test_api_support import ADMIN, READER, WRITER, codes, data, make_app, post, seed

from api.auth import Role, key_label
from graph_model import run_query
from graph_model.settings import Settings

SET_CONSENT = "mutation($input: SetConsentInput!) { setConsent(input: $input) { granted } }"
RECOMMENDATIONS = """query($id: ID, $first: Int, $ctx: RecommendationContextInput) { customer(id: $id) {
  recommendations(first: $first, context: $ctx) { explanation sources evidence product { sku } } } }"""
PREFETCHED = """query($id: ID) { customer(id: $id) { id
  recommendations(first: 5) { explanation sources evidence product { sku } } } }"""


@pytest.fixture
def api(graph: Settings) -> Iterator[TestClient]:
    """A client on a freshly seeded graph (the tests change consents)."""
    seed(graph)
    with TestClient(make_app(graph)) as client:
        yield client


def consent(client: TestClient, customer_id: str, purpose: str, granted: bool, channel: str = "web") -> None:
    data(client, SET_CONSENT, {"input": {"customerId": customer_id, "channel": channel, "purpose": purpose,
                                         "granted": granted}}, key=WRITER)


def recommendations(client: TestClient, customer_id: str, ctx: dict | None = None, first: int = 5) -> list[dict]:
    return data(client, RECOMMENDATIONS, {"id": customer_id, "first": first, "ctx": ctx})["customer"]["recommendations"]


# --- recommendations -----------------------------------------------------------------------------------

def test_withdrawn_personalisation_gives_non_personal_recommendations_at_the_next_read(api: TestClient) -> None:
    before = recommendations(api, "C1")
    assert before[0]["sources"] == ["PERSONAL"] and "which you bought" in before[0]["explanation"]
    consent(api, "C1", "personalisation", False)
    for recs in (recommendations(api, "C1"),
                 data(api, PREFETCHED, {"id": "C1"})["customer"]["recommendations"]):  # both query paths
        assert recs, "the non-personal fallback still recommends"
        assert all("PERSONAL" not in r["sources"] for r in recs)
        assert all("which you bought" not in r["explanation"] and r["evidence"] == [] for r in recs)
        assert all(r["explanation"].endswith("not personalised, as you asked") for r in recs)
        # popular in the segment; without personalisation the purchases (all 12 products) are not looked at
        assert [(r["product"]["sku"], r["sources"]) for r in recs] == [("P10", ["SEGMENT_POPULAR"])]
        assert recs[0]["explanation"] == ("popular with shoppers like you (Weekend campers); "
                                          "not personalised, as you asked")
    consent(api, "C1", "personalisation", True)  # a later grant on the same channel: personal again
    assert recommendations(api, "C1")[0]["sources"] == ["PERSONAL"]


def test_without_personalisation_the_context_is_used_but_not_the_session_history(api: TestClient) -> None:
    session_only = {"sessionId": "SS1"}
    assert any("CONTEXT_SESSION" in r["sources"] for r in recommendations(api, "C1", session_only, first=10))
    consent(api, "C1", "personalisation", False, channel="app")
    assert not any("CONTEXT_SESSION" in r["sources"] for r in recommendations(api, "C1", session_only, first=10))
    on_screen = recommendations(api, "C1", {"productSku": "P1", "sessionId": "SS1", "storeId": "S1"}, first=10)
    sources = {source for r in on_screen for source in r["sources"]}
    assert {"CONTEXT_PRODUCT", "CONTEXT_STORE"} <= sources and not sources & {"PERSONAL", "CONTEXT_SESSION"}
    assert all(r["explanation"].endswith("not personalised, as you asked") for r in on_screen)


def test_withdrawn_analytics_skips_the_segment_fallback(api: TestClient) -> None:
    assert recommendations(api, "C2", first=1)[0]["sources"] == ["SEGMENT_POPULAR"]
    consent(api, "C2", "analytics", False)
    recs = recommendations(api, "C2", first=1)
    assert recs[0]["sources"] == ["TRENDING"]  # C2 has no home store: the next fallback
    consent(api, "C1", "analytics", False)
    assert recommendations(api, "C1", first=1)[0]["sources"] == ["PERSONAL"]  # personalisation still permitted
    consent(api, "C1", "personalisation", False)
    assert recommendations(api, "C1", first=1)[0]["sources"] == ["STORE_POPULAR"]  # home store, not segment


MODELS = """query($id: ID) { customer(id: $id) { churnRisk pAlive expectedPurchases90d rfmSegment rfmScore
  segments { id } } }"""


def test_withdrawn_analytics_hides_the_customer_level_models_at_the_next_read(api: TestClient) -> None:
    """Retention, RFM and segments are customer-level models (docs/privacy.md): written by the last algorithms
    run, but not served from the moment the customer withdraws analytics (found by the stop-37 audit)."""
    before = data(api, MODELS, {"id": "C1"})["customer"]
    assert before["churnRisk"] == 0.25 and before["rfmSegment"] == "Champions" and len(before["segments"]) == 2
    consent(api, "C1", "analytics", False, channel="app")  # a withdrawal on any channel withdraws
    assert data(api, MODELS, {"id": "C1"})["customer"] == {
        "churnRisk": None, "pAlive": None, "expectedPurchases90d": None, "rfmSegment": None, "rfmScore": None,
        "segments": []}
    assert data(api, MODELS, {"id": "C2"})["customer"]["churnRisk"] == 0.6  # the others' are still served
    run_query("MATCH (k:Consent {consentId: 'C1|app|analytics'}) DETACH DELETE k")
    assert data(api, MODELS, {"id": "C1"})["customer"] == before


def test_evidence_naming_another_customer_is_never_returned(api: TestClient) -> None:
    run_query("MATCH (:Customer {customerId: 'C1'})-[r:RECOMMENDED {rank: 1, version: 'rec-2'}]->() "
              "SET r.evidence = ['similar:C2', 'affinity:P11', 'similar_shoppers']")
    for recs in (recommendations(api, "C1"), data(api, PREFETCHED, {"id": "C1"})["customer"]["recommendations"]):
        assert recs[0]["evidence"] == ["affinity:P11", "similar_shoppers"]


# --- similar shoppers ----------------------------------------------------------------------------------

SIMILAR = '{ customer(id: "C1") { similarShoppers { customer { id } } } }'


def test_a_customer_who_withdrew_is_nobodys_similar_shopper_and_has_none(api: TestClient) -> None:
    assert data(api, SIMILAR)["customer"]["similarShoppers"] == [{"customer": {"id": "C2"}}]
    consent(api, "C2", "personalisation", False)
    assert data(api, SIMILAR)["customer"]["similarShoppers"] == []
    consent(api, "C2", "personalisation", True)
    assert data(api, SIMILAR)["customer"]["similarShoppers"] == [{"customer": {"id": "C2"}}]
    consent(api, "C2", "analytics", False, channel="app")
    assert data(api, SIMILAR)["customer"]["similarShoppers"] == []
    run_query("MATCH (k:Consent {consentId: 'C2|app|analytics'}) DETACH DELETE k")
    consent(api, "C1", "analytics", False)  # the customer's own list
    assert data(api, SIMILAR)["customer"]["similarShoppers"] == []


# --- location ------------------------------------------------------------------------------------------

NEAR_HOME = '{ customer(id: "C1") { nearbyStores(radiusKm: 5) { store { id } } offers(radiusKm: 5) { id } } }'


VISITS = '{ customer(id: "C1") { engagementHistory(types: [VISIT]) { edges { node { id ... on VisitEntry { source } } } } } }'


def test_visits_found_from_the_phone_s_location_are_served_only_with_location_consent(api: TestClient) -> None:
    """docs/privacy.md: without location consent, no geofenced visits; found by the stop-37 audit: those stored
    were still served after the customer withdrew."""
    run_query("""MATCH (c:Customer {customerId: 'C1'}), (s:Store {storeId: 'S1'})
                 CREATE (c)-[:MADE_VISIT {at: datetime('2025-03-04T12:00:00Z')}]->(:Visit {visitId: 'VP',
                        arrivedAt: datetime('2025-03-04T12:00:00Z'), source: 'location_ping'})-[:TO_STORE]->(s)""")
    def visits() -> list[tuple[str, str]]:
        return [(e["node"]["id"], e["node"]["source"]) for e in data(api, VISITS)["customer"]["engagementHistory"]["edges"]]
    assert visits() == [("V1", "loyalty_scan")]  # location is withdrawn by default
    consent(api, "C1", "location", True, channel="app")
    assert visits() == [("VP", "location_ping"), ("V1", "loyalty_scan")]
    consent(api, "C1", "location", False, channel="app")
    assert visits() == [("V1", "loyalty_scan")]  # a scan at the till is no location data


def test_the_home_location_needs_an_admin_and_location_consent(api: TestClient) -> None:
    without = {"nearbyStores": [], "offers": [{"id": "OF2"}]}  # offers valid at every store only
    assert data(api, NEAR_HOME, key=ADMIN)["customer"] == without  # location is withdrawn by default
    consent(api, "C1", "location", True, channel="app")
    assert data(api, NEAR_HOME, key=ADMIN)["customer"] == {"nearbyStores": [{"store": {"id": "S1"}}],
                                                            "offers": [{"id": "OF1"}, {"id": "OF2"}]}
    assert data(api, NEAR_HOME, key=READER)["customer"] == without  # not for a reader key
    consent(api, "C1", "location", False, channel="web")  # one withdrawal withdraws the purpose
    assert data(api, NEAR_HOME, key=ADMIN)["customer"] == without


# --- marketing -----------------------------------------------------------------------------------------

CONTACTABLE = """{ c1: customer(id: "C1") { email: contactable(channel: EMAIL) sms: contactable(channel: SMS) }
  c2: customer(id: "C2") { email: contactable(channel: EMAIL) } }"""


def test_contactable_follows_marketing_consent_per_channel(api: TestClient) -> None:
    assert data(api, CONTACTABLE) == {"c1": {"email": True, "sms": False}, "c2": {"email": False}}
    unsubscribe = "mutation { recordResponse(input: {messageId: \"M1\", type: UNSUBSCRIBED}) { type } }"
    data(api, unsubscribe, key=WRITER)  # M1 went out by email
    consent(api, "C1", "marketing", True, channel="sms")
    assert data(api, CONTACTABLE)["c1"] == {"email": False, "sms": True}


# --- right of access, audit ----------------------------------------------------------------------------

def test_subject_access_is_for_admins_and_audited(api: TestClient) -> None:
    query = 'query($id: ID!) { subjectAccess(customerId: $id) }'
    document = data(api, query, {"id": "C1"}, key=ADMIN)["subjectAccess"]
    assert document["customerId"] == "C1" and document["profile"]["name"] == "Ada Lovelace"
    assert len(document["orders"]) == 14 and document["algorithmResults"]["similarShoppers"] == 2
    refused = post(api, query, {"id": "C1"}, key=WRITER).json()
    assert refused["data"] == {"subjectAccess": None} and codes(refused) == ["FORBIDDEN"]
    unknown = post(api, query, {"id": "NOPE"}, key=ADMIN).json()
    assert unknown["data"] == {"subjectAccess": None} and codes(unknown) == ["NOT_FOUND"]
    log = data(api, '{ auditLog(action: "export") { actor action subject detail } }', key=ADMIN)["auditLog"]
    assert [(e["actor"], e["action"]) for e in log] == [(key_label(Role.admin, ADMIN), "export")]
    assert data(api, '{ auditLog(customerId: "C1") { action } }', key=ADMIN)["auditLog"] == [{"action": "export"}]
    assert data(api, '{ auditLog(first: 0) { action } }', key=ADMIN)["auditLog"] == []  # was one entry (stop 37)
    assert codes(post(api, '{ auditLog { action } }', key=WRITER).json()) == ["FORBIDDEN"]
    assert codes(post(api, '{ auditLog(action: "nope") { action } }', key=ADMIN).json()) == ["BAD_USER_INPUT"]


PERSONAL = """{ customers(ids: ["C1", "C2"]) { id name emailHash homeLocation { latitude } identities { value }
  engagementHistory(types: [RESPONSE]) { edges { node { ... on ResponseEntry { text } } } } } }"""


def test_admin_reads_of_personal_fields_are_audited_once_per_customer_per_request(api: TestClient) -> None:
    data(api, PERSONAL, key=ADMIN)
    entries = run_query("MATCH (a:AuditEntry {action: 'read_personal'}) RETURN a.actor AS actor, a.detail AS detail, "
                        "a.subject AS subject ORDER BY a.detail")
    assert [(e["actor"], e["detail"]) for e in entries] == [
        (key_label(Role.admin, ADMIN), "fields=emailHash,homeLocation,identity.value,name,response.text"),  # C1
        (key_label(Role.admin, ADMIN), "fields=emailHash,homeLocation,name")]  # C2: no identities, no replies
    assert not any(value in str(entries) for value in ("Ada", "hash-ada", "ck-ada", "C1", "C2", "07700"))
    post(api, PERSONAL, key=READER)  # refused fields are not reads
    data(api, '{ customer(id: "C1") { id churnRisk } }', key=ADMIN)  # no personal field
    assert run_query("MATCH (a:AuditEntry {action: 'read_personal'}) RETURN count(a) AS n")[0]["n"] == 2
    data(api, '{ customer(id: "C1") { name } }', key=ADMIN)
    assert run_query("MATCH (a:AuditEntry {action: 'read_personal'}) RETURN count(a) AS n")[0]["n"] == 3
