"""Test fixtures: a real Neo4j for the whole test session, and a clean graph for each test that asks.

Where the database comes from, in order:
1. ``NEO4J_URI`` (with ``NEO4J_USER`` / ``NEO4J_PASSWORD`` / ``NEO4J_DATABASE``): any Neo4j 5 you point at.
   Its graph is emptied before each test that uses it: never point the tests at a database you need.
2. A Neo4j testcontainer (``neo4j:5.26-community`` with APOC and GDS), when a Docker engine answers.
3. The project's local Neo4j, started once per test session on free ports in a temporary home
   (sharing the resolved jar cache) and stopped at the end.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from graph_model import connection
from graph_model.database import clear_graph, local_server
from graph_model.local_server import LocalServer
from graph_model.local_server.server import free_port
from graph_model.schema import apply_schema
from graph_model.settings import Settings, load_settings

TEST_PASSWORD = "test-password"


def _docker_engine_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=15, check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _container_settings(stack: list[object]) -> Settings:
    from testcontainers.neo4j import Neo4jContainer

    container = Neo4jContainer("neo4j:5.26-community", password=TEST_PASSWORD)
    container.with_env("NEO4J_PLUGINS", '["apoc", "graph-data-science"]')
    container.with_env("NEO4J_dbms_security_procedures_unrestricted", "apoc.*,gds.*")
    container.start()
    stack.append(container)
    env = {"NEO4J_URI": container.get_connection_url(), "NEO4J_USER": "neo4j", "NEO4J_PASSWORD": TEST_PASSWORD}
    return load_settings(env)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests marked ``restarts_server`` run after all the others (each group in its collected order). A
    stop empties the server's query plan cache: every test after a restart plans its statements again (the
    collection API's collector plans every writer when it starts, 35-42 s on a cold cache), so restarting
    the session's server only at the end spares the tests that followed each restart their re-planning."""
    items.sort(key=lambda item: item.get_closest_marker("restarts_server") is not None)


@pytest.fixture(autouse=True)
def runs_folder_of_its_own(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test's runs folder (reports, rejects, the erasure ledger) is its own: a person one test erased is not
    brought into the next test's empty graph from the ledger (:mod:`graph_model.privacy.ledger`)."""
    monkeypatch.setenv("CUSTOMER_GRAPH_RUNS_DIR", str(tmp_path_factory.mktemp("runs")))


@dataclass
class DatabaseUnderTest:
    """The database of this test session, and the local server behind it when the tests started one."""

    settings: Settings
    server: LocalServer | None


@pytest.fixture(scope="session")
def database_under_test(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseUnderTest]:
    """The real Neo4j this test session runs against (schema applied)."""
    stack: list[object] = []
    server: LocalServer | None = None
    if os.environ.get("NEO4J_URI"):
        settings = load_settings()
    elif _docker_engine_answers():
        settings = _container_settings(stack)
    else:
        home = Path(tmp_path_factory.mktemp("neo4j-home"))
        settings = replace(
            load_settings({**os.environ, "NEO4J_PASSWORD": TEST_PASSWORD}),
            home=home, bolt_port=free_port(), http_port=free_port(), heap="1g", pagecache="512m",
        )
        server = local_server(settings)
        server.start()
        stack.append(server)
    connection.configure(settings)
    apply_schema()
    yield DatabaseUnderTest(settings, server)
    connection.close_driver()
    for resource in reversed(stack):
        resource.stop()  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def neo4j_settings(database_under_test: DatabaseUnderTest) -> Settings:
    """Settings of the real Neo4j this test session runs against (schema applied)."""
    return database_under_test.settings


@pytest.fixture
def graph(neo4j_settings: Settings) -> Settings:
    """A real, empty graph (schema in place) for one test."""
    connection.configure(neo4j_settings)
    clear_graph()
    return neo4j_settings


ANALYST_FIXTURE = Path(__file__).parent / "fixtures" / "analyst_graph.cypher"


@pytest.fixture(scope="module")
def analyst_graph(neo4j_settings: Settings) -> Settings:
    """The analysts' fixture graph (tests/fixtures/analyst_graph.cypher), loaded once per module that reads it."""
    from customer_graph.cypher_library import run_script

    connection.configure(neo4j_settings)
    clear_graph()
    run_script(ANALYST_FIXTURE.read_text(encoding="utf-8"))
    return neo4j_settings


@pytest.fixture
def artifacts(request: pytest.FixtureRequest) -> Path:
    """Where a test keeps what a person should look at afterwards (the browser tests' screenshots):
    ``$CUSTOMER_GRAPH_TEST_ARTIFACTS`` (default ``test-artifacts/`` in the checkout), one folder per test,
    kept after the run (CI can publish it); emptied when the test starts."""
    root = Path(os.environ.get("CUSTOMER_GRAPH_TEST_ARTIFACTS", Path(__file__).resolve().parent.parent / "test-artifacts"))
    folder = root / re.sub(r"[^\w.-]+", "_", request.node.name)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder
