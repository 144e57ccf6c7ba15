"""Every query of ``cypher/`` runs against the real database holding ``tests/fixtures/analyst_graph.cypher``.

Each file has a ``test_<file name>...`` here that checks the shape and the values of its result; the fixture
itself is checked against ``graph_model`` (labels, relationship types and directions, property keys), and
every label, relationship type and property a query names must exist in the model or the graph contract. So
a schema change that breaks an analyst query breaks the build.
"""

from __future__ import annotations

import re
import sys
from typing import Any

import pytest

from customer_graph.cypher_library import (
    CypherFile,
    bind_parameters,
    cell_text,
    code_only,
    library_dir,
    library_files,
    run_cypher_file,
)
from graph_model import run_query, session
from graph_model.model import NODE_CLASSES
from graph_model.settings import Settings, project_root

CONTRACT = project_root() / "docs" / "graph-contract.md"
FILES = {cypher_file.name: cypher_file for cypher_file in library_files()}

# What docs/graph-contract.md says the algorithms write that graph_model/ does not declare.
CONTRACT_NODE_PROPERTIES = {
    "Customer": {"churnRisk", "pAlive", "expectedPurchases90d", "retentionModel", "retentionVersion",
                 "rfmRecencyDays", "rfmFrequency", "rfmMonetary", "rfmScore", "rfmSegment"},
    "Product": {"popularity", "popularityRank", "trendScore", "trendRank"},
}
CONTRACT_RELATIONSHIPS = {
    ("Customer", "RECOMMENDED", "Product"): {"score", "rank", "reason", "evidence", "version"},
    ("Store", "POPULAR_AT", "Product"): {"rank", "score", "version"},
    ("Segment", "POPULAR_IN", "Product"): {"rank", "score", "version"},
}
CYPHER_NAMESPACES = {"point", "duration", "date", "datetime", "localdatetime", "time", "localtime"}


# ------------------------------------------------------------------------------------------- the schema

def _node_properties() -> dict[str, set[str]]:
    properties = {cls.__label__: set(cls.defined_properties(aliases=False, rels=False)) for cls in NODE_CLASSES}
    for label, extra in CONTRACT_NODE_PROPERTIES.items():
        properties[label] |= extra
    return properties


def _relationships() -> dict[tuple[str, str, str], set[str]]:
    """(start label, type, end label) -> property keys, from the model's relationship definitions."""
    triples: dict[tuple[str, str, str], set[str]] = dict(CONTRACT_RELATIONSHIPS)
    for cls in NODE_CLASSES:
        for rel in cls.defined_properties(aliases=False, properties=False, rels=True).values():
            raw = rel._raw_class
            target = (raw if isinstance(raw, str) else raw.__name__).rsplit(".", 1)[-1]
            model = rel.definition.get("model")
            keys = set(model.defined_properties(aliases=False, rels=False)) if model else set()
            kind = rel.definition["relation_type"]
            triple = (cls.__label__, kind, target) if rel.definition["direction"] == 1 else (target, kind, cls.__label__)
            triples[triple] = triples.get(triple, set()) | keys
    return triples


NODE_PROPERTIES = _node_properties()
RELATIONSHIPS = _relationships()
RELATIONSHIP_PROPERTIES: dict[str, set[str]] = {}
for (_start, _type, _end), _keys in RELATIONSHIPS.items():
    RELATIONSHIP_PROPERTIES.setdefault(_type, set()).update(_keys)


def test_the_contract_extras_are_in_the_contract() -> None:
    text = CONTRACT.read_text(encoding="utf-8")
    names = {name for names in CONTRACT_NODE_PROPERTIES.values() for name in names}
    names |= {kind for _, kind, _ in CONTRACT_RELATIONSHIPS}
    assert sorted(name for name in names if name not in text) == []


# ---------------------------------------------------------------------------------------------- fixture



def run(name: str, **overrides: Any) -> list[dict[str, Any]]:
    """Run a library file with its defaults overridden by ``overrides`` (already typed values)."""
    cypher_file = FILES[name]
    unknown = set(overrides) - set(cypher_file.defaults)
    assert not unknown, f"{name} takes no parameters {unknown}"
    result = run_cypher_file(cypher_file, {**cypher_file.defaults, **overrides})
    return [dict(zip(result.columns, row, strict=True)) for row in result.rows]


