# ruff: noqa: F811 - pytest fixtures imported from test_api_support are redefined as parameters
"""The GraphQL-over-HTTP conformance audits of `graphql-http` (its ``auditServer``, pinned in
``tests/audit/package.json``) against the API served by uvicorn on the real Neo4j: every MUST passes, and so
does every SHOULD and MAY (warnings are failures here, so a regression of any kind shows).

The audits run in Node (``tests/audit/audit.mjs``); ``.ci/run`` installs them with ``npm ci``. Without
``node`` or the installed package the test is skipped with that reason.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_api_support import READER, make_app, seeded, served  # noqa: F401

from graph_model.settings import Settings

AUDIT_DIR = Path(__file__).parent / "audit"
SCRIPT = AUDIT_DIR / "audit.mjs"


@pytest.fixture(scope="module")
def served_api(seeded: Settings) -> Iterator[str]:
    """The API served by uvicorn on a free loopback port (the audits speak real HTTP)."""
    with served(make_app(seeded)) as port:
        yield f"http://127.0.0.1:{port}/graphql"


def test_every_graphql_over_http_audit_passes(served_api: str) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("no node on PATH (the graphql-http audits run in Node)")
    if not (AUDIT_DIR / "node_modules" / "graphql-http").is_dir():
        pytest.skip("graphql-http is not installed: npm ci --prefix tests/audit")
    run = subprocess.run([node, str(SCRIPT), served_api, READER], capture_output=True, text=True, timeout=120,
                         check=False)
    assert run.returncode == 0, run.stderr
    results = json.loads(run.stdout)
    failed = [f"{r['status']}: {r['name']}: {r['reason']} {r['body']}" for r in results if r["status"] != "ok"]
    assert len(results) >= 61  # as many audits as graphql-http 1.23 runs
    assert failed == []
