# ruff: noqa: F811 - pytest fixtures imported from test_api_support are redefined as parameters
"""GraphQL over HTTP, authentication, limits, malformed requests, injection attempts, error hygiene,
health endpoints and the exported SDL."""

from __future__ import annotations

import json
import socket

import pytest
from starlette.testclient import TestClient
from test_api_support import (  # noqa: F401
    ADMIN,
    GRAPHQL_RESPONSE,
    READER,
    WRITER,
    client,
    codes,
    data,
    make_app,
    post,
    seeded,
)

from api.auth import Role
from api.config import ApiConfig, load_api_config
from api.schema.export import SDL_PATH, schema_sdl
from graph_model import run_query
from graph_model.errors import ConfigurationError
from graph_model.settings import Settings

SIMPLE = '{ customer(id: "C1") { id } }'


def raw(client: TestClient, body: bytes, content_type: str = "application/json", key: str | None = READER,
        accept: str = GRAPHQL_RESPONSE) -> tuple[int, str, dict]:
    headers = {"Content-Type": content_type, "Accept": accept}
    if key:
        headers["X-API-Key"] = key
    response = client.post("/graphql", content=body, headers=headers)
    return response.status_code, response.headers["content-type"], response.json()


# --- authentication ---------------------------------------------------------------------------------

def test_requests_without_a_valid_key_are_refused(client: TestClient) -> None:
    for key in (None, "wrong-key-123", ""):
        response = post(client, SIMPLE, key=key)
        assert response.status_code == 401 and codes(response.json()) == ["UNAUTHENTICATED"]
        assert response.headers["www-authenticate"] == "Bearer" and "data" not in response.json()
    bearer = client.post("/graphql", json={"query": SIMPLE}, headers={"Authorization": f"Bearer {READER}"})
    assert bearer.status_code == 200 and bearer.json()["data"] == {"customer": {"id": "C1"}}


def test_api_keys_come_from_the_environment() -> None:
    config = load_api_config({"CUSTOMER_GRAPH_API_KEYS": "front-end-key-1:reader, crm-writer-key:writer"})
    assert {key: role.name for key, role in config.api_keys.items()} == {
        "front-end-key-1": "reader", "crm-writer-key": "writer"}
    assert not config.using_dev_keys
    development = load_api_config({"CUSTOMER_GRAPH_ENV": "development"})
    assert development.using_dev_keys and development.development and "dev-reader-key" in development.api_keys
    with pytest.raises(ConfigurationError):
        load_api_config({"CUSTOMER_GRAPH_ENV": "production"})  # no keys in production
    with pytest.raises(ConfigurationError):
        load_api_config({"CUSTOMER_GRAPH_API_KEYS": "some-long-key:superuser"})


# --- production defaults ----------------------------------------------------------------------------

PROD_KEYS = "front-end-key-1:reader"
INTROSPECTION = "{ __schema { queryType { name } } }"


def test_the_default_environment_is_production() -> None:
    config = load_api_config({"CUSTOMER_GRAPH_API_KEYS": PROD_KEYS})
    assert not config.development and not config.introspection_enabled and not config.using_dev_keys
    assert not ApiConfig().development and not ApiConfig().introspection_enabled
    assert load_api_config({"CUSTOMER_GRAPH_API_KEYS": PROD_KEYS, "CUSTOMER_GRAPH_ENV": ""}).development is False
    enabled = load_api_config({"CUSTOMER_GRAPH_API_KEYS": PROD_KEYS, "CUSTOMER_GRAPH_INTROSPECTION": "1"})
    assert not enabled.development and enabled.introspection_enabled


def test_production_without_keys_is_refused(seeded: Settings) -> None:
    for env in ({}, {"CUSTOMER_GRAPH_ENV": "production"}, {"CUSTOMER_GRAPH_API_KEYS": " "}):
        with pytest.raises(ConfigurationError, match="CUSTOMER_GRAPH_API_KEYS must be set") as error:
            load_api_config(env)
        assert "\n" not in str(error.value)
    with pytest.raises(ConfigurationError):
        make_app(seeded, development=False, api_keys={})  # create_app checks a config it is given, too