def columns(name: str, **overrides: Any) -> list[str]:
    cypher_file = FILES[name]
    return run_cypher_file(cypher_file, {**cypher_file.defaults, **overrides}).columns


def test_the_fixture_follows_the_model(analyst_graph: Settings) -> None:
    for row in run_query("MATCH (n) RETURN labels(n) AS labels, keys(n) AS keys, n AS node", write=False):
        assert len(row["labels"]) == 1, row
        label = row["labels"][0]
        assert label in NODE_PROPERTIES, f"label {label} is not in graph_model"
        assert set(row["keys"]) <= NODE_PROPERTIES[label], (label, set(row["keys"]) - NODE_PROPERTIES[label])
        cls = next(c for c in NODE_CLASSES if c.__label__ == label)
        for name, prop in cls.defined_properties(aliases=False, rels=False).items():
            value = row["node"].get(name)
            if prop.required:
                assert value is not None, f"{label}.{name} is required"
            if getattr(prop, "choices", None) and value is not None:
                assert value in prop.choices, f"{label}.{name} = {value!r}"
    rows = run_query("MATCH (a)-[r]->(b) RETURN DISTINCT labels(a)[0] AS a, type(r) AS t, labels(b)[0] AS b, "
                     "keys(r) AS keys", write=False)
    for row in rows:
        triple = (row["a"], row["t"], row["b"])
        assert triple in RELATIONSHIPS, f"{triple} is not in graph_model or the contract"
        assert set(row["keys"]) <= RELATIONSHIPS[triple], (triple, set(row["keys"]) - RELATIONSHIPS[triple])


# ------------------------------------------------------------------------------------------ every file

def test_every_file_has_a_header_and_declares_exactly_the_parameters_it_uses() -> None:
    assert len(FILES) >= 8
    for cypher_file in FILES.values():
        for section in ("question", "parameters", "example"):
            assert cypher_file.header.get(section), f"{cypher_file.path.name}: no '// {section.title()}:' section"
        assert cypher_file.summary.endswith("?"), f"{cypher_file.path.name}: the question does not start with one"
        assert cypher_file.used_parameters == set(cypher_file.defaults), cypher_file.path.name
        for name in cypher_file.defaults:
            assert f"${name}" in cypher_file.header["parameters"], f"{cypher_file.path.name}: ${name} is not described"


def test_every_file_is_covered_by_a_test_of_its_own() -> None:
    tests = [name for name in dir(sys.modules[__name__]) if name.startswith("test_")]
    uncovered = [name for name in FILES if not any(test.startswith(f"test_{name}") for test in tests)]
    assert uncovered == []
    assert {path.stem for path in library_dir().glob("*.cypher")} == set(FILES)


def test_files_use_plain_cypher_that_only_reads() -> None:
    for cypher_file in FILES.values():
        code = code_only(cypher_file.statement).upper()
        for word in ("APOC.", "GDS.", "CALL ", "CREATE ", "MERGE ", "SET ", "DELETE ", "REMOVE ", "FOREACH"):
            assert word not in code, f"{cypher_file.path.name} uses {word.strip()}"


def _names(cypher_file: CypherFile) -> tuple[set[str], set[str], set[str], set[str]]:
    code = code_only(cypher_file.statement)
    labels = set(re.findall(r"\(\s*\w*\s*:\s*(\w+)", code))
    types = set(re.findall(r"\[\s*\w*\s*:\s*(\w+)", code))
    properties = {prop for owner, prop in re.findall(r"\b([a-z_]\w*)\.([A-Za-z_]\w*)", code)
                  if owner not in CYPHER_NAMESPACES}
    map_keys = set(re.findall(r"\b(\w+)\s*:", code))
    return labels, types, properties, map_keys


def test_files_name_only_labels_types_and_properties_of_the_model() -> None:
    all_properties = set().union(*NODE_PROPERTIES.values(), *RELATIONSHIP_PROPERTIES.values())
    for cypher_file in FILES.values():
        labels, types, properties, map_keys = _names(cypher_file)
        assert labels <= set(NODE_PROPERTIES), (cypher_file.path.name, labels - set(NODE_PROPERTIES))
        assert types <= set(RELATIONSHIP_PROPERTIES), (cypher_file.path.name, types - set(RELATIONSHIP_PROPERTIES))
        unknown = properties - all_properties - map_keys
        assert unknown == set(), f"{cypher_file.path.name} reads properties the model does not have: {unknown}"


