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
    assert {"7474:7474", "7687:7687"} <= {str(p).split("#")[0].strip() for p in neo4j["ports"]}
    assert "healthcheck" in neo4j and neo4j["volumes"]
    for name in ("api", "loader"):
        assert services[name]["depends_on"]["neo4j"]["condition"] == "service_healthy"
        assert services[name]["environment"]["NEO4J_URI"] == "bolt://neo4j:7687"
    assert services["loader"]["restart"] == "no"


def test_readme_setup_is_exactly_two_commands_and_ci_runs_the_test_one() -> None:
    readme = (ROOT / "README.md").read_text()
    setup = readme.split("## Set-up", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"^\s*(make \w+)\s*(?:#.*)?$", setup, flags=re.MULTILINE)
    assert commands == ["make demo", "make test"]
    assert "make test" in (ROOT / ".ci" / "run").read_text()
