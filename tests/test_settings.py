"""Settings come from the environment; NEO4J_URI switches the local server off."""

from pathlib import Path

import pytest

from graph_model.errors import ConfigurationError
from graph_model.settings import load_settings


def test_defaults_use_the_local_server_on_loopback() -> None:
    settings = load_settings({})
    assert settings.uses_local_server
    assert settings.bolt_uri == "bolt://127.0.0.1:7687"
    assert settings.browser_url == "http://127.0.0.1:7474/browser/"
    assert settings.database == "neo4j"


def test_neo4j_uri_points_at_an_external_server() -> None:
    settings = load_settings({"NEO4J_URI": "neo4j+s://abc.databases.neo4j.io", "NEO4J_PASSWORD": "x"})
    assert not settings.uses_local_server
    assert settings.bolt_uri == "neo4j+s://abc.databases.neo4j.io"


def test_ports_and_folders_are_configurable(tmp_path: Path) -> None:
    settings = load_settings({"NEO4J_BOLT_PORT": "17687", "NEO4J_HTTP_PORT": "17474", "CUSTOMER_GRAPH_HOME": str(tmp_path)})
    assert (settings.bolt_port, settings.http_port, settings.home) == (17687, 17474, tmp_path.resolve())


@pytest.mark.parametrize("value", ["abc", "0", "70000"])
def test_a_bad_port_is_a_clear_configuration_error(value: str) -> None:
    with pytest.raises(ConfigurationError, match="NEO4J_BOLT_PORT"):
        load_settings({"NEO4J_BOLT_PORT": value})


def test_a_short_local_password_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="8 characters"):
        load_settings({"NEO4J_PASSWORD": "short"})


def test_a_bad_memory_size_is_a_clear_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="NEO4J_HEAP"):
        load_settings({"NEO4J_HEAP": "lots"})


def test_the_transaction_timeout_is_configurable_and_checked() -> None:
    assert load_settings({}).transaction_timeout == "60s"
    assert load_settings({"NEO4J_TRANSACTION_TIMEOUT": " 500ms "}).transaction_timeout == "500ms"
    assert load_settings({"NEO4J_TRANSACTION_TIMEOUT": "0"}).transaction_timeout == "0"
    for bad in ("soon", "60", "-5s", "1.5s"):
        with pytest.raises(ConfigurationError, match="NEO4J_TRANSACTION_TIMEOUT must be a duration"):
            load_settings({"NEO4J_TRANSACTION_TIMEOUT": bad})