@pytest.mark.parametrize("keys", ["dev-admin-key:admin", f"{PROD_KEYS},dev-reader-key:reader",
                                  "dev-writer-key:reader"])
def test_production_refuses_the_development_keys(keys: str, seeded: Settings) -> None:
    with pytest.raises(ConfigurationError, match="development keys") as error:
        load_api_config({"CUSTOMER_GRAPH_API_KEYS": keys})
    assert "\n" not in str(error.value)
    with pytest.raises(ConfigurationError, match="development keys"):
        make_app(seeded, development=False, api_keys={"dev-admin-key": Role.admin})
    assert load_api_config({"CUSTOMER_GRAPH_API_KEYS": keys, "CUSTOMER_GRAPH_ENV": "development"}).development


def test_development_is_for_loopback_only() -> None:
    development = load_api_config({"CUSTOMER_GRAPH_ENV": "development"})
    for host in ("127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"):
        development.check_host(host)
    for host in ("0.0.0.0", "::", "192.168.1.10", "example.com"):
        with pytest.raises(ConfigurationError, match="loopback"):
            development.check_host(host)
    load_api_config({"CUSTOMER_GRAPH_API_KEYS": PROD_KEYS}).check_host("0.0.0.0")


def _serve_refuses(args: list[str], env_update: dict[str, str]) -> str:
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {key: value for key, value in os.environ.items()
           if key not in ("CUSTOMER_GRAPH_API_KEYS", "CUSTOMER_GRAPH_ENV", "CUSTOMER_GRAPH_DEBUG")}
    cli = Path(sys.executable).with_name("customer-graph")
    done = subprocess.run([str(cli), "serve", *args], capture_output=True, text=True, timeout=60,
                          env={**env, **env_update})
    assert done.returncode == 1 and done.stdout == "", (done.stdout, done.stderr)
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    return done.stderr


def test_serve_refuses_unsafe_settings_at_start_with_one_line() -> None:
    assert "loopback" in _serve_refuses(["--dev", "--host", "0.0.0.0", "--port", "1"], {})
    assert "loopback" in _serve_refuses(["--host", "0.0.0.0", "--port", "1"], {"CUSTOMER_GRAPH_ENV": "development"})
    assert "development keys" in _serve_refuses(["--port", "1"], {"CUSTOMER_GRAPH_API_KEYS": "dev-admin-key:admin"})
    assert "CUSTOMER_GRAPH_API_KEYS must be set" in _serve_refuses(["--port", "1"], {})


