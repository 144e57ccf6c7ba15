"""The privacy core on the real Neo4j: erasure that lasts, the subject-access document, the audit trail."""

from __future__ import annotations

import json
from pathlib import Path

from graph_model.connection import execute_write, run_query
from graph_model.privacy import audit
from graph_model.privacy.access import subject_access
from graph_model.privacy.erasure import erase_customer
from graph_model.privacy.keys import customer_hash, identity_hash
from graph_model.privacy.policy import ConsentPolicy, permits_cypher
from graph_model.privacy.redaction import value_token
from graph_model.privacy.tombstone import Tombstones

SEED = """
CREATE (p1:Product {sku: 'P1', name: 'Mug'}), (p2:Product {sku: 'P2', name: 'Jug'})
CREATE (st:Store {storeId: 'S1', name: 'Leeds', location: point({latitude: 53.8, longitude: -1.55})})
CREATE (ann:Customer {customerId: 'ann', name: 'Ann Lee', emailHash: 'e-ann', city: 'Leeds',
                      homeLocation: point({latitude: 53.81, longitude: -1.56}), churnRisk: 0.4})
CREATE (bob:Customer {customerId: 'bob', name: 'Bob'})
CREATE (:Identity {identityKey: 'email_hash:e-ann', type: 'email_hash', value: 'e-ann'})-[:IDENTIFIES {at: datetime()}]->(ann)
CREATE (cookie:Identity {identityKey: 'cookie:c-ann', type: 'cookie', value: 'c-ann'})-[:IDENTIFIES {at: datetime()}]->(ann)
CREATE (anon:Identity {identityKey: 'cookie:anon-ann', type: 'cookie', value: 'anon-ann'})
CREATE (shared:Identity {identityKey: 'device_id:family-ipad', type: 'device_id', value: 'family-ipad'})
CREATE (shared)-[:IDENTIFIES {at: datetime()}]->(bob)
CREATE (anon)-[:LINKED_TO {at: datetime(), origin: 'login'}]->(cookie)
CREATE (s1:Session {sessionId: 's1', channel: 'web', startedAt: datetime(), device: 'iPhone of Ann'})
CREATE (ann)-[:HAD_SESSION {at: datetime()}]->(s1)
CREATE (s1)-[:IDENTIFIED_BY {at: datetime()}]->(cookie), (s1)-[:IDENTIFIED_BY {at: datetime()}]->(anon),
       (s1)-[:IDENTIFIED_BY {at: datetime()}]->(shared)
CREATE (s1)-[:CONTAINS {at: datetime()}]->(e1:Event {eventId: 'e1', type: 'search', at: datetime(), query: 'ann lee wedding', page: '/search?q=ann+lee'})
CREATE (e1)-[:SEARCHED {at: datetime()}]->(:SearchQuery {text: 'ann lee wedding'})
CREATE (s1)-[:CONTAINS {at: datetime()}]->(e2:Event {eventId: 'e2', type: 'product_view', at: datetime(), page: '/p/P1?ref=mail#top'})
CREATE (e2)-[:ABOUT_PRODUCT {at: datetime()}]->(p1)
CREATE (s1)-[:CONTAINS {at: datetime()}]->(:Event {eventId: 'e3', type: 'custom', name: 'Newsletter Signup', at: datetime(), properties: '{"email": "ann@example.com"}'})
CREATE (ann)-[:PLACED {at: datetime()}]->(o:Order {orderId: 'O1', placedAt: datetime(), total: 3.0})-[:INCLUDES {line: 1, quantity: 1, unitPrice: 3.0}]->(p1)
CREATE (ann)-[:MADE_VISIT {at: datetime()}]->(:Visit {visitId: 'ping:ann:S1:20260101', arrivedAt: datetime()})-[:TO_STORE]->(st)
CREATE (ann)-[:HAS_CONSENT]->(:Consent {consentId: 'ann|email|marketing', channel: 'email', purpose: 'marketing', granted: true, updatedAt: datetime()})
CREATE (m:Message {messageId: 'M1', channel: 'email'})-[:SENT_TO {at: datetime()}]->(ann)
CREATE (ann)-[:RESPONDED {type: 'replied', at: datetime(), text: 'call me on 0113 555'}]->(m)
CREATE (ann)-[:RECOMMENDED {rank: 1, score: 1.0}]->(p2), (bob)-[:SIMILAR_TO {score: 0.9}]->(ann)
"""


