# ruff: noqa: F811 - pytest fixtures imported from test_api_support are redefined as parameters
"""Customer tokens (api/tokens.py) over HTTP on the real database: a web shop's signed-in customer reads
its own profile (personal fields included, audited) and nobody else's; another customer's id answers
exactly like an unknown one; identifier lookups are refused; bad tokens are 401; HS256 and RS256 (JWKS file
or a loopback URL) both work; the home location's distances need admin or the customer's own token."""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.server
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
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
    seed,
    seeded,
)

from api.auth import Role
from api.config import load_api_config
from api.tokens import TokenSettings
from graph_model import run_query
from graph_model.errors import ConfigurationError
from graph_model.settings import Settings

SECRET = "a-shared-secret-of-the-retailer-backend-0123456789"
ISSUER, AUDIENCE = "https://login.shop.example", "customer-graph"
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PUBLIC_PEM = RSA_KEY.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)


def jwks(key: rsa.RSAPrivateKey = RSA_KEY, kid: str = "idp-1") -> dict[str, Any]:
    public = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {"keys": [{**public, "kid": kid, "alg": "RS256", "use": "sig"}]}


def claims(sub: str = "C1", **changes: Any) -> dict[str, Any]:
    """Valid claims for ``sub``; a change to ``None`` leaves that claim out."""
    now = int(time.time())
    every = {"sub": sub, "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 600, **changes}
    return {name: value for name, value in every.items() if value is not None}


def hs256(sub: str = "C1", secret: str = SECRET, **changes: Any) -> str:
    return jwt.encode(claims(sub, **changes), secret, algorithm="HS256")


def rs256(sub: str = "C1", key: rsa.RSAPrivateKey = RSA_KEY, kid: str = "idp-1", **changes: Any) -> str:
    return jwt.encode(claims(sub, **changes), key, algorithm="RS256", headers={"kid": kid})


def _b64(part: bytes) -> bytes:
    return base64.urlsafe_b64encode(part).rstrip(b"=")


def forged(header: dict[str, Any], payload: dict[str, Any], hmac_key: bytes | None) -> str:
    """A token PyJWT refuses to make: ``alg: none``, or HS256 keyed with the RSA public key."""
    signing_input = _b64(json.dumps(header).encode()) + b"." + _b64(json.dumps(payload).encode())
    signature = _b64(hmac.new(hmac_key, signing_input, hashlib.sha256).digest()) if hmac_key is not None else b""
    return (signing_input + b"." + signature).decode()


def ask(client: TestClient, query: str, token: str, variables: dict[str, Any] | None = None) -> Any:
    """POST with ``Authorization: Bearer <token>``; the httpx response."""
    return client.post("/graphql", json={"query": query, "variables": variables or {}},
                       headers={"Authorization": f"Bearer {token}", "Accept": GRAPHQL_RESPONSE})


def ok(client: TestClient, query: str, token: str, variables: dict[str, Any] | None = None) -> Any:
    response = ask(client, query, token, variables)
    body = response.json()
    assert response.status_code == 200 and "errors" not in body, body
    return body["data"]


@pytest.fixture(scope="module")
def jwks_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("idp") / "jwks.json"
    path.write_text(json.dumps(jwks()), encoding="utf-8")
    return path


def token_app(settings: Settings, jwks_source: str | Path, **config: Any) -> Any:
    tokens = TokenSettings(secret=SECRET, jwks=str(jwks_source), issuer=ISSUER, audience=AUDIENCE)
    return make_app(settings, tokens=tokens, **config)


@pytest.fixture(scope="module")
def shop(seeded: Settings, jwks_file: Path) -> Iterator[TestClient]:
    """The API over the seeded graph, accepting HS256 and RS256 customer tokens."""
    with TestClient(token_app(seeded, jwks_file)) as test_client:
        yield test_client


@pytest.fixture
def fresh_shop(graph: Settings, jwks_file: Path) -> Iterator[TestClient]:
    """The same on a freshly seeded graph, for tests that write."""
    seed(graph)
    with TestClient(token_app(graph, jwks_file)) as test_client:
        yield test_client


# --- reading one's own customer --------------------------------------------------------------------------

OWN = """{ customer(id: "C1") { id city name emailHash homeLocation { latitude longitude }
  identities { type value } consents { channel purpose granted }
  engagementHistory(first: 30, types: [RESPONSE]) { edges { node { ... on ResponseEntry { response text } } } } } }"""


@pytest.mark.parametrize("make_token", [hs256, rs256], ids=["HS256", "RS256-jwks-file"])
def test_a_customer_token_reads_its_own_customer_with_personal_fields_audited(shop: TestClient, make_token: Any) -> None:
    customer = ok(shop, OWN, make_token())["customer"]
    assert (customer["id"], customer["name"], customer["emailHash"]) == ("C1", "Ada Lovelace", "hash-ada")
    assert customer["homeLocation"] == {"latitude": 51.5072, "longitude": -0.1276}
    assert {(i["type"], i["value"]) for i in customer["identities"]} == {("email_hash", "hash-ada"),
                                                                       ("cookie", "ck-ada")}
    texts = [edge["node"]["text"] for edge in customer["engagementHistory"]["edges"]]
    assert "Call me on 07700 900123" in texts
    algorithm = make_token.__name__.upper()
    rows = run_query("MATCH (a:AuditEntry {action: 'read_personal', actor: $actor}) RETURN a.detail AS detail",
                     {"actor": f"customer-token:{algorithm}"})
    assert rows and "name" in rows[-1]["detail"] and "C1" not in rows[-1]["detail"]
    # the same fields stay FORBIDDEN for a reader key
    refused = post(shop, '{ customer(id: "C1") { name } }').json()
    assert codes(refused) == ["FORBIDDEN"] and refused["data"]["customer"]["name"] is None


def test_a_token_s_subject_is_read_as_a_key_like_the_id_it_asks_for(shop: TestClient) -> None:
    """An id argument is read as a key (KeyArguments), so the token's subject is too: a subject of "C1 " and
    `customer(id: "C1")` are the same customer, and each reads only that one."""
    assert ok(shop, '{ customer(id: "C1") { id } }', hs256(sub="C1\u200b "))["customer"]["id"] == "C1"
    assert ok(shop, '{ customer(id: " C1") { id } }', hs256())["customer"]["id"] == "C1"
    assert codes(ask(shop, '{ customer(id: "C2") { id } }', hs256(sub=" C1")).json()) == ["NOT_FOUND"]


FOREIGN = 'query($id: ID) { customer(id: $id) { id city churnRisk } }'


def test_another_customers_id_answers_exactly_like_an_unknown_id(shop: TestClient) -> None:
    assert data(shop, FOREIGN, {"id": "C2"})["customer"]["city"] == "London"  # C2 exists (a reader sees it)
    token = hs256("C1")
    foreign = ask(shop, FOREIGN, token, {"id": "C2"})
    unknown = ask(shop, FOREIGN, token, {"id": "C404"})
    assert foreign.status_code == unknown.status_code == 200
    assert foreign.json() == json.loads(json.dumps(unknown.json()).replace("C404", "C2"))
    assert codes(foreign.json()) == ["NOT_FOUND"] and foreign.json()["data"] == {"customer": None}

    many = ask(shop, 'query($ids: [ID!]!) { customers(ids: $ids) { id name } }', token,
               {"ids": ["C2", "C1", "C404"]}).json()
    assert many["data"]["customers"] == [None, {"id": "C1", "name": "Ada Lovelace"}, None]
    errors = {tuple(error["path"]): error for error in many["errors"]}
    assert set(errors) == {("customers", 0), ("customers", 2)}
    assert {k: v for k, v in errors["customers", 0].items() if k != "path"} == json.loads(json.dumps(
        {k: v for k, v in errors["customers", 2].items() if k != "path"}).replace("C404", "C2"))


def test_a_customer_token_may_not_look_customers_up_by_identifier(shop: TestClient) -> None:
    query = 'query($v: String!) { customer(identity: {type: "email_hash", value: $v}) { id } }'
    assert data(shop, query, {"v": "hash-ada"})["customer"] == {"id": "C1"}  # a reader key may
    for value in ("hash-ada", "hash-of-someone-else"):  # not even its own identifier: no oracle
        body = ask(shop, query, hs256("C1"), {"v": value}).json()
        assert codes(body) == ["FORBIDDEN"] and body["data"] == {"customer": None}


def test_no_other_customer_leaks_through_nested_fields(shop: TestClient) -> None:
    similar = '{ customer(id: "C1") { similarShoppers { customer { id name } } } }'
    assert data(shop, '{ customer(id: "C1") { similarShoppers { customer { id } } } }')["customer"] == {
        "similarShoppers": [{"customer": {"id": "C2"}}]}
    assert ok(shop, similar, hs256("C1"))["customer"] == {"similarShoppers": []}
    visits = '{ store(id: "S1") { visits { id } visitStats { visits } } }'
    assert data(shop, visits)["store"] == {"visits": [{"id": "V1"}], "visitStats": {"visits": 1}}
    assert ok(shop, visits, hs256("C1"))["store"] == {"visits": [], "visitStats": {"visits": 1}}
    via_timeline = ('{ customer(id: "C1") { engagementHistory(types: [VISIT]) { edges { node { '
                    '... on VisitEntry { store { id visits { id } } } } } } } }')
    assert ok(shop, via_timeline, hs256("C1"))["customer"]["engagementHistory"]["edges"] == [
        {"node": {"store": {"id": "S1", "visits": []}}}]
    # the admin-only queries stay admin-only
    for query in ('{ subjectAccess(customerId: "C1") }', '{ auditLog { id } }'):
        assert codes(ask(shop, query, hs256("C1")).json()) == ["FORBIDDEN"]
    # the catalogue is public
    assert ok(shop, '{ product(sku: "P1") { sku affinities { product { sku } } } }', hs256("C1"))["product"]["sku"] == "P1"


# --- refused tokens --------------------------------------------------------------------------------------

def _refused(client: TestClient, token: str) -> str:
    response = ask(client, '{ customer(id: "C1") { id name } }', token)
    body = response.json()
    assert response.status_code == 401 and codes(body) == ["UNAUTHENTICATED"] and "data" not in body, body
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "Traceback" not in response.text and "jwt" not in body["errors"][0]["message"].lower()
    return str(body["errors"][0]["message"])


def test_invalid_customer_tokens_are_401(shop: TestClient, client: TestClient) -> None:
    now = int(time.time())
    header = {"alg": "HS256", "typ": "JWT"}
    refused = {
        "expired": hs256(exp=now - 120, iat=now - 720),
        "bad signature": hs256(secret="another-secret-that-is-long-enough-0123456789"),
        "wrong alg": jwt.encode(claims(), SECRET, algorithm="HS384"),
        "none alg": forged({"alg": "none", "typ": "JWT"}, claims(), None),
        "HS256 keyed with the RSA public key": forged(header, claims(), PUBLIC_PEM),
        "RS256 with a key not in the JWKS": rs256(key=OTHER_RSA_KEY),
        "RS256 with a known kid but another key": rs256(key=OTHER_RSA_KEY, kid="idp-1"),
        "wrong audience": hs256(aud="another-api"),
        "no audience": hs256(aud=None),
        "wrong issuer": hs256(iss="https://evil.example"),
        "no exp": hs256(exp=None),
        "no sub": jwt.encode(claims(sub=None), SECRET, algorithm="HS256"),
        "a sub of invisible characters": hs256(sub="\u200b\u2060"),  # nobody once read as a key (stop 42)
        "not yet valid": hs256(nbf=now + 3600),
        "malformed": "not.a.token",
        "valid for ever": hs256(exp=10**30),  # accepted until stop 38
        "valid for two days": hs256(exp=now + 2 * 86_400),
    }
    messages = {name: _refused(shop, token) for name, token in refused.items()}
    assert messages["expired"] == "The customer token has expired."
    assert messages["wrong alg"] == messages["none alg"] == ("The customer token's algorithm is not accepted "
                                                             "(accepted: HS256, RS256).")
    assert messages["bad signature"] == messages["HS256 keyed with the RSA public key"] == (
        "The customer token's signature is not valid.")
    assert messages["wrong audience"] == "The customer token is not meant for this API (audience)."
    assert messages["no exp"] == "The customer token lacks the `exp` claim."
    assert messages["a sub of invisible characters"] == "The customer token's `sub` must be the customer id."
    assert messages["valid for ever"] == messages["valid for two days"] == (
        "The customer token is valid for longer than this API accepts (86400 seconds): issue shorter-lived tokens.")
    assert ok(shop, '{ customer(id: "C1") { id } }', hs256(exp=now + 86_400))["customer"] == {"id": "C1"}
    # a small leeway for clocks, no more
    assert ok(shop, '{ customer(id: "C1") { id } }', hs256(exp=now - 5))["customer"] == {"id": "C1"}
    # a token only counts as Bearer, and only where tokens are configured
    as_key = shop.post("/graphql", json={"query": "{ __typename }"}, headers={"X-API-Key": hs256()})
    assert as_key.status_code == 401
    assert ask(client, "{ __typename }", hs256()).status_code == 401  # the plain test app has no tokens


def test_rs256_only_refuses_every_hs256_token(seeded: Settings, jwks_file: Path) -> None:
    app = make_app(seeded, tokens=TokenSettings(jwks=str(jwks_file), issuer=ISSUER, audience=AUDIENCE))
    with TestClient(app) as rs_only:
        assert ok(rs_only, '{ customer(id: "C1") { name } }', rs256())["customer"] == {"name": "Ada Lovelace"}
        _refused(rs_only, forged({"alg": "HS256", "typ": "JWT"}, claims(), PUBLIC_PEM))
        _refused(rs_only, hs256())


def test_api_keys_are_tried_first_even_with_dots(seeded: Settings, jwks_file: Path) -> None:
    with TestClient(token_app(seeded, jwks_file, api_keys={"dotted.api.key": Role.reader})) as dotted:
        response = dotted.post("/graphql", json={"query": '{ customer(id: "C2") { id } }'},
                               headers={"Authorization": "Bearer dotted.api.key"})
        assert response.json() == {"data": {"customer": {"id": "C2"}}}


def test_rs256_keys_from_a_jwks_url_on_loopback_and_a_rotated_file(seeded: Settings, tmp_path: Path) -> None:
    document = json.dumps(jwks(OTHER_RSA_KEY, kid="idp-2")).encode()

    class Keys(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(document)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Keys)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
        with TestClient(make_app(seeded, tokens=TokenSettings(jwks=url))) as by_url:
            assert ok(by_url, '{ customer(id: "C1") { id } }', rs256(key=OTHER_RSA_KEY, kid="idp-2", aud=None))
            _refused(by_url, rs256(aud=None))  # a key the provider does not publish
            # without a configured audience, a token meant for some audience is not taken
            _refused(by_url, rs256(key=OTHER_RSA_KEY, kid="idp-2"))
    finally:
        server.shutdown()
    rotated = tmp_path / "jwks.json"
    rotated.write_text(json.dumps(jwks()), encoding="utf-8")
    with TestClient(make_app(seeded, tokens=TokenSettings(jwks=str(rotated)))) as by_file:
        assert ok(by_file, '{ customer(id: "C1") { id } }', rs256(aud=None))
        rotated.write_text(json.dumps(jwks(OTHER_RSA_KEY, kid="idp-2")), encoding="utf-8")
        time.sleep(0.01)
        assert ok(by_file, '{ customer(id: "C1") { id } }', rs256(key=OTHER_RSA_KEY, kid="idp-2", aud=None))
        _refused(by_file, rs256(aud=None))  # the old key is gone


def test_token_settings_come_from_the_environment_with_clear_errors(jwks_file: Path) -> None:
    config = load_api_config({"CUSTOMER_GRAPH_ENV": "development", "CUSTOMER_GRAPH_TOKEN_SECRET": SECRET,
                              "CUSTOMER_GRAPH_TOKEN_JWKS": str(jwks_file), "CUSTOMER_GRAPH_TOKEN_ISSUER": ISSUER,
                              "CUSTOMER_GRAPH_TOKEN_AUDIENCE": AUDIENCE})
    assert config.tokens == TokenSettings(secret=SECRET, jwks=str(jwks_file), issuer=ISSUER, audience=AUDIENCE)
    assert not load_api_config({"CUSTOMER_GRAPH_ENV": "development"}).tokens.enabled
    assert load_api_config({"CUSTOMER_GRAPH_ENV": "development", "CUSTOMER_GRAPH_TOKEN_SECRET": SECRET,
                            "CUSTOMER_GRAPH_TOKEN_MAX_LIFETIME_SECONDS": "604800"}).tokens.max_lifetime == 604_800
    bad = {
        "CUSTOMER_GRAPH_TOKEN_SECRET": ("short-secret", "CUSTOMER_GRAPH_TOKEN_SECRET needs at least 32 characters"),
        "CUSTOMER_GRAPH_TOKEN_JWKS": ("/nonexistent/jwks.json", "CUSTOMER_GRAPH_TOKEN_JWKS: cannot read"),
    }
    for name, (value, message) in bad.items():
        with pytest.raises(ConfigurationError, match=message):
            load_api_config({"CUSTOMER_GRAPH_ENV": "development", name: value})
    with pytest.raises(ConfigurationError, match="must use https"):
        load_api_config({"CUSTOMER_GRAPH_ENV": "development", "CUSTOMER_GRAPH_TOKEN_JWKS": "http://idp.example/jwks"})
    not_rsa = jwks_file.with_name("hs.json")
    not_rsa.write_text(json.dumps({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}), encoding="utf-8")
    with pytest.raises(ConfigurationError, match="no RSA signing key"):
        load_api_config({"CUSTOMER_GRAPH_ENV": "development", "CUSTOMER_GRAPH_TOKEN_JWKS": str(not_rsa)})


# --- the home location -----------------------------------------------------------------------------------

NEAR_HOME = '{ customer(id: "C1") { nearbyStores(radiusKm: 5) { store { id } distanceKm } offers(radiusKm: 5) { id } } }'
SET_CONSENT = "mutation($input: SetConsentInput!) { setConsent(input: $input) { granted } }"


def test_home_location_distances_need_admin_or_the_customers_own_token(fresh_shop: TestClient) -> None:
    token = hs256("C1")
    grant = {"input": {"customerId": "C1", "channel": "app", "purpose": "location", "granted": True}}
    assert ok(fresh_shop, SET_CONSENT, token, grant)["setConsent"] == {"granted": True}  # the customer itself
    near = ok(fresh_shop, NEAR_HOME, token)["customer"]
    assert [n["store"]["id"] for n in near["nearbyStores"]] == ["S1"] and 0 < near["nearbyStores"][0]["distanceKm"] < 5
    assert near["offers"] == [{"id": "OF1"}, {"id": "OF2"}]
    assert data(fresh_shop, NEAR_HOME, key=ADMIN)["customer"] == near
    for key in (READER, WRITER):  # keys below admin: only from a location they pass
        assert data(fresh_shop, NEAR_HOME, key=key)["customer"] == {"nearbyStores": [], "offers": [{"id": "OF2"}]}
    passed = '{ customer(id: "C1") { nearbyStores(radiusKm: 5, location: {latitude: 51.51, longitude: -0.14}) { store { id } } } }'
    assert data(fresh_shop, passed)["customer"]["nearbyStores"] == [{"store": {"id": "S1"}}]
    withdraw = {"input": {**grant["input"], "granted": False}}
    ok(fresh_shop, SET_CONSENT, token, withdraw)
    assert ok(fresh_shop, NEAR_HOME, token)["customer"] == {"nearbyStores": [], "offers": [{"id": "OF2"}]}


# --- writing as the customer -----------------------------------------------------------------------------

TRACK = "mutation($input: TrackEventInput!) { trackEvent(input: $input) { customerId duplicate } }"
RESPOND = "mutation($input: RecordResponseInput!) { recordResponse(input: $input) { customerId } }"
RECS = """query($ctx: RecommendationContextInput) { customer(id: "C1") {
  recommendations(first: 10, context: $ctx) { product { sku } sources score } } }"""


def _same_but_id(first: Any, second: Any, first_id: str, second_id: str) -> None:
    assert first.status_code == second.status_code
    assert first.json() == json.loads(json.dumps(second.json()).replace(second_id, first_id))


def test_a_customer_token_writes_only_for_its_own_customer(fresh_shop: TestClient) -> None:
    token = hs256("C1")
    tracked = ok(fresh_shop, TRACK, token, {"input": {"type": "PRODUCT_VIEW", "sessionId": "WEB-1",
                                                       "productSku": "P1", "eventId": "EV-1"}})
    assert tracked["trackEvent"] == {"customerId": "C1", "duplicate": False}
    assert run_query("MATCH (:Customer {customerId: 'C1'})-[:HAD_SESSION]->(s:Session {sessionId: 'WEB-1'}) "
                     "RETURN count(s) AS n")[0]["n"] == 1
    # another customer's id answers as an unknown one, and nothing is written
    for name, mutation, field, variables in (
        ("trackEvent", TRACK, "customerId", {"type": "PAGE_VIEW", "sessionId": "WEB-2", "page": "/"}),
        ("setConsent", SET_CONSENT, "customerId", {"channel": "web", "purpose": "marketing", "granted": True}),
    ):
        foreign = ask(fresh_shop, mutation, token, {"input": {**variables, field: "C2"}})
        unknown = ask(fresh_shop, mutation, token, {"input": {**variables, field: "C404"}})
        _same_but_id(foreign, unknown, "C2", "C404")
        assert codes(foreign.json()) == ["NOT_FOUND"], name
    assert run_query("MATCH (s:Session {sessionId: 'WEB-2'}) RETURN count(s) AS n")[0]["n"] == 0
    assert run_query("MATCH (:Customer {customerId: 'C2'})-[:HAS_CONSENT]->(k) RETURN count(k) AS n")[0]["n"] == 0
    # a message sent to someone else answers as an unknown message
    run_query("MATCH (c:Customer {customerId: 'C2'}) CREATE (:Message {messageId: 'M2', channel: 'email'})-[:SENT_TO]->(c)")
    _same_but_id(ask(fresh_shop, RESPOND, token, {"input": {"messageId": "M2", "type": "OPENED"}}),
                 ask(fresh_shop, RESPOND, token, {"input": {"messageId": "M404", "type": "OPENED"}}), "M2", "M404")
    assert ok(fresh_shop, RESPOND, token, {"input": {"messageId": "M1", "type": "CLICKED"}})["recordResponse"] == {
        "customerId": "C1"}
    # no identifiers, no other people's sessions, no erasure
    with_identity = {"type": "PAGE_VIEW", "sessionId": "WEB-1", "identity": {"type": "cookie", "value": "ck-x"}}
    assert codes(ask(fresh_shop, TRACK, token, {"input": with_identity}).json()) == ["FORBIDDEN"]
    data(fresh_shop, TRACK, {"input": {"type": "PRODUCT_VIEW", "sessionId": "SS2", "customerId": "C2",
                                       "productSku": "P1"}}, key=WRITER)
    into_other = ask(fresh_shop, TRACK, token, {"input": {"type": "PAGE_VIEW", "sessionId": "SS2", "page": "/"}})
    assert codes(into_other.json()) == ["FORBIDDEN"]
    assert run_query("MATCH (c:Customer)-[:HAD_SESSION]->(:Session {sessionId: 'SS2'}) RETURN collect(c.customerId) AS ids"
                     )[0]["ids"] == ["C2"]
    erase = ask(fresh_shop, 'mutation { eraseCustomer(customerId: "C1") { erased } }', token)
    assert codes(erase.json()) == ["FORBIDDEN"]
    # a reader key still may not write
    assert codes(post(fresh_shop, SET_CONSENT, {"input": {"customerId": "C1", "channel": "web", "purpose": "marketing",
                                                          "granted": True}}).json()) == ["FORBIDDEN"]


def test_another_customer_s_event_id_tells_a_token_nothing_about_that_event(fresh_shop: TestClient) -> None:
    """Found by the stop-37 audit: CONFLICT's `fields` told a token which guessed fields of another customer's
    event matched (without `sku`: that customer viewed the guessed product)."""
    data(fresh_shop, TRACK, {"input": {"type": "PRODUCT_VIEW", "sessionId": "SS2", "customerId": "C2", "eventId": "EV-C2",
                                       "productSku": "P1"}}, key=WRITER)
    answers = []
    for sku in ("P1", "P2"):  # the right guess and a wrong one answer alike
        answer = ask(fresh_shop, TRACK, hs256("C1"), {"input": {"type": "PRODUCT_VIEW", "sessionId": "WEB-9",
                                                                  "eventId": "EV-C2", "productSku": sku}}).json()
        assert codes(answer) == ["CONFLICT"] and "fields" not in answer["errors"][0]["extensions"], answer
        answers.append(answer["errors"][0]["message"])
    assert answers[0] == answers[1] == "eventId 'EV-C2' is taken: send a new one."
    # the retailer's own key still learns which fields differ (idempotent retries from its back end)
    writer = post(fresh_shop, TRACK, {"input": {"type": "PRODUCT_VIEW", "sessionId": "SS2", "customerId": "C2",
                                                "eventId": "EV-C2", "productSku": "P2"}}, key=WRITER).json()
    assert writer["errors"][0]["extensions"]["fields"] == ["sku"]


def test_recommendations_use_only_the_customers_own_sessions(fresh_shop: TestClient) -> None:
    data(fresh_shop, TRACK, {"input": {"type": "PRODUCT_VIEW", "sessionId": "SS2", "customerId": "C2",
                                       "productSku": "P1"}}, key=WRITER)
    seen_by_reader = data(fresh_shop, RECS, {"ctx": {"sessionId": "SS2"}})["customer"]["recommendations"]
    assert any("CONTEXT_SESSION" in r["sources"] for r in seen_by_reader)  # SS2's views count for a key
    token = hs256("C1")
    foreign = ok(fresh_shop, RECS, token, {"ctx": {"sessionId": "SS2"}})
    assert foreign == ok(fresh_shop, RECS, token, {"ctx": {"sessionId": "SS404"}})
    assert not any("CONTEXT_SESSION" in r["sources"] for r in foreign["customer"]["recommendations"])
    own = ok(fresh_shop, RECS, token, {"ctx": {"sessionId": "SS1"}})["customer"]["recommendations"]
    assert any("CONTEXT_SESSION" in r["sources"] for r in own)