def test_up_serves_in_development_on_loopback(seeded: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn
    from click.testing import CliRunner

    import customer_graph.up as up_module
    from customer_graph.cli import cli

    served: list[dict] = []
    monkeypatch.setenv("CUSTOMER_GRAPH_ENV", "production")  # restored after the test; `up` must override it
    monkeypatch.delenv("CUSTOMER_GRAPH_API_KEYS", raising=False)
    monkeypatch.setattr(up_module, "ensure_running", lambda settings: None)
    monkeypatch.setattr(up_module, "_orders_loaded", lambda: 1)
    monkeypatch.setattr(up_module, "_sessions_loaded", lambda: 1)
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: served.append(kwargs))
    from graph_model.local_server.server import free_port

    port = str(free_port())  # not 8000: a demo may be serving there
    result = CliRunner().invoke(cli, ["up", "--skip-algorithms", "--port", port], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "serve --dev --host 127.0.0.1" in result.output and "development: GraphiQL" in result.output
    assert "dev-reader-key" in result.output and "dev-admin-key" in result.output
    assert served and served[0]["host"] == "127.0.0.1"
    assert load_api_config().development  # what the app factory reads in the served process
    refused = CliRunner().invoke(cli, ["up", "--skip-algorithms", "--host", "0.0.0.0", "--port", port])
    assert isinstance(refused.exception, ConfigurationError) and len(served) == 1
    with socket.socket() as taken:  # a port in use is said before any step runs, with the way out
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        refused = CliRunner().invoke(cli, ["up", "--skip-algorithms", "--port", str(busy)])
    assert refused.exit_code == 1 and f'make demo DEMO_ARGS="--port {busy + 1}"' in refused.output
    assert "[up]" not in refused.output and len(served) == 1


def test_introspection_is_refused_in_production(seeded: Settings) -> None:
    with TestClient(make_app(seeded, development=False)) as prod:
        for query in (INTROSPECTION, '{ __type(name: "Customer") { name } }'):
            response = post(prod, query)
            assert response.status_code == 400 and set(codes(response.json())) == {"GRAPHQL_VALIDATION_FAILED"}
            assert "introspection has been disabled" in response.json()["errors"][0]["message"]
            assert "data" not in response.json()
            legacy = post(prod, query, accept="application/json")
            assert legacy.status_code == 200 and set(codes(legacy.json())) == {"GRAPHQL_VALIDATION_FAILED"}
        assert data(prod, "{ __typename }") == {"__typename": "Query"}  # not introspection of the schema
        assert prod.get("/graphql", headers={"Accept": "text/html", "X-API-Key": READER}).status_code == 406


def test_introspection_is_answered_in_development_or_when_enabled(seeded: Settings) -> None:
    for config in ({}, {"development": False, "introspection": True}):
        with TestClient(make_app(seeded, **config)) as test_client:
            assert data(test_client, INTROSPECTION) == {"__schema": {"queryType": {"name": "Query"}}}
            page = test_client.get("/graphql", headers={"Accept": "text/html"})
            assert page.status_code == 200 and "graphiql" in page.text.lower()
            assert "dev-reader-key" not in page.text  # the page suggests a dev key only with the dev keys
    # what GraphiQL asks is within the cost limit; 30 aliased deep introspections are not (found by an audit,
    # stop 40: everything under __schema cost 1 a field, and 100 such copies, 6.3 MB, were answered)
    from graphql import get_introspection_query

    with TestClient(make_app(seeded)) as test_client:
        assert "errors" not in post(test_client, get_introspection_query(), key=READER).json()
        deep = " ".join(f"a{n}: __schema {{ types {{ fields {{ type {{ fields {{ type {{ name }} }} }} }} }} }}"
                        for n in range(30))
        assert codes(post(test_client, f"{{ {deep} }}", key=READER).json()) == ["QUERY_TOO_COMPLEX"]


# --- media types and status codes -------------------------------------------------------------------

def test_graphql_response_json_uses_4xx_for_requests_that_cannot_be_validated(client: TestClient) -> None:
    for query, code in (("{ customer(id: \"C1\") { nope } }", "GRAPHQL_VALIDATION_FAILED"),
                        ("{ customer(id: ", "GRAPHQL_PARSE_FAILED")):
        response = post(client, query)
        assert response.status_code == 400, response.json()
        assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE)
        assert "data" not in response.json() and codes(response.json()) == [code]
        legacy = post(client, query, accept="application/json")  # legacy clients: 200, as before the spec
        assert legacy.status_code == 200 and legacy.headers["content-type"].startswith("application/json")
        assert codes(legacy.json()) == [code]


def test_media_type_negotiation(client: TestClient) -> None:
    for accept, expected in ((GRAPHQL_RESPONSE, GRAPHQL_RESPONSE), ("application/json", "application/json"),
                             ("*/*", "application/json"), ("", "application/json"),
                             (f"application/json;q=0.5, {GRAPHQL_RESPONSE}", GRAPHQL_RESPONSE)):
        response = client.post("/graphql", json={"query": SIMPLE}, headers={"X-API-Key": READER, "Accept": accept})
        assert response.status_code == 200 and response.headers["content-type"].startswith(expected), accept
    refused = client.post("/graphql", json={"query": SIMPLE}, headers={"X-API-Key": READER, "Accept": "text/csv"})
    assert refused.status_code == 406 and codes(refused.json()) == ["NOT_ACCEPTABLE"]