def test_erasure_removes_the_person_keeps_anonymous_facts_and_lasts(graph, tmp_path: Path) -> None:
    run_query(SEED)
    runs = tmp_path / "runs" / "one"
    runs.mkdir(parents=True)
    other = json.dumps({"reason": "invalid_value", "row": {"customerId": value_token("bob")}})
    (runs / "rejects.jsonl").write_text(
        json.dumps({"reason": "invalid_value", "row": {"customerId": value_token("ann")}}) + "\n" + other + "\n")

    result = erase_customer("ann", actor="test", reject_roots=[tmp_path / "runs"])

    assert result.found and result.erased and not result.already_erased
    assert result.identities_removed == 3  # email hash, own cookie, the anonymous cookie seen only with her
    assert result.consents_removed == 1 and result.reject_lines_removed == 1
    assert (runs / "rejects.jsonl").read_text() == other + "\n"
    left = run_query("""
        RETURN COUNT { (:Customer {customerId: 'ann'}) } AS customers,
               COUNT { (:Identity) } AS identities, COUNT { (:Identity {identityKey: 'device_id:family-ipad'}) } AS shared,
               COUNT { (:Order)-[:INCLUDES]->() } AS lines, COUNT { (:Order)<-[:PLACED]-() } AS placed,
               COUNT { (:SearchQuery) } AS searches, COUNT { ()-[:IDENTIFIED_BY]->() } AS sessionLinks,
               COUNT { ()-[:SIMILAR_TO]->() } AS similar, COUNT { ()-[:RESPONDED]->() } AS responses,
               COUNT { (:Consent) } AS consents,
               COLLECT { MATCH (e:Event) RETURN [e.eventId, e.query, e.page, e.properties] } AS events,
               COLLECT { MATCH (s:Session) RETURN s.device } AS devices,
               COLLECT { MATCH (v:Visit) RETURN v.visitId } AS visits
    """)[0]
    assert left["customers"] == 0 and left["identities"] == 1 and left["shared"] == 1
    assert left["lines"] == 1 and left["placed"] == 0  # the order stays, detached from any person
    assert left["searches"] == 0 and left["sessionLinks"] == 0 and left["similar"] == 0
    assert left["responses"] == 0 and left["consents"] == 0
    # a custom event keeps its name, not what the tracking call sent with it (free data)
    assert sorted(left["events"]) == [["e1", None, "/search", None], ["e2", None, "/p/P1", None],
                                      ["e3", None, None, None]]
    assert left["devices"] == [None]
    assert len(left["visits"]) == 1 and "ann" not in left["visits"][0]

    stones = execute_write(Tombstones.read)
    assert stones.customer_erased("ann") and not stones.customer_erased("bob")
    assert stones.identity_erased("email_hash:e-ann") and stones.identity_erased("cookie:c-ann")
    assert stones.identity_erased("customer_ref:ann") and not stones.identity_erased("device_id:family-ipad")
    stored = run_query("MATCH (t:Tombstone) RETURN collect(t.hash) AS hashes")[0]["hashes"]
    assert customer_hash("ann") in stored and identity_hash("cookie:c-ann") in stored
    assert not any("ann" in h for h in stored)

    again = erase_customer("ann", actor="test", reject_roots=[])
    assert again.already_erased and again.erased and not again.found
    never = erase_customer("nobody", actor="test", reject_roots=[])
    assert not never.erased

    entries = run_query(audit.READ_ENTRIES, audit.read_parameters("ann"))
    assert [e["entry"]["action"] for e in entries] == ["erase"]
    assert entries[0]["entry"]["subject"] == customer_hash("ann") and entries[0]["entry"]["actor"] == "test"