def test_the_browser_reads_every_param_line_as_the_runner_does(analyst_graph: Settings) -> None:
    # The Browser evaluates ':param x => <expression>' as 'RETURN <expression>' on the server.
    for cypher_file in FILES.values():
        for name, text in cypher_file.default_texts.items():
            served = run_query(f"RETURN {text} AS value", write=False)[0]["value"]
            assert served == cypher_file.defaults[name], (cypher_file.path.name, name)
            assert type(served) is type(cypher_file.defaults[name]), (cypher_file.path.name, name)


@pytest.mark.parametrize("name", sorted(FILES))
def test_every_file_runs_with_its_defaults(analyst_graph: Settings, name: str) -> None:
    cypher_file = FILES[name]
    result = run_cypher_file(cypher_file, bind_parameters(cypher_file))
    assert result.columns and result.rows, f"{name} returns nothing on the fixture graph"


# ------------------------------------------------------------------------------------------- per file

def test_customer_360_gathers_every_channel(analyst_graph: Settings) -> None:
    [alice] = run("customer_360")
    assert alice["customerId"] == "C1" and alice["name"] == "Alice Smith" and alice["country"] == "United Kingdom"
    assert alice["homeStore"] == "Oxford Street"
    assert alice["identities"] == ["cookie:ck-1", "customer_ref:C1", "email_hash:h-alice"]
    assert sorted(alice["consents"]) == ["email/marketing: granted", "push/marketing: granted"]
    assert (alice["webSessions"], alice["appSessions"], alice["storeSessions"]) == (3, 0, 0)
    assert (alice["orders"], alice["cancellations"], alice["netValue"]) == (3, 0, 21.6)
    assert alice["lastOrderAt"].iso_format().startswith("2011-12-09T11:04:00")
    assert (alice["storeVisits"], alice["messagesReceived"], alice["opens"], alice["clicks"]) == (2, 2, 1, 1)
    assert alice["segments"] == ["Champions"]  # not the superseded 'Old Champions'
    assert alice["recommendations"] == ["P4 Party Bunting"]
    assert alice["similarCustomers"] == ["C2", "C3"]  # not C4 of the superseded similarity run
    assert alice["recentActivity"][0] == "2011-12-09T11:04:00Z order O6 web 3.75"
    assert len(alice["recentActivity"]) == 10


def test_customer_360_of_a_customer_with_little_activity(analyst_graph: Settings) -> None:
    [eve] = run("customer_360", customerId="C5", recent=3)
    assert eve["identities"] == ["customer_ref:C5", "customer_ref:C5-OLD", "email_hash:h-dup"]
    assert (eve["orders"], eve["netValue"], eve["storeVisits"], eve["recentActivity"]) == (0, 0.0, 0, [])
    assert eve["churnRisk"] is None and eve["segments"] == []
    bob = run("customer_360", customerId="C2")[0]
    assert (bob["orders"], bob["cancellations"], bob["netValue"], bob["appSessions"]) == (1, 1, 3.75, 1)
    assert run("customer_360", customerId="nobody") == []


def test_path_to_purchase_counts_the_sequences_ending_in_a_purchase(analyst_graph: Settings) -> None:
    rows = run("path_to_purchase")
    assert columns("path_to_purchase") == ["path", "steps", "purchases", "share", "avgMinutesToPurchase"]
    assert rows[0] == {"path": ["page_view", "product_view", "add_to_cart", "checkout", "purchase"], "steps": 5,
                       "purchases": 2, "share": 50.0, "avgMinutesToPurchase": 4.5}
    assert {tuple(row["path"]) for row in rows[1:]} == {
        ("product_view", "add_to_cart", "checkout", "purchase"),
        ("page_view", "search", "product_view", "add_to_cart", "checkout", "purchase"),
    }
    assert sum(row["purchases"] for row in rows) == 4
    assert run("path_to_purchase", maxSteps=2)[0] == {"path": ["checkout", "purchase"], "steps": 2, "purchases": 4,
                                                      "share": 100.0, "avgMinutesToPurchase": 4.3}
    assert run("path_to_purchase", withPages=True)[0]["path"][0] == "page_view /"
    assert [row["purchases"] for row in run("path_to_purchase", channel="app")] == [1]


def test_purchase_funnel_counts_sessions_and_drop_off_per_step(analyst_graph: Settings) -> None:
    rows = run("purchase_funnel")
    assert [(r["step"], r["sessions"], r["droppedOff"], r["pctOfPrevious"], r["pctOfFirst"]) for r in rows] == [
        ("product_view", 7, None, None, 100.0),
        ("add_to_cart", 6, 1, 85.7, 85.7),
        ("checkout", 5, 1, 83.3, 71.4),
        ("purchase", 4, 1, 80.0, 57.1),
    ]
    assert [r["stepNo"] for r in rows] == [1, 2, 3, 4]
    web = run("purchase_funnel", channel="web", **{"from": "2011-11-01T00:00:00Z", "to": "2011-12-01T00:00:00Z"})
    assert [r["sessions"] for r in web] == [4, 3, 2, 2]  # W1, W2, W4, W6 (W5 is June, W7 December)
    assert [r["sessions"] for r in run("purchase_funnel", steps=["search", "purchase"])] == [2, 1]


def test_cross_channel_shoppers_and_browse_online_buy_in_store(analyst_graph: Settings) -> None:
    rows = run("cross_channel_shoppers")
    assert [row["customerId"] for row in rows] == ["C1", "C2", "C3", "C4"]  # C5 has no activity
    assert rows[0] == {"customerId": "C1", "name": "Alice Smith", "onlineSessions": 3, "onlineOrders": 2,
                       "storeVisits": 2, "storeOrders": 1, "browsedOnlineBoughtInStore": 1,
                       "productsBrowsedThenBought": ["P1"]}
    assert rows[2]["storeOrders"] == 1 and rows[2]["browsedOnlineBoughtInStore"] == 0  # C3 bought what she did not view
    assert run("cross_channel_shoppers", days=1)[0]["browsedOnlineBoughtInStore"] == 0  # 43 hours between


def test_browse_online_buy_in_store_lists_the_purchases(analyst_graph: Settings) -> None:
    [row] = run("browse_online_buy_in_store")
    assert (row["customerId"], row["sku"], row["store"], row["hoursBetween"]) == ("C1", "P1", "Oxford Street", 43.0)
    assert row["lastViewedOnline"].iso_format().startswith("2011-11-20T19:01:00")
    assert run("browse_online_buy_in_store", days=1) == []


def test_store_traffic_by_hour_in_local_time(analyst_graph: Settings) -> None:
    rows = run("store_traffic_by_hour")
    assert [(r["storeId"], r["hour"], r["visits"], r["visitors"], r["avgDwellMinutes"]) for r in rows] == [
        ("S1", 10, 1, 1, 10.0), ("S1", 13, 2, 2, 32.5), ("S2", 17, 2, 2, 10.0)]
    utc = run("store_traffic_by_hour", timezone="UTC", storeId="S1")
    assert [(r["hour"], r["visits"]) for r in utc] == [(10, 1), (12, 1), (13, 1)]  # V3 was 12:20 UTC, 13:20 BST
    assert len(run("store_traffic_by_hour", **{"from": "2011-12-01T00:00:00Z"})) == 1


def test_store_catchment_by_distance_band(analyst_graph: Settings) -> None:
    rows = run("store_catchment")
    assert [(r["storeId"], r["band"], r["visitors"], r["visits"], r["shareOfVisitors"], r["medianKm"]) for r in rows] == [
        ("S1", "0-2 km", 1, 2, 50.0, 1.3),
        ("S1", "10-25 km", 1, 1, 50.0, 15.8),
        ("S2", "2-5 km", 1, 1, 50.0, 4.6),
        ("S2", "unknown", 1, 1, 50.0, None),
    ]
    assert [r["band"] for r in run("store_catchment", bandsKm=[5], storeId="S1")] == ["0-5 km", "5+ km"]