def test_get_serves_queries_but_not_mutations(client: TestClient) -> None:
    response = client.get("/graphql", params={"query": "query($id: ID) { customer(id: $id) { id } }",
                                              "variables": json.dumps({"id": "C1"})},
                          headers={"X-API-Key": READER, "Accept": GRAPHQL_RESPONSE})
    assert response.status_code == 200 and response.json() == {"data": {"customer": {"id": "C1"}}}
    mutation = client.get("/graphql", params={"query": 'mutation { eraseCustomer(customerId: "C1") { erased } }'},
                          headers={"X-API-Key": ADMIN})
    assert mutation.status_code == 405 and mutation.headers["allow"] == "POST"
    assert codes(mutation.json()) == ["METHOD_NOT_ALLOWED"]
    assert run_query("MATCH (c:Customer {customerId: 'C1'}) RETURN c.name AS n")[0]["n"] == "Ada Lovelace"
    put = client.put("/graphql", json={"query": SIMPLE}, headers={"X-API-Key": READER})
    assert put.status_code == 405 and codes(put.json()) == ["METHOD_NOT_ALLOWED"]
    # found by an audit (stop 40): a subscription over POST was told to "send it with POST"; unknown paths and
    # methods answered plain text without a code
    subscription = client.post("/graphql", json={"query": "subscription { x }"}, headers={"X-API-Key": READER})
    assert subscription.status_code == 400 and codes(subscription.json()) == ["BAD_REQUEST"]
    assert "Subscriptions are not served" in subscription.text
    nowhere = client.get("/nowhere", headers={"X-API-Key": READER})
    assert nowhere.status_code == 404 and codes(nowhere.json()) == ["NOT_FOUND"]
    wrong = client.post("/healthz")
    assert wrong.status_code == 405 and codes(wrong.json()) == ["METHOD_NOT_ALLOWED"]


def test_graphiql_in_development(seeded: Settings) -> None:
    with TestClient(make_app(seeded)) as development:
        page = development.get("/graphql", headers={"Accept": "text/html"})
        assert page.status_code == 200 and "graphiql" in page.text.lower()
    production = make_app(seeded, development=False)
    with TestClient(production) as prod:
        assert prod.get("/graphql", headers={"Accept": "text/html", "X-API-Key": READER}).status_code == 406


# --- malformed requests: 4xx with a GraphQL error body, never 500 ------------------------------------

@pytest.mark.parametrize(("body", "content_type", "status"), [
    (b'{"query": "{ customer(id: \\"C1\\") { id } }"', "application/json", 400),  # truncated JSON
    (b'{"query": "\xff\xfe{ customer }"}', "application/json", 400),  # invalid UTF-8
    (b"[" * 100_000 + b"]" * 100_000, "application/json", 413),  # absurdly nested and huge
    (b'{"query": "{ a }", "variables": ' + b'{"a":' * 5000 + b"1" + b"}" * 5001, "application/json", 400),
    (b"x" * 200_000, "application/json", 413),  # huge body
    (b'{"query": "{ customer(id: \\"C1\\") { id } }"}', "text/plain", 415),  # wrong content type
    (b'{"query": "{ customer(id: \\"C1\\") { id } }"}', "application/json; charset=latin-1", 415),
    (b'[{"query": "{ segments { id } }"}]', "application/json", 400),  # batches are not supported
    (b'{"query": 42}', "application/json", 400),
    (b'{"variables": {}}', "application/json", 400),
    (b'{"query": "{ segments { id } }", "variables": [1]}', "application/json", 400),
    (b'{"query": "query A { segments { id } }", "operationName": "B"}', "application/json", 400),
    (b'{"query": "query A { segments { id } } query B { segments { name } }"}', "application/json", 400),  # which?
    (b"", "application/json", 400),
])
def test_malformed_requests_get_a_4xx_graphql_error(client: TestClient, body: bytes, content_type: str,
                                                    status: int) -> None:
    code, media, payload = raw(client, body, content_type)
    assert code == status, payload
    assert media.startswith(GRAPHQL_RESPONSE)
    assert isinstance(payload["errors"][0]["message"], str) and payload["errors"][0]["extensions"]["code"]


def test_deeply_nested_variables_within_the_size_limit_are_refused(client: TestClient) -> None:
    nested = "[" * 3000 + "]" * 3000
    code, _, payload = raw(client, ('{"query": "{ segments { id } }", "variables": {"x": ' + nested + "}}").encode())
    assert code == 400 and codes(payload) == ["BAD_REQUEST"]


# --- limits -----------------------------------------------------------------------------------------

