"""What a new user relies on without running it here: docker compose, the CI script, the README's commands."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def test_docker_compose_runs_neo4j_526_with_apoc_gds_and_the_api() -> None:
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    neo4j = services["neo4j"]
    assert neo4j["image"] == "neo4j:5.26-community"
    assert "apoc" in neo4j["environment"]["NEO4J_PLUGINS"] and "graph-data-science" in neo4j["environment"]["NEO4J_PLUGINS"]
    assert {"127.0.0.1:7474:7474", "127.0.0.1:7687:7687"} <= {str(p).split("#")[0].strip() for p in neo4j["ports"]}
    assert "healthcheck" in neo4j and neo4j["volumes"]
    for name in ("api", "loader"):
        assert services[name]["depends_on"]["neo4j"]["condition"] == "service_healthy"
        assert services[name]["environment"]["NEO4J_URI"] == "bolt://neo4j:7687"
    assert services["loader"]["restart"] == "no"
    # storage limitation runs on its own, as long as the service does (not only when someone remembers it)
    retention = services["retention"]
    assert retention["command"] == ["customer-graph", "privacy", "retention", "--every",
                                    "${CUSTOMER_GRAPH_RETENTION_EVERY:-24h}"]
    assert retention["restart"] == "unless-stopped" and retention["stop_grace_period"] == "5m"
    assert retention["depends_on"]["neo4j"]["condition"] == "service_healthy"


def test_docker_compose_is_production_safe() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    services = yaml.safe_load(text)["services"]
    neo4j, api, loader = services["neo4j"], services["api"], services["loader"]
    # Neo4j answers on this machine only (the other containers use the compose network)
    assert [str(p).split("#")[0].strip() for p in neo4j["ports"]] == ["127.0.0.1:7474:7474", "127.0.0.1:7687:7687"]
    # no default secret anywhere: compose refuses to start without each of them (${NAME:?message})
    references = dict(re.findall(r"\$\{(\w+)(:?[-?][^}]*)?\}", text))
    # (settings that are not secrets may have defaults: the timeout, the retention periods)
    assert {name for name, rest in references.items() if not rest.startswith(":?")} == {
        "NEO4J_TRANSACTION_TIMEOUT", "CUSTOMER_GRAPH_RETENTION", "CUSTOMER_GRAPH_RETENTION_EVERY"}
    assert {"NEO4J_PASSWORD", "CUSTOMER_GRAPH_API_KEYS", "CUSTOMER_GRAPH_PRIVACY_KEY"} <= set(references)
    assert neo4j["environment"]["NEO4J_AUTH"].startswith("neo4j/${NEO4J_PASSWORD:?")
    assert "customer-graph}" not in text  # the old development password default
    assert neo4j["environment"]["NEO4J_db_transaction_timeout"] == "${NEO4J_TRANSACTION_TIMEOUT:-60s}"
    # the API in production mode, refusing to start without keys; one privacy key for loader and API
    assert api["environment"]["CUSTOMER_GRAPH_ENV"] == "production"
    assert api["environment"]["CUSTOMER_GRAPH_API_KEYS"].startswith("${CUSTOMER_GRAPH_API_KEYS:?")
    for service in (api, loader, services["retention"]):
        assert service["environment"]["NEO4J_PASSWORD"].startswith("${NEO4J_PASSWORD:?")
        assert service["environment"]["CUSTOMER_GRAPH_PRIVACY_KEY"].startswith("${CUSTOMER_GRAPH_PRIVACY_KEY:?")
        assert service["environment"]["CUSTOMER_GRAPH_RETENTION"] == "${CUSTOMER_GRAPH_RETENTION:-}"
        # the API's spool (acknowledged, not yet written) and every run's rejects outlive a container
        assert service["environment"]["CUSTOMER_GRAPH_RUNS_DIR"] == "/var/lib/customer-graph/runs"
        assert "runs:/var/lib/customer-graph/runs" in service["volumes"]
    dockerfile = (ROOT / "Dockerfile").read_text().splitlines()
    assert "ENV CUSTOMER_GRAPH_ENV=production" in dockerfile
    assert dockerfile.index("ENV CUSTOMER_GRAPH_ENV=production") < dockerfile.index(next(
        line for line in dockerfile if line.startswith("CMD ")))


def test_readme_setup_is_exactly_two_commands_and_ci_runs_the_test_one() -> None:
    readme = (ROOT / "README.md").read_text()
    setup = readme.split("## Set-up", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"^\s*(make \w+)\s*(?:#.*)?$", setup, flags=re.MULTILINE)
    assert commands == ["make demo", "make test"]
    assert "make test" in (ROOT / ".ci" / "run").read_text()
