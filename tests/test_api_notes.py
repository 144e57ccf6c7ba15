"""Associates' notes (issue 20): written with a writer key, read newest first, the text only with an admin
key (audited); in the subject-access export, and removed by erasure."""

from __future__ import annotations

import time
from collections.abc import Iterator

import jwt
import pytest
from starlette.testclient import TestClient
from test_api_support import ADMIN, READER, WRITER, codes, data, make_app, post, seed

from api.tokens import TokenSettings
from graph_model import run_query
from graph_model.settings import Settings

ADD = "mutation($id: ID!, $text: String!) { addNote(customerId: $id, text: $text) { id createdAt } }"
NOTES = 'query($id: ID!) { customer(id: $id) { notes { id createdAt text } } }'
SECRET = "a-shared-secret-of-the-retailer-backend-0123456789"


@pytest.fixture
def api(graph: Settings) -> Iterator[TestClient]:
    seed(graph)
    with TestClient(make_app(graph)) as client:
        yield client


def add(client: TestClient, text: str, customer: str = "C1", key: str = WRITER) -> dict:
    return data(client, ADD, {"id": customer, "text": text}, key=key)["addNote"]


def test_a_writer_adds_notes_an_admin_reads_them_newest_first_a_reader_without_text(api: TestClient) -> None:
    first = add(api, "Prefers the blue tents; call after 5pm.")
    second = add(api, "  Asked about the spring sale.  ", key=ADMIN)
    notes = data(api, NOTES, {"id": "C1"}, key=ADMIN)["customer"]["notes"]
    assert [(n["id"], n["text"]) for n in notes] == [(second["id"], "Asked about the spring sale."),
                                                     (first["id"], "Prefers the blue tents; call after 5pm.")]
    read = data(api, '{ auditLog(customerId: "C1", action: "read_personal") { detail } }', key=ADMIN)["auditLog"]
    assert any("note.text" in entry["detail"] for entry in read)
    body = post(api, NOTES, {"id": "C1"}, key=READER).json()
    assert set(codes(body)) == {"FORBIDDEN"}
    assert [n["text"] for n in body["data"]["customer"]["notes"]] == [None, None]
    assert [n["id"] for n in body["data"]["customer"]["notes"]] == [second["id"], first["id"]]
    assert data(api, NOTES, {"id": "C2"})["customer"]["notes"] == []


def test_who_may_write_and_what(api: TestClient) -> None:
    assert codes(post(api, ADD, {"id": "C1", "text": "hello"}, key=READER).json()) == ["FORBIDDEN"]
    assert codes(post(api, ADD, {"id": "NOPE", "text": "hello"}, key=WRITER).json()) == ["NOT_FOUND"]
    assert codes(post(api, ADD, {"id": "C1", "text": "   "}, key=WRITER).json()) == ["BAD_USER_INPUT"]
    assert codes(post(api, ADD, {"id": "C1", "text": "x" * 2001}, key=WRITER).json()) == ["BAD_USER_INPUT"]
    assert run_query("MATCH (n:Note) RETURN count(n) AS notes")[0]["notes"] == 0


def test_a_customer_token_may_not_write_notes(graph: Settings) -> None:
    seed(graph)
    now = int(time.time())
    token = jwt.encode({"sub": "C1", "iat": now, "exp": now + 600}, SECRET, algorithm="HS256")
    with TestClient(make_app(graph, tokens=TokenSettings(secret=SECRET))) as client:
        answer = client.post("/graphql", json={"query": ADD, "variables": {"id": "C1", "text": "hi"}},
                             headers={"Authorization": f"Bearer {token}"})
    assert codes(answer.json()) == ["FORBIDDEN"]


def test_notes_are_in_the_export_and_removed_by_erasure(api: TestClient) -> None:
    note = add(api, "Allergic to wool.")
    export = data(api, '{ subjectAccess(customerId: "C1") }', key=ADMIN)["subjectAccess"]
    assert [(n["noteId"], n["text"]) for n in export["notes"]] == [(note["id"], "Allergic to wool.")]
    assert export["notes"][0]["author"].startswith("writer:")
    add(api, "Another note about Grace.", customer="C2")
    data(api, 'mutation { eraseCustomer(customerId: "C1") { erased } }', key=ADMIN)
    remaining = run_query("MATCH (n:Note) RETURN n.text AS text, [(c:Customer)-[:HAS_NOTE]->(n) | c.customerId] AS about")
    assert remaining == [{"text": "Another note about Grace.", "about": ["C2"]}]
    assert codes(post(api, ADD, {"id": "C1", "text": "after erasure"}, key=WRITER).json()) == ["NOT_FOUND"]


def test_a_note_about_a_pasted_id_is_about_its_customer(api: TestClient) -> None:
    note = data(api, "mutation { addNote(customerId: \"C1\\u200b \", text: \"Likes tents\") { id } }",
                key=WRITER)["addNote"]
    notes = data(api, '{ customer(id: "C1") { notes { id text } } }', key=ADMIN)["customer"]["notes"]
    assert notes == [{"id": note["id"], "text": "Likes tents"}]
