"""Request limits measured in one walk: exact depth and cost on small documents, linear in fragments."""

from __future__ import annotations

import time

import pytest
from graphql import parse, validate

from api.config import ApiConfig
from api.limits import limits_rule
from api.schema.build import build_schema


@pytest.fixture(scope="module")
def schema():
    return build_schema(ApiConfig(development=True))


def doubled_fragments(levels: int) -> str:
    """``F0`` spreads ``F1`` twice, ... ``F<levels>`` is ``__typename``: 2**levels fields once expanded."""
    chain = " ".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels))
    return f"query {{ ...F0 }} {chain} fragment F{levels} on Query {{ __typename }}"


def codes(result) -> list[tuple[str, dict]]:
    return [(e.extensions["code"], e.extensions) for e in result.errors or []]


def test_thirty_levels_of_doubled_fragments_are_refused_by_cost_without_expanding_them(schema) -> None:
    start = time.perf_counter()
    result = schema.execute_sync(doubled_fragments(30))
    seconds = time.perf_counter() - start
    [(code, extensions)] = codes(result)
    assert code == "QUERY_TOO_COMPLEX" and extensions["cost"] == 2 ** 30
    assert seconds < 1.0  # expanding every spread would take hours; the walk measures each fragment once


def test_a_list_without_first_counts_its_default_page(schema) -> None:
    result = schema.execute_sync("{segments{popularProducts{product{affinities{product{affinities{product{sku}}}}}}}}")
    [(code, extensions)] = codes(result)
    assert code == "QUERY_TOO_COMPLEX" and extensions["cost"] > 50_000


def _validate(query: str) -> list[tuple[str, dict]]:
    errors = validate(build_schema(ApiConfig(development=True))._schema, parse(query), [limits_rule(10, 20_000, 100)])
    return [(e.extensions["code"], e.extensions) for e in errors]


def test_depth_is_strawberrys_measure_through_fragments() -> None:
    """13, as strawberry's own depth limiter measures the same document."""
    inner = "customer { id }"
    for _ in range(5):
        inner = f"customer {{ similarShoppers(first: 1) {{ {inner} }} }}"
    query = ('query { ...D } fragment D on Query { customer(id: "C1") { ...E } } '
             "fragment E on Customer { similarShoppers(first: 1) { " + inner + " } }")
    [(code, extensions)] = _validate(query)
    assert code == "QUERY_TOO_DEEP" and extensions["depth"] == 13 and extensions["maxDepth"] == 10


def test_exact_cost_of_a_small_query() -> None:
    # customer 1 + recommendations 1 + 5 x (score 1 + product 1 + sku 1)
    query = '{ customer(id: "C1") { recommendations(first: 5) { score product { sku } } } }'
    assert _validate(query) == []
    errors = validate(build_schema(ApiConfig(development=True))._schema, parse(query), [limits_rule(10, 16, 100)])
    assert [e.extensions["cost"] for e in errors] == [17]


def _cost(query: str) -> int:
    """The estimated cost of ``query`` (validated against a limit of 0, so every query reports its cost)."""
    errors = validate(build_schema(ApiConfig(development=True))._schema, parse(query), [limits_rule(99, 0, 100)])
    [cost] = [e.extensions["cost"] for e in errors]
    return cost


def test_inline_fragments_on_the_parent_s_own_type_all_run_so_they_add_up() -> None:
    """``... on Product`` under a Product always runs: thirty such branches are thirty affinity lists, not
    one (until stop 38 they were priced as alternatives, so 30 x ``affinities(first: 20)`` got through)."""
    branch = "... on Product {{ a{n}: affinities(first: 20) {{ score }} }}"
    one = _cost('{ product(sku: "x") { ' + branch.format(n=0) + " } }")
    assert one == 1 + 1 + 20  # product + affinities + 20 x score
    thirty = _cost('{ product(sku: "x") { ' + " ".join(branch.format(n=n) for n in range(30)) + " } }")
    assert thirty == 1 + 30 * 21
    assert thirty == _cost('{ product(sku: "x") { ' + " ".join(f"a{n}: affinities(first: 20) {{ score }}"
                                                              for n in range(30)) + " } }")  # as aliases


def test_inline_fragments_on_an_interface_cost_what_the_dearest_object_runs() -> None:
    """A timeline entry is one object: its own type's branch and the interface's branch run, other types'
    branches are alternatives."""
    query = ('{ customer(id: "C1") { engagementHistory(first: 5) { edges { node { at '
             "... on OrderEntry { total currency } ... on VisitEntry { source } ... on OrderEntry { channel } "
             "... on EngagementEntry { id } } } } } }")
    order_entry = 1 + (2 + 1) + 1  # at, both OrderEntry branches, the interface's branch
    node = 1 + order_entry
    edges = 1 + node  # a connection's edges count at the connection's page
    assert _cost(query) == 1 + 1 + 5 * edges


def test_lists_without_a_page_of_their_own_are_paged_and_priced_by_it(graph) -> None:
    """Found by the stop-37 audit: `identities` and an order's `lines` had no limit and were priced as 10 items,
    so 100 customers x 3,000 planted identities ran 71 s and answered 108 MB; a real order has 1,112 lines."""
    from starlette.testclient import TestClient
    from test_api_support import ADMIN, codes, data, make_app, post, seed

    from graph_model import run_query

    seed(graph)
    run_query("""MATCH (c:Customer {customerId: 'C1'})
                 UNWIND range(1, 150) AS n
                 CREATE (:Identity {identityKey: 'cookie:k' + n, type: 'cookie', value: 'k' + n})-[:IDENTIFIES]->(c)""")
    run_query("""MATCH (p:Product {sku: 'P1'}), (c:Customer {customerId: 'C1'})
                 CREATE (c)-[:PLACED {at: datetime()}]->(o:Order {orderId: 'BIG', placedAt: datetime(), channel: 'web'})
                 WITH o, p UNWIND range(1, 150) AS n CREATE (o)-[:INCLUDES {line: n, quantity: 1, unitPrice: 1.0}]->(p)""")
    with TestClient(make_app(graph)) as api:
        query = '{ customer(id: "C1") { identities { value } more: identities(first: 100) { value } } }'
        customer = data(api, query, key=ADMIN)["customer"]
        assert len(customer["identities"]) == 20 and len(customer["more"]) == 100
        assert codes(post(api, '{ customer(id: "C1") { identities(first: 101) { value } } }', key=ADMIN).json()) == [
            "BAD_USER_INPUT"]
        lines = ('{ customer(id: "C1") { engagementHistory(first: 1, types: [ORDER]) { edges { node { '
                 '... on OrderEntry { id lines { line } } } } } } }')
        [order] = [edge["node"] for edge in data(api, lines)["customer"]["engagementHistory"]["edges"]]
        assert order["id"] == "BIG" and [line["line"] for line in order["lines"]] == list(range(1, 101))
    # priced by the page each returns: 100 customers' 20 identities of 4 fields
    ids = ", ".join(f'"C{n}"' for n in range(100))
    assert _cost(f"{{ customers(ids: [{ids}]) {{ identities {{ type firstSeen lastSeen value }} }} }}") == (
        1 + 100 * (1 + 20 * 4))
    assert _cost('{ product(sku: "x") { categories { id } } }') == 1 + 1 + 10  # unpaged and small: as before