def test_product_affinities_reads_only_the_current_run(analyst_graph: Settings) -> None:
    rows = run("product_affinities")
    assert rows[0] == {"kind": "bought_together", "rank": 1, "sku": "P1", "product": "White Hanging Heart T-Light Holder",
                       "score": 0.9, "lift": 3.2, "support": 0.05, "confidence": 0.6, "version": "aff-2"}
    assert [(r["kind"], r["sku"]) for r in rows] == [
        ("bought_together", "P1"), ("bought_together", "P4"), ("viewed_together", "P2")]  # not P3 of aff-1
    assert [r["sku"] for r in run("product_affinities", kind="viewed_together")] == ["P2"]
    assert len(run("product_affinities", limit=1)) == 1
    assert run("product_affinities", sku="P3") == []


def test_similar_shoppers_reads_only_the_current_run(analyst_graph: Settings) -> None:
    rows = run("similar_shoppers")
    assert rows == [
        {"rank": 1, "customerId": "C2", "name": "Bob Jones", "score": 0.8, "rfmSegment": "Loyal",
         "sharedProducts": ["P2"], "theyBuyYouDont": [], "version": "sim-1"},
        {"rank": 2, "customerId": "C3", "name": "Carol White", "score": 0.5, "rfmSegment": "At Risk",
         "sharedProducts": ["P1", "P5"], "theyBuyYouDont": ["P4"], "version": "sim-1"},
    ]


def _withdrawn(customer_id: str, purpose: str) -> str:
    run_query("MATCH (c:Customer {customerId: $id}) CREATE (c)-[:HAS_CONSENT]->(:Consent {consentId: $key, "
              "channel: 'web', purpose: $purpose, granted: false, updatedAt: datetime()})",
              {"id": customer_id, "key": f"{customer_id}|web|{purpose}|test", "purpose": purpose})
    return f"{customer_id}|web|{purpose}|test"


def test_analysts_queries_leave_out_withdrawals_made_since_the_run_as_the_api_does(analyst_graph: Settings) -> None:
    """Found by an audit (stop 40): customers_at_risk listed a customer who had withdrawn analytics (the API hid
    their churn risk at once), similar_shoppers named one who had withdrawn it (the API hid them)."""
    for purpose in ("analytics", "personalisation"):
        key = _withdrawn("C3", purpose)
        try:
            assert [r["customerId"] for r in run("similar_shoppers")] == ["C2"], purpose
            at_risk = [r["customerId"] for r in run("customers_at_risk")]
            assert at_risk == ([] if purpose == "analytics" else ["C3"]), purpose
        finally:
            run_query("MATCH (k:Consent {consentId: $key}) DETACH DELETE k", {"key": key})
    key = _withdrawn("C1", "analytics")  # the customer asked about: nobody is listed as similar to them
    try:
        assert run("similar_shoppers") == []
    finally:
        run_query("MATCH (k:Consent {consentId: $key}) DETACH DELETE k", {"key": key})


def test_customers_at_risk_finds_carol_and_suggests_an_offer(analyst_graph: Settings) -> None:
    [carol] = run("customers_at_risk")
    assert carol["customerId"] == "C3" and carol["churnRisk"] == 0.82 and carol["pastValue"] == 300.0
    assert carol["orders"] == 2 and carol["daysSinceLastOrder"] == 176  # as of the latest order, 2011-12-09
    assert (carol["unsubscribes"], carol["ignoredMessages"]) == (1, 2)
    assert carol["consentsWithdrawn"] == ["email/marketing"] and carol["contactableOn"] == ["sms"]
    assert carol["nextProduct"] == "P4 Party Bunting"
    assert carol["nextOffer"] == "10% off party bunting"  # the valid offer, not the expired summer one
    assert carol["reason"].startswith("often bought with Regency Cakestand")
    everyone = run("customers_at_risk", minValue=0.0, asOf="2012-03-01T00:00:00Z", recentDays=30)
    assert [r["customerId"] for r in everyone] == ["C3", "C4"]
    assert everyone[0]["unsubscribes"] == 0 and everyone[0]["nextOffer"] is None  # old signals, offer expired
    assert run("customers_at_risk", minChurnRisk=0.95) == []


