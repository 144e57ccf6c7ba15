# ruff: noqa: F811 - pytest fixtures imported from test_api_support are redefined as parameters
"""Finding a customer by name (the clienteling page's search): admin only, word prefixes, bounded, erased
customers gone; against the real Neo4j's full-text index."""

from __future__ import annotations

from starlette.testclient import TestClient
from test_api_support import ADMIN, READER, WRITER, client, codes, data, post, seeded  # noqa: F401

from graph_model.connection import run_query

SEARCH = 'query($name: String!, $first: Int! = 10) { customerSearch(name: $name, first: $first) { id name } }'


def found(client: TestClient, name: str, **variables: object) -> list[str]:
    rows = data(client, SEARCH, {"name": name, **variables}, key=ADMIN)["customerSearch"]
    return [row["id"] for row in rows]


def test_every_word_matches_as_a_prefix_whatever_the_case(client: TestClient) -> None:
    assert found(client, "ada") == ["C1"]
    assert found(client, "LOVEL") == ["C1"]
    assert found(client, "a tur") == ["C3"]  # both words must match
    assert sorted(found(client, "a")) == ["C1", "C3"]  # Ada, Alan
    assert found(client, "a", first=1) in (["C1"], ["C3"])
    assert found(client, "nobody") == []


def test_lucene_syntax_is_text_not_a_query(client: TestClient) -> None:
    assert found(client, "ada OR grace") == []  # OR is a word here, not an operator
    assert found(client, 'ada" OR name:*') == []
    body = post(client, SEARCH, {"name": "*? ~"}, key=ADMIN).json()
    assert codes(body) == ["BAD_USER_INPUT"] and body["data"] is None


def test_names_are_searched_with_an_admin_key_only(client: TestClient) -> None:
    for key in (READER, WRITER):
        body = post(client, SEARCH, {"name": "ada"}, key=key).json()
        assert codes(body) == ["FORBIDDEN"] and body["data"] is None


def test_an_erased_customer_is_not_found(client: TestClient) -> None:
    run_query("CREATE (:Customer {customerId: 'C-GONE', name: 'Zelda Erased'})")
    assert found(client, "zelda") == ["C-GONE"]
    erased = data(client, 'mutation { eraseCustomer(customerId: "C-GONE") { erased } }', key=ADMIN)
    assert erased["eraseCustomer"]["erased"] is True
    assert found(client, "zelda") == []