def test_subject_access_document_holds_everything_and_names_no_one_else(graph) -> None:
    run_query(SEED)
    doc = subject_access("ann")
    assert doc is not None
    assert doc["customerId"] == "ann" and doc["profile"]["name"] == "Ann Lee"
    assert doc["profile"]["homeLocation"] == {"latitude": 53.81, "longitude": -1.56}
    assert sorted(i["value"] for i in doc["identities"]) == ["c-ann", "e-ann"]
    assert doc["consents"][0]["purpose"] == "marketing"
    assert doc["orders"][0]["lines"][0]["sku"] == "P1"
    events = {e["eventId"]: e for e in doc["sessions"][0]["events"]}
    assert set(events) == {"e1", "e2", "e3"}
    # a custom event with what the tracking call sent: personal data the person has a right to see
    assert (events["e3"]["name"], events["e3"]["properties"]) == ("Newsletter Signup", '{"email": "ann@example.com"}')
    assert doc["messages"][0]["responses"][0]["text"] == "call me on 0113 555"
    assert doc["algorithmResults"]["churnRisk"] == 0.4
    assert doc["algorithmResults"]["recommendations"][0]["sku"] == "P2"
    assert "bob" not in json.dumps(doc)
    json.dumps(doc)  # plain JSON
    assert subject_access("nobody") is None


def test_the_cypher_decision_is_the_python_decision(graph) -> None:
    """Every combination of records for one purpose decides the same in Cypher and in Python."""
    policy = ConsentPolicy()
    cases = {"none": [], "granted": [("web", True)], "withdrawn": [("web", False)],
             "mixed": [("web", True), ("app", False)]}
    for name, records in cases.items():
        run_query("CREATE (:Customer {customerId: $id})", {"id": name})
        for channel, granted in records:
            for purpose in ("personalisation", "location", "marketing"):
                run_query("""MATCH (c:Customer {customerId: $id})
                             CREATE (c)-[:HAS_CONSENT]->(:Consent {consentId: $id + '|' + $channel + '|' + $purpose,
                                     channel: $channel, purpose: $purpose, granted: $granted, updatedAt: datetime()})""",
                          {"id": name, "channel": channel, "purpose": purpose, "granted": granted})
    query = f"""MATCH (c:Customer) RETURN c.customerId AS id, {permits_cypher('c', 'personalisation')} AS personal,
                {permits_cypher('c', 'location')} AS location, {permits_cypher('c', 'marketing', '$channel')} AS web"""
    rows = {r["id"]: r for r in run_query(query, {**policy.parameters(), "channel": "web"})}
    for name, records in cases.items():
        stored = [{"channel": c, "purpose": p, "granted": g} for c, g in records
                  for p in ("personalisation", "location", "marketing")]
        assert rows[name]["personal"] == policy.permits(stored, "personalisation"), name
        assert rows[name]["location"] == policy.permits(stored, "location"), name
        assert rows[name]["web"] == policy.permits(stored, "marketing", "web"), name


def test_privacy_commands_erase_export_and_audit(graph, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from customer_graph.privacy_commands import privacy_group

    run_query(SEED)
    runner = CliRunner()
    exported = runner.invoke(privacy_group, ["export", "ann", "-o", str(tmp_path / "ann.json")])
    assert exported.exit_code == 0, exported.output
    assert json.loads((tmp_path / "ann.json").read_text())["profile"]["name"] == "Ann Lee"
    assert (tmp_path / "ann.json").stat().st_mode & 0o777 == 0o600

    erased = runner.invoke(privacy_group, ["erase", "ann", "--runs-dir", str(tmp_path)])
    assert erased.exit_code == 0, erased.output
    assert json.loads(erased.output)["erased"] is True
    again = runner.invoke(privacy_group, ["erase", "ann", "--runs-dir", str(tmp_path)])
    assert json.loads(again.output)["already_erased"] is True
    assert runner.invoke(privacy_group, ["erase", "nobody", "--runs-dir", str(tmp_path)]).exit_code == 1
    assert runner.invoke(privacy_group, ["export", "ann"]).exit_code != 0

    trail = runner.invoke(privacy_group, ["audit", "--customer", "ann"])
    actions = [json.loads(line)["action"] for line in trail.output.splitlines()]
    assert actions == ["erase", "export"]
    assert "ann" not in trail.output.replace("actor", "")