def test_query_depth_limit(client: TestClient) -> None:
    deep = ('{ customer(id: "C1") { similarShoppers { customer { similarShoppers { customer { similarShoppers '
            '{ customer { similarShoppers { customer { similarShoppers { customer { id } } } } } } } } } } } }')
    response = post(client, deep)
    assert response.status_code == 400 and codes(response.json()) == ["QUERY_TOO_DEEP"]


def test_page_size_limit(client: TestClient) -> None:
    body = post(client, '{ customer(id: "C1") { recommendations(first: 1000) { score } } }').json()
    assert codes(body) == ["BAD_USER_INPUT"] and body["errors"][0]["extensions"]["maxPageSize"] == 100
    body = post(client, "query($n: Int) { product(sku: \"P1\") { affinities(first: $n) { score } } }", {"n": 500}).json()
    assert codes(body) == ["BAD_USER_INPUT"]


@pytest.mark.parametrize("first", ["30241387612708048896", "9" * 5000, "-30241387612708048896"])
def test_out_of_range_int_literals_are_a_graphql_error_not_a_500(client: TestClient, first: str) -> None:
    response = post(client, '{ customer(id: "12347") { recommendations(first: ' + first + ") { score } } }")
    assert response.status_code == 400 and response.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    body = response.json()
    assert codes(body) and set(codes(body)) <= {"BAD_USER_INPUT", "GRAPHQL_VALIDATION_FAILED"}, body
    assert "Traceback" not in response.text and ".py" not in response.text


def test_costs_beyond_any_json_integer_are_reported_within_range(client: TestClient) -> None:
    chain = " ".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(80))
    response = post(client, f"query {{ ...F0 }} {chain} fragment F80 on Query {{ __typename }}")  # cost 2**80
    assert response.status_code == 400 and codes(response.json()) == ["QUERY_TOO_COMPLEX"]
    assert response.json()["errors"][0]["extensions"]["cost"] == 2**53 - 1


def test_cost_limit(client: TestClient) -> None:
    expensive = ('{ customer(id: "C1") { similarShoppers(first: 100) { customer { similarShoppers(first: 100) '
                 '{ customer { recommendations(first: 100) { score } } } } } } }')
    response = post(client, expensive)
    assert response.status_code == 400 and codes(response.json()) == ["QUERY_TOO_COMPLEX"]
    assert response.json()["errors"][0]["extensions"]["cost"] > 20_000


def test_token_limit(client: TestClient) -> None:
    aliases = " ".join(f"a{i}: segments {{ id }}" for i in range(600))
    response = post(client, "{ " + aliases + " }")
    assert response.status_code == 400 and codes(response.json()) == ["TOO_MANY_TOKENS"]


# --- injection and error hygiene ----------------------------------------------------------------------

INJECTIONS = [
    "C1' OR 1=1 //",
    "C1\"}) MATCH (n) DETACH DELETE n //",
    "'}) CALL { MATCH (n) DETACH DELETE n } RETURN 1 AS x //",
    "` MATCH (n) DETACH DELETE n //",
    "$id",
    "\u0000\n\r\\",
    "C1' }]->() DETACH DELETE c //",
]

INJECTABLE = [
    ("query($v: ID) { customer(id: $v) { id } }", lambda v: {"v": v}),
    ("query($v: String!) { customer(identity: {type: \"cookie\", value: $v}) { id } }", lambda v: {"v": v}),
    ("query($v: String!) { customer(identity: {type: $v, value: \"x\"}) { id } }", lambda v: {"v": v}),
    ("query($v: ID!) { product(sku: $v) { sku affinities { score } } }", lambda v: {"v": v}),
    ("query($v: ID!) { store(id: $v) { id } }", lambda v: {"v": v}),
    ("query($v: ID!) { segment(id: $v) { id } }", lambda v: {"v": v}),
    ("query($v: [ID!]!) { customers(ids: $v) { id } }", lambda v: {"v": [v]}),
    ('query($v: String) { customer(id: "C1") { engagementHistory(after: $v) { edges { cursor } } } }',
     lambda v: {"v": v}),
    ('query($v: ID) { customer(id: "C1") { recommendations(context: {storeId: $v, sessionId: $v, productSku: $v}) '
     "{ score } } }", lambda v: {"v": v}),
]