def test_customers_at_risk_are_contactable_exactly_where_the_consent_policy_permits_marketing(
        analyst_graph: Settings) -> None:
    from graph_model.model import CONSENT_CHANNELS
    from graph_model.privacy.policy import ConsentPolicy

    rows = run("customers_at_risk", minChurnRisk=0.0, minValue=-1e9, limit=1000)
    consents = {r["customerId"]: r["consents"] for r in run_query(
        "MATCH (c:Customer) RETURN c.customerId AS customerId, "
        "[(c)-[:HAS_CONSENT]->(k:Consent) | k {.channel, .purpose, .granted}] AS consents")}
    assert len(rows) >= 3
    policy = ConsentPolicy()  # the shipped defaults the file writes literally
    for row in rows:
        expected = [ch for ch in CONSENT_CHANNELS if policy.permits(consents[row["customerId"]], "marketing", ch)]
        assert row["contactableOn"] == expected, row["customerId"]
    run_query("MATCH (c:Customer {customerId: 'C3'}) CREATE (c)-[:HAS_CONSENT]->(:Consent {consentId: 'C3|push|x', "
              "channel: 'push', purpose: 'personalisation', granted: true, updatedAt: datetime()})")
    try:  # a grant of another purpose on a channel is no marketing consent there
        assert next(r for r in run("customers_at_risk") if r["customerId"] == "C3")["contactableOn"] == ["sms"]
    finally:
        run_query("MATCH (k:Consent {consentId: 'C3|push|x'}) DETACH DELETE k")


def test_campaign_response_rates_by_segment_and_channel(analyst_graph: Settings) -> None:
    rows = run("campaign_response_rates")
    table = {(r["segment"], r["channel"]): r for r in rows}
    assert list(table) == [("At Risk", "email"), ("Champions", "email"), ("Champions", "push"), ("Loyal", "sms")]
    at_risk = table[("At Risk", "email")]
    assert (at_risk["sent"], at_risk["delivered"], at_risk["opened"], at_risk["unsubscribed"]) == (3, 3, 1, 1)
    assert (at_risk["openRate"], at_risk["clickRate"], at_risk["unsubscribeRate"]) == (33.3, 0.0, 33.3)
    assert table[("Champions", "email")]["redeemed"] == 1
    winback = run("campaign_response_rates", campaignId="CP2")
    assert [(r["segment"], r["sent"], r["unsubscribed"]) for r in winback] == [("At Risk", 2, 1)]
    assert {r["segment"] for r in run("campaign_response_rates", segmentKind="community")} == {"(none)"}


def test_data_quality_reports_every_check(analyst_graph: Settings) -> None:
    rows = {r["check"]: (r["problems"], r["examples"]) for r in run("data_quality")}
    assert rows == {
        "orphan_events": (1, ["E-ORPHAN"]),
        "sessions_without_events": (1, ["W9"]),
        "purchase_events_without_order": (0, []),
        "orders_without_lines": (0, []),
        "identifiers_of_several_customers": (1, ["email_hash:h-dup"]),
        "customers_with_conflicting_identifiers": (1, ["C5"]),
        "linked_identifiers_of_other_customers": (1, ["cookie:ck-2 (C2) -> device_id:dv-9 (C4)"]),
    }
    assert all(len(r["examples"]) == 0 for r in run("data_quality", examples=0))


def test_rfm_overview(analyst_graph: Settings) -> None:
    rows = run("rfm_overview")
    assert [(r["rfmSegment"], r["customers"], r["share"], r["avgMonetary"]) for r in rows] == [
        ("At Risk", 2, 40.0, 152.5), ("Champions", 1, 20.0, 21.6), ("Loyal", 1, 20.0, 3.75), ("(unscored)", 1, 20.0, None)]
    assert [r["rfmSegment"] for r in run("rfm_overview", minCustomers=2)] == ["At Risk"]


def test_searches_without_results(analyst_graph: Settings) -> None:
    [row] = run("searches_without_results")
    assert (row["search"], row["searches"], row["sessions"]) == ("unicorn lamp", 2, 1)
    assert {r["search"] for r in run("searches_without_results", maxResults=3)} == {"unicorn lamp", "cake stand"}


