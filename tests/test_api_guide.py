# ruff: noqa: F811 - pytest fixtures imported from test_api_support are redefined as parameters
"""The analysts' Neo4j Browser guide (``:play http://localhost:8000/guide``): served CORS-open, one slide
per library file, and every picture query runs on the analysts' fixture graph and draws something."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from test_api_support import CHROMIUM, make_app, served  # noqa: F401

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


@pytest.fixture
def served_guide(analyst_graph: Settings) -> Iterator[str]:
    """The API served by uvicorn on a free loopback port (the Browser fetches the guide over HTTP)."""
    with served(make_app(analyst_graph)) as port:
        yield f"http://localhost:{port}/guide"


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)")
def test_the_real_neo4j_browser_plays_the_guide_and_draws_a_picture(
        analyst_graph: Settings, served_guide: str, artifacts: Path) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    if not analyst_graph.uses_local_server:
        pytest.skip("the Browser is served by the project's local Neo4j only")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(analyst_graph.browser_url.replace("127.0.0.1", "localhost"), wait_until="networkidle")
        page.locator('[data-testid="boltaddress"]').fill(f"bolt://127.0.0.1:{analyst_graph.bolt_port}")
        page.locator('[data-testid="username"]').fill(analyst_graph.user)
        page.locator('[data-testid="password"]').fill(analyst_graph.password)
        page.locator('[data-testid="connect"]').click()
        # the editor shows before the Browser's driver is connected; a statement run before then fails with
        # "No connection found, did you connect to Neo4j?": wait for the Browser's own connected frame
        connected = page.get_by_text("You are connected as user").first
        try:
            connected.wait_for(timeout=60_000)
        except PlaywrightTimeout:
            page.screenshot(path=str(artifacts / "browser-connect.png"))
            pytest.fail(f"the Browser did not connect: {page.locator('body').inner_text()[:2_000]}")
        editor = page.locator(".monaco-editor textarea").first
        editor.wait_for(timeout=20_000)
        page.wait_for_timeout(1_000)
        editor.click()
        page.keyboard.type(f":play {served_guide}")
        page.keyboard.press("Enter")
        slides = len(PICTURES) + len(library_files()) + 1
        page.locator(f"text=1 / {slides}").wait_for(timeout=20_000)  # every slide arrived
        page.locator('li[aria-label="3"]').click()  # one customer, every channel
        page.locator("pre", has_text="MATCH (c:Customer) WHERE c.erasedAt IS NULL").first.click()
        # the click copies the statement into the main editor; run it with the editor's own button
        # (a key press depends on where the focus landed, which varies with the machine's speed)
        page.locator('[data-testid="activeEditor"]', has_text="erasedAt").first.wait_for(timeout=20_000)
        page.locator('[data-testid="editor-Run"]').first.click()
        try:
            page.locator("svg .node").first.wait_for(timeout=30_000)  # the Browser drew the neighbourhood
        finally:
            page.screenshot(path=str(artifacts / "browser-guide.png"))
            browser.close()