MUTATIONS = [
    ("mutation($v: ID) { trackEvent(input: {type: PAGE_VIEW, sessionId: $v, eventId: $v}) { eventId } }",
     lambda v: {"v": v}),
    ("mutation($v: ID, $s: String) { trackEvent(input: {type: SEARCH, sessionId: \"INJ\", customerId: $v, "
     "query: $s, page: $s, device: $s}) { eventId } }", lambda v: {"v": None, "s": v}),
    ("mutation($v: ID) { trackEvent(input: {type: PRODUCT_VIEW, sessionId: \"INJ2\", productSku: $v, storeId: $v,"
     " orderId: $v, categoryId: $v}) { eventId } }", lambda v: {"v": v}),
    ("mutation($v: ID!) { recordResponse(input: {messageId: $v, type: OPENED}) { type } }", lambda v: {"v": v}),
    ("mutation($v: ID!, $s: String!) { setConsent(input: {customerId: $v, channel: $s, purpose: $s, granted: true})"
     " { granted } }", lambda v: {"v": v, "s": v}),
    ("mutation($v: ID!) { eraseCustomer(customerId: $v) { erased } }", lambda v: {"v": v}),
]


def _graph_fingerprint() -> tuple[int, int, str]:
    nodes = run_query("MATCH (n) RETURN count(n) AS n")[0]["n"]
    rels = run_query("MATCH ()-[r]->() RETURN count(r) AS n")[0]["n"]
    name = run_query("MATCH (c:Customer {customerId: 'C1'}) RETURN c.name AS n")[0]["n"]
    return nodes, rels, name


def test_injection_strings_in_every_argument_reach_cypher_only_as_parameters(client: TestClient) -> None:
    before = _graph_fingerprint()
    for query, variables in INJECTABLE + MUTATIONS:
        for value in INJECTIONS:
            response = post(client, query, variables(value), key=ADMIN)
            body = response.json()
            assert response.status_code in (200, 400), (query, value, body)
            assert set(codes(body)) <= {"NOT_FOUND", "BAD_USER_INPUT"}, (query, value, body)
            text = json.dumps(body).replace(json.dumps(value)[1:-1], "")  # less the value echoed back
            assert not any(leak in text for leak in ("Traceback", "MATCH", "Neo4j", "Cypher", "Syntax")), text
    nodes, rels, name = _graph_fingerprint()
    created = run_query("MATCH (n) WHERE n:Session OR n:Event OR n:Identity OR n:SearchQuery "
                        "RETURN count(n) AS n")[0]["n"]
    assert name == before[2] == "Ada Lovelace"
    assert nodes >= before[0] and rels >= before[1]  # page views are written as data, nothing is deleted
    stored = {row["id"] for row in run_query("MATCH (s:Session) RETURN s.sessionId AS id")}
    assert set(INJECTIONS) <= stored and created > 0  # the strings were stored verbatim, as values


