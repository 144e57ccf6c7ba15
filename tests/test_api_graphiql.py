# ruff: noqa: F811 - pytest fixtures imported from test_api_support are redefined as parameters
"""GraphiQL without a CDN (issue 16): the page loads only files the API serves itself, and it runs a
query in a real browser with every request off this machine refused."""

from __future__ import annotations

import re
import tomllib
from fnmatch import fnmatch
from pathlib import Path
from urllib.parse import urlencode

import pytest
from starlette.testclient import TestClient
from test_api_support import CHROMIUM, make_app, offline_page, seeded, served  # noqa: F401

from api.auth import DEV_KEYS
from api.graphiql import ASSETS_DIR, ASSETS_PATH, IMMUTABLE
from graph_model.settings import Settings

REFERENCES = re.compile(r'<(?:script|link)\b[^>]*?\b(?:src|href)="([^"]*)"')
CONTENT_TYPES = {".js": ("text/javascript", "application/javascript"), ".css": ("text/css",)}
MAX_ASSETS_BYTES = 2_000_000
ADMIN_HEADERS = '{"X-API-Key": "dev-admin-key"}'  # the Headers editor overrides the page's reader key
ROOT = Path(__file__).resolve().parent.parent


def graphiql_page(client: TestClient) -> str:
    page = client.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    return page.text


def test_the_page_references_only_assets_the_api_serves(seeded: Settings) -> None:
    for config in ({}, {"development": False, "introspection": True}):
        with TestClient(make_app(seeded, **config)) as client:
            page = graphiql_page(client)
            references = REFERENCES.findall(page)
            assert not re.search(r"https?://", page.replace("http://www.w3.org", ""))  # no URL off this host
            assets = [ref for ref in references if ref.startswith(f"{ASSETS_PATH}/")]
            assert assets == [ref for ref in references if not ref.startswith("data:")]
            assert {Path(ref).suffix for ref in assets} == {".js", ".css"} and len(assets) == 6
            for ref in assets:
                answer = client.get(ref)
                assert answer.status_code == 200, ref
                assert answer.headers["content-type"].split(";")[0] in CONTENT_TYPES[Path(ref).suffix], ref
                assert answer.headers["cache-control"] == IMMUTABLE and len(answer.content) > 500
                again = client.get(ref, headers={"If-None-Match": answer.headers["etag"]})
                assert again.status_code == 304


def test_the_assets_are_packaged_modest_and_not_served_without_graphiql(seeded: Settings) -> None:
    files = [path for path in ASSETS_DIR.iterdir() if path.suffix in (".js", ".css")]
    assert sum(path.stat().st_size for path in files) < MAX_ASSETS_BYTES
    assert all("sourceMappingURL" not in path.read_text(encoding="utf-8") for path in files)
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["api"]
    vendored = [path.relative_to(ROOT / "api").as_posix() for path in ASSETS_DIR.iterdir()]
    assert all(any(fnmatch(name, glob) for glob in package_data) for name in [*vendored, "graphiql.html"])
    with TestClient(make_app(seeded, development=False)) as prod:
        assert prod.get(f"{ASSETS_PATH}/{files[0].name}").status_code == 404


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)")
def test_graphiql_runs_a_query_in_a_browser_without_internet(seeded: Settings) -> None:
    app = make_app(seeded, api_keys=dict(DEV_KEYS), using_dev_keys=True)  # the page sends the reader dev key
    with served(app) as port, offline_page({"width": 1400, "height": 900}) as page:
        for query, headers, expected in (('{ customer(id: "C1") { id city } }', "", '"city": "London"'),
                                         ('{ customer(id: "C1") { name } }', ADMIN_HEADERS, '"name": "Ada Lovelace"')):
            page.goto(f"http://127.0.0.1:{port}/graphql?{urlencode({'q': query, 'headers': headers})}",
                      wait_until="networkidle")
            page.locator(".graphiql-execute-button").click()
            page.locator(".graphiql-response").get_by_text(expected).wait_for(timeout=20_000)
        page.locator('button[aria-label="Show GraphiQL Explorer"]').click()  # the explorer plugin, offline too
        page.locator(".graphiql-explorer-root").wait_for(timeout=10_000)
