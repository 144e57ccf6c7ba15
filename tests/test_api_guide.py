# ruff: noqa: F811 - pytest fixtures imported from test_api_support are redefined as parameters
"""The analysts' Neo4j Browser guide (``:play http://localhost:8000/guide``): served CORS-open, one slide
per library file, and every picture query runs on the analysts' fixture graph and draws something."""

from __future__ import annotations

import html
import re

from starlette.testclient import TestClient
from test_api_support import make_app  # noqa: F401

from api.guide import PICTURES, render_guide
from customer_graph.cypher_library import library_files
from graph_model import run_query
from graph_model.settings import Settings

RUNNABLE = re.compile(r'<pre class="pre-scrollable code runnable">(.*?)</pre>', re.S)


def test_the_guide_is_served_cors_open_without_a_key(analyst_graph: Settings) -> None:
    with TestClient(make_app(analyst_graph)) as client:
        answer = client.get("/guide", headers={"Origin": "http://localhost:7474"})
        preflight = client.options("/guide", headers={"Origin": "http://localhost:7474",
                                                       "Access-Control-Request-Method": "GET"})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
    assert answer.headers["access-control-allow-origin"] == "*"
    assert preflight.status_code == 204 and preflight.headers["access-control-allow-origin"] == "*"
    assert answer.text.startswith('<article class="guide"') and "<carousel" in answer.text


def test_one_slide_per_library_file_with_its_statement_and_parameters() -> None:
    blocks = [html.unescape(b) for b in RUNNABLE.findall(render_guide())]
    files = library_files()
    assert len(blocks) == len(PICTURES) + len(files)
    for file, block in zip(files, blocks[len(PICTURES):], strict=True):
        assert file.statement.strip() in block
        for name, text in file.default_texts.items():
            assert f":param {name} => {text};" in block


def test_every_picture_query_runs_and_draws_a_graph(analyst_graph: Settings) -> None:
    for title, _, query in PICTURES[1:]:  # the first is the schema procedure
        rows = run_query(query.rstrip(";"))
        assert rows, f"{title}: no rows on the fixture graph"
        drawn = [value for row in rows for value in row.values() if value]
        assert drawn, f"{title}: nothing to draw"
    schema = run_query(PICTURES[0][2].rstrip(";"))
    assert schema and schema[0]["nodes"]