def test_trending_products(analyst_graph: Settings) -> None:
    rows = run("trending_products", limit=2)
    assert rows == [
        {"trendRank": 1, "sku": "P5", "product": "Regency Cakestand", "trendScore": 2.5, "popularity": 2,
         "popularityRank": 1, "price": 12.75, "stockedAt": ["S1"]},
        {"trendRank": 2, "sku": "P2", "product": "Red Woolly Hottie", "trendScore": 1.8, "popularity": 2,
         "popularityRank": 2, "price": 3.75, "stockedAt": ["S2"]},
    ]


def test_the_docs_list_every_query() -> None:
    text = (project_root() / "docs" / "cypher.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^\| \[`(\w+)`\]\(\.\./cypher/\1\.cypher\) \| \S", text, flags=re.MULTILINE))
    assert listed == set(FILES)


def test_the_server_warns_about_nothing_but_data_the_fixture_lacks(analyst_graph: Settings) -> None:
    # Deprecated syntax, cartesian products, unbounded patterns... would show up here; unknown property keys
    # (01N52) only mean the small fixture has no such value (e.g. Customer.erasedAt), the model check covers them.
    with session(notifications_min_severity="INFORMATION") as s:
        for cypher_file in FILES.values():
            summary = s.run("EXPLAIN " + cypher_file.statement, cypher_file.defaults).consume()
            notes = [(n.gql_status, n.status_description) for n in summary.gql_status_objects
                     if n.is_notification and n.gql_status not in ("01N50", "01N51", "01N52")]
            assert notes == [], cypher_file.path.name


def _example_table(cypher_file: CypherFile) -> tuple[list[str], list[list[str]]]:
    lines = [line for line in cypher_file.header["example"].splitlines() if line.strip()]
    header = [cell.strip() for cell in lines[0].split("|")]
    return header, [[cell.strip() for cell in line.split("|")] for line in lines[1:]]


def test_every_example_is_what_the_file_returns_on_the_fixture(analyst_graph: Settings) -> None:
    # Cells holding '...' are abbreviated and skipped; 'null' stands for a null.
    mismatches = []
    for cypher_file in FILES.values():
        header, rows = _example_table(cypher_file)
        result = run_cypher_file(cypher_file, bind_parameters(cypher_file))
        assert set(header) <= set(result.columns), (cypher_file.path.name, set(header) - set(result.columns))
        assert rows and len(rows) <= len(result.rows), cypher_file.path.name
        for number, row in enumerate(rows):
            actual = dict(zip(result.columns, result.rows[number], strict=True))
            for column, cell in zip(header, row, strict=True):
                expected = "" if cell == "null" else cell
                if "..." not in cell and cell_text(actual[column]) != expected:
                    mismatches.append((cypher_file.path.name, number, column, cell, cell_text(actual[column])))
    assert mismatches == [], "\n".join(map(str, mismatches))


def test_due_for_reorder_lists_the_current_runs_due_reorders_with_their_due_date(analyst_graph: Settings) -> None:
    rows = run("due_for_reorder")
    assert [(r["customerId"], r["sku"]) for r in rows] == [("C1", "P1"), ("C2", "P3")]  # not the stale C3 row
    alice = rows[0]
    assert alice["probability"] == 0.81 and alice["cycleDays"] == 30.0
    assert str(alice["lastDate"]) == "2011-11-20" and str(alice["dueDate"]) == "2011-12-20"
    assert alice["daysOverdue"] == -11  # as of the latest order, 2011-12-09
    assert rows[1]["dueDate"] is None and rows[1]["daysOverdue"] is None  # one purchase: no cycle yet
    assert [r["sku"] for r in run("due_for_reorder", minProbability=0.0)] == ["P1", "P3", "P2"]
    run_query("MATCH (c:Customer {customerId: 'C1'}) CREATE (c)-[:HAS_CONSENT]->(:Consent {consentId: 'C1|web|p', "
              "channel: 'web', purpose: 'personalisation', granted: false, updatedAt: datetime()})")
    try:  # withdrawn since the run: left out at once
        assert [r["customerId"] for r in run("due_for_reorder")] == ["C2"]
    finally:
        run_query("MATCH (k:Consent {consentId: 'C1|web|p'}) DETACH DELETE k")