def test_unexpected_errors_leave_no_trace_in_the_response(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    from api.queries import segments

    async def broken(*args: object, **kwargs: object) -> list:
        raise RuntimeError("boom at MATCH (s:Secret) RETURN s -- /work/main/api/queries/segments.py line 42")

    monkeypatch.setattr(segments, "segments", broken)
    response = post(client, "{ segments { id } }")
    body = response.json()
    assert codes(body) == ["INTERNAL_SERVER_ERROR"] and body["errors"][0]["message"] == "Internal server error."
    assert "boom" not in response.text and "MATCH" not in response.text and ".py" not in response.text


# --- health and schema ----------------------------------------------------------------------------------

def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["database"] == "reachable"


def test_exported_schema_is_in_sync() -> None:
    assert SDL_PATH.read_text(encoding="utf-8") == schema_sdl(), "run: python -m api.schema.export"


def test_schema_limits_come_from_the_config(seeded: Settings) -> None:
    with TestClient(make_app(seeded, max_page_size=5)) as small:
        body = post(small, '{ customer(id: "C1") { recommendations(first: 6) { score } } }').json()
        assert codes(body) == ["BAD_USER_INPUT"]
    assert ApiConfig().max_page_size == 100
    assert WRITER  # the writer key exists for the mutation tests


def test_serve_command_prints_the_address_and_dev_keys(seeded: Settings) -> None:
    import os
    import subprocess
    import sys
    import time
    import urllib.request
    from pathlib import Path

    from graph_model.local_server.server import free_port

    port = free_port()
    env = {key: value for key, value in os.environ.items() if key not in ("CUSTOMER_GRAPH_API_KEYS", "CUSTOMER_GRAPH_ENV")}
    env.update({"NEO4J_URI": seeded.bolt_uri, "NEO4J_USER": seeded.user,
                "NEO4J_PASSWORD": seeded.password, "NEO4J_DATABASE": seeded.database})
    cli = Path(sys.executable).with_name("customer-graph")
    server = subprocess.Popen([str(cli), "serve", "--dev", "--port", str(port)], stdout=subprocess.PIPE, text=True,
                              env=env)
    try:
        lines = [server.stdout.readline() for _ in range(6)]  # type: ignore[union-attr]
        assert any(f"http://127.0.0.1:{port}/graphql" in line for line in lines), lines
        assert any("dev-reader-key" in line for line in lines) and any("dev-admin-key" in line for line in lines)
        deadline = time.monotonic() + 20
        while True:
            try:
                request = urllib.request.Request(f"http://127.0.0.1:{port}/graphql", method="POST",
                                                 data=json.dumps({"query": "{ segments { id } }"}).encode(),
                                                 headers={"Content-Type": "application/json",
                                                          "X-API-Key": "dev-reader-key"})
                with urllib.request.urlopen(request, timeout=5) as response:
                    assert json.load(response)["data"]["segments"][0]["id"] == "SEG1"
                break
            except OSError:
                assert time.monotonic() < deadline, "serve did not answer"
                time.sleep(0.3)
    finally:
        server.terminate()
        server.wait(timeout=15)


def test_parser_and_validation_caches_are_installed_and_stay_valid() -> None:
    from api.schema import build_schema

    factories = build_schema().extensions
    kinds = {type(factory()).__name__ for factory in factories}  # type: ignore[operator]
    assert {"CachedParser", "ValidationCache", "MaxTokensLimiter", "AddValidationRules"} <= kinds
    rules = next(f for f in factories if type(f()).__name__ == "AddValidationRules")  # type: ignore[operator]
    # the same rule classes for every request, so cached validations are keyed alike
    assert rules().validation_rules == rules().validation_rules  # type: ignore[operator]


def test_a_document_is_parsed_once_for_the_operation_check_and_the_schema(client: TestClient) -> None:
    from api.documents import parse_document

    parse_document.cache_clear()
    query = "query Mine { segments { id } }"
    assert post(client, query).status_code == 200  # no operationName: the HTTP layer counts its operations
    assert (parse_document.cache_info().misses, parse_document.cache_info().hits) == (1, 1)


@pytest.mark.parametrize("path", ["/graphql", "/v1/batch"])
def test_a_client_that_leaves_mid_body_is_no_error_of_the_service(
        graph: Settings, tmp_path, caplog: pytest.LogCaptureFixture, path: str) -> None:
    """Found by the stop-37 audit: a client closing the connection while sending its body left a
    ``ClientDisconnect`` traceback in the log (an unhandled exception of the endpoint)."""
    import asyncio

    from api.collection.config import CollectionConfig

    app = make_app(graph, collection=CollectionConfig(write_keys=frozenset({"test-write-key-0001"}),
                                                      spool_path=tmp_path / "spool.sqlite"))
    headers = [(b"content-type", b"application/json"), (b"content-length", b"100"), (b"x-api-key", READER.encode()),
               (b"authorization", b"Basic dGVzdC13cml0ZS1rZXktMDAwMTo=")]  # the write key, for /v1/batch
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "headers": headers,
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}
    incoming = iter([{"type": "http.request", "body": b'{"query": "{ __ty', "more_body": True},
                     {"type": "http.disconnect"}])
    sent: list[dict] = []

    async def receive() -> dict:
        return next(incoming)

    async def send(message: dict) -> None:
        sent.append(message)

    with caplog.at_level("ERROR"):
        asyncio.run(app(scope, receive, send))
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 400
    assert [record for record in caplog.records if record.levelname == "ERROR"] == []
