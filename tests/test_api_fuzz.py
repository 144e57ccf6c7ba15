# ruff: noqa: F811 - pytest fixtures imported from test_api_support are redefined as parameters
"""Property-based fuzzing of the API (issue 16): queries and mutations generated from the exported schema
(hypothesis-graphql), sent over HTTP with the admin key to the real Neo4j holding the small test graph.
Whatever the request, the answer is never a 5xx, never an ``INTERNAL_*`` error, and never shows Cypher
or a Python trace. Budget: a fixed seed and a few hundred examples, well under a minute."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import mutations, nodes, queries
from starlette.testclient import TestClient
from test_api_support import ADMIN, GRAPHQL_RESPONSE, make_app, seed

from api.schema.export import SDL_PATH
from graph_model.settings import Settings

SDL = SDL_PATH.read_text(encoding="utf-8")
LEAKS = ("Traceback", 'File "', "MATCH (", "RETURN ", "neo4j.", "Neo.ClientError", "Neo.DatabaseError",
         "Neo.TransientError", "Error(")
FUZZ = settings(max_examples=100, deadline=None, derandomize=True, database=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

# ids of the test graph (tests/test_api_support.py SEED), so that generated queries reach deep resolvers
KNOWN_IDS = ("C1", "C2", "C3", "C4", "P1", "P2", "P3", "P10", "S1", "S2", "SEG1", "SEG2", "SEG0", "CAT1", "CAT2",
             "B1", "O1", "O3", "SS1", "E1", "E2", "V1", "M1", "OF1", "hash-ada", "ck-ada", "email_hash", "cookie")


def _cursor(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


# cursors, well-formed and not: `after` is a String argument
CURSORS = tuple(_cursor(value) for value in (
    ["2025-03-01T10:00:00Z", "session:SS1"], ["2025-01-05T08:00:00.000000000Z", "order:O8"], [["x"], "y"],
    ["2025-03-01T10:00:00Z", 1], [1, "x"], {"at": 1}, "2025", [], [None, None], ["", ""],
)) + ("not-a-cursor", "", "====")

ids = st.sampled_from(KNOWN_IDS) | st.text(max_size=12)
strings = ids | st.sampled_from(CURSORS) | st.text(max_size=40)
offsets = st.timedeltas(min_value=-timedelta(hours=23, minutes=59), max_value=timedelta(hours=23, minutes=59)).map(
    lambda delta: timezone(timedelta(minutes=delta // timedelta(minutes=1))))
datetimes = st.datetimes(timezones=st.just(UTC) | offsets).map(datetime.isoformat) | st.sampled_from(
    ("2025-03-01", "2025-13-45T00:00:00Z", "yesterday", "", "9999-12-31T23:59:59.999999Z",
     "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"))
SCALARS = {"ID": ids.map(nodes.String), "String": strings.map(nodes.String), "DateTime": datetimes.map(nodes.String)}


@pytest.fixture(scope="module")
def fuzzed(neo4j_settings: Settings) -> Iterator[TestClient]:
    """The API in development on the small graph (written afresh: the mutations change it)."""
    seed(neo4j_settings)
    with TestClient(make_app(neo4j_settings)) as client:
        yield client


def check(client: TestClient, query: str, variables: dict[str, Any] | None = None) -> None:
    """POST ``query`` with the admin key; fail on a 5xx, an ``INTERNAL_*`` code or a leak."""
    response = client.post("/graphql", json={"query": query, "variables": variables},
                           headers={"X-API-Key": ADMIN, "Accept": GRAPHQL_RESPONSE})
    assert response.status_code < 500, (response.status_code, response.text)
    body = response.json()
    assert "data" in body or "errors" in body, body
    for error in body.get("errors", []):
        assert not error.get("extensions", {}).get("code", "").startswith("INTERNAL"), error
    leaked = [marker for marker in LEAKS if marker in response.text and marker not in query]  # not an echo
    assert not leaked, (leaked, response.text)


@FUZZ
@given(query=queries(SDL, custom_scalars=SCALARS))
def test_generated_queries_never_fail_inside(fuzzed: TestClient, query: str) -> None:
    check(fuzzed, query)


@settings(FUZZ, max_examples=60)
@given(query=queries(SDL, fields=["customer"], custom_scalars=SCALARS))
def test_generated_customer_queries_never_fail_inside(fuzzed: TestClient, query: str) -> None:
    check(fuzzed, query)


HISTORY = """query($id: ID, $first: Int!, $after: String, $channels: [Channel!], $types: [EngagementType!],
                   $from: DateTime, $to: DateTime) {
  customer(id: $id) { engagementHistory(first: $first, after: $after, channels: $channels, types: $types,
                                        from: $from, to: $to) {
    edges { cursor node { type id at channel } } pageInfo { hasNextPage endCursor } } } }"""
json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                          max_size=3), max_leaves=6)


cursors = st.sampled_from(CURSORS) | st.lists(json_values, min_size=2, max_size=2).map(_cursor) | json_values.map(_cursor)


@settings(FUZZ, max_examples=60)
@example(first=1, after=_cursor([[], None]), id_="C1", channels=None, types=None, start=None, end=None)  # found
@example(first=1, after=None, id_="C1", channels=None, types=None, start="0001-01-01T00:00:00+01:00",
         end="9999-12-31T23:59:59-01:00")  # found by hand: year 0 and 10000 once in UTC
@given(first=st.integers(-5, 120), after=st.none() | cursors | st.text(),
       id_=st.sampled_from(("C1", "C2", "C4", "nobody")),
       channels=st.none() | st.lists(st.sampled_from(("WEB", "APP", "STORE", "EMAIL", "SMS", "PUSH", "PHONE"))),
       types=st.none() | st.lists(st.sampled_from(("SESSION", "VISIT", "MESSAGE", "RESPONSE", "ORDER"))),
       start=st.none() | datetimes, end=st.none() | datetimes)
def test_engagement_history_arguments_never_fail_inside(fuzzed: TestClient, first: int, after: str | None, id_: str,
                                                        channels: list[str] | None, types: list[str] | None,
                                                        start: str | None, end: str | None) -> None:
    check(fuzzed, HISTORY, {"id": id_, "first": first, "after": after, "channels": channels, "types": types,
                            "from": start, "to": end})


@settings(FUZZ, max_examples=60)
@given(mutation=mutations(SDL, custom_scalars=SCALARS))
def test_generated_mutations_never_fail_inside(fuzzed: TestClient, mutation: str) -> None:
    check(fuzzed, mutation)
