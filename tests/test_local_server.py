"""The project-managed local Neo4j: Browser, plugins, restarts, crash recovery and clear failure messages.

These tests run against the server the test session started; with ``NEO4J_URI`` set they are skipped
(there is no local server to restart).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

import pytest

from graph_model import connection, run_query
from graph_model.database import clear_graph, local_server
from graph_model.errors import LocalServerError
from graph_model.local_server import LocalServer
from graph_model.local_server import server as server_module
from graph_model.local_server.distribution import Distribution, procedure_folder
from graph_model.local_server.server import free_port
from graph_model.settings import Settings, load_settings


@pytest.fixture
def server(database_under_test: Any, graph: object) -> LocalServer:
    if database_under_test.server is None:
        pytest.skip("the tests run against an external Neo4j (NEO4J_URI); no local server to manage")
    return database_under_test.server


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "customer_graph", *args],
                          capture_output=True, text=True, env=env, check=False, timeout=300)


def _server_env(server: LocalServer) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "NEO4J_URI"}
    return {**env, "CUSTOMER_GRAPH_HOME": str(server.home), "NEO4J_DIST_DIR": str(server.dist_dir),
            "NEO4J_BOLT_PORT": str(server.bolt_port), "NEO4J_HTTP_PORT": str(server.http_port),
            "NEO4J_PASSWORD": server.password}


def test_browser_is_served_and_apoc_and_gds_answer(server: LocalServer) -> None:
    with urllib.request.urlopen(f"http://127.0.0.1:{server.http_port}/browser/", timeout=10) as response:
        assert response.status == 200
        assert "Neo4j Browser" in response.read().decode()
    assert run_query("RETURN apoc.version() AS v")[0]["v"].startswith("5.26")
    assert run_query("RETURN gds.version() AS v")[0]["v"].startswith("2.13")
    assert run_query("CALL dbms.components() YIELD versions RETURN versions[0] AS v")[0]["v"] == "5.26.30"


# What the pinned APOC 5.26.19 and OpenGDS 2.13.9 register when the server scans the whole plugins folder
# (~150 jars, measured on 2026-12-04): the folder of the 13 jars that declare procedures registers them all.
REGISTERED = {("PROCEDURES", "apoc."): 190, ("PROCEDURES", "gds."): 411, ("FUNCTIONS", "apoc."): 246,
              ("FUNCTIONS", "gds."): 24}


def test_the_server_scans_only_the_jars_that_declare_procedures_and_registers_them_all(server: LocalServer) -> None:
    dist = Distribution(server.dist_dir)
    conf = (server.home / "conf" / "neo4j.conf").read_text().splitlines()
    assert f"server.directories.plugins={dist.procedures}" in conf
    linked = sorted(dist.procedures.iterdir())
    assert 0 < len(linked) < len(list(dist.plugins.glob("*.jar"))) / 5
    assert all(jar.is_symlink() and jar.resolve().parent == dist.plugins.resolve() for jar in linked)
    assert {"apoc-core-5.26.19.jar", "proc-community-2.13.9.jar", "proc-sysinfo-2.13.9.jar"} <= {j.name for j in linked}
    for (kind, prefix), expected in REGISTERED.items():
        names = run_query(f"SHOW {kind} YIELD name WHERE name STARTS WITH $prefix RETURN name", {"prefix": prefix})
        assert len(names) == expected, (kind, prefix)


def _jar(path: Path, classes: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in classes.items():
            archive.writestr(name, content)
    return path


def test_the_procedures_folder_links_the_jars_with_procedure_annotations_only(tmp_path: Path) -> None:
    dist = Distribution(tmp_path / "dist")
    dist.plugins.mkdir(parents=True)
    _jar(dist.plugins / "procs.jar", {"a/Library.class": b"\xca\xfe plain",
                                      "a/Procs.class": b"\xca\xfe Lorg/neo4j/procedure/Procedure; more"})
    _jar(dist.plugins / "functions.jar", {"b/F.class": b"\xca\xfe Lorg/neo4j/procedure/UserFunction;"})
    _jar(dist.plugins / "library.jar", {"c/L.class": b"\xca\xfe Lorg/neo4j/procedure/Context;",
                                        "c/readme.txt": b"Lorg/neo4j/procedure/Procedure;"})
    folder = procedure_folder(dist)
    assert folder == dist.procedures
    assert sorted(p.name for p in folder.iterdir()) == ["functions.jar", "procs.jar"]
    assert (folder / "procs.jar").resolve() == (dist.plugins / "procs.jar").resolve()
    _jar(dist.plugins / "later.jar", {"d/P.class": b"Lorg/neo4j/procedure/UserAggregationFunction;"})
    assert sorted(p.name for p in procedure_folder(dist).iterdir()) == ["functions.jar", "procs.jar"]  # made once
    assert not [p for p in dist.root.iterdir() if p.name.startswith(".procedures-")]  # no staging folder left


def test_status_command_reports_pid_ports_versions_and_folders(server: LocalServer) -> None:
    completed = _cli("db", "status", env=_server_env(server))
    assert completed.returncode == 0, completed.stderr
    out = completed.stdout
    assert f"running, pid {server.running_pid()}" in out
    assert f"bolt://127.0.0.1:{server.bolt_port}" in out
    assert str(server.data_dir) in out and str(server.log_path) in out
    assert "APOC:         5.26.19" in out and "GDS:          2.13.9" in out


@pytest.mark.restarts_server
def test_a_server_killed_with_sigkill_comes_back_with_its_data(server: LocalServer) -> None:
    run_query("UNWIND range(1, 500) AS i CREATE (:Customer {customerId: 'killed-' + i})")
    pid = server.running_pid()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    for _ in range(100):
        if server.running_pid() is None:
            break
        time.sleep(0.1)
    server.start()
    connection.close_driver()
    assert run_query("MATCH (c:Customer) WHERE c.customerId STARTS WITH 'killed-' RETURN count(c) AS n")[0]["n"] == 500


@pytest.mark.restarts_server
def test_a_clean_restart_keeps_the_data_and_maps_the_class_archive_of_the_server_s_own_jars(
        server: LocalServer) -> None:
    """The data survives a stop and start. The first JVM writes the class archive at its exit; the next start
    promotes it and the JVM maps it (a JVM that cannot map an archive exits under -Xshare:on); an archive is bound
    to its jars. One restart is enough: the session's server either maps the archive already or writes it when
    this stop ends it."""
    from graph_model.local_server import class_archive
    from graph_model.local_server.processes import pid_alive

    run_query("CREATE (:Customer {customerId: 'survivor-1'})")
    dist, java = Distribution(server.dist_dir), server_module.java_executable()
    archive = class_archive.archive_path(java, dist.root)
    pid = server.running_pid()
    assert pid is not None and server.stop()
    assert server.running_pid() is None
    assert not pid_alive(pid)  # stop waits for the JVM, which writes the archive after Neo4j has stopped
    server.start()
    connection.close_driver()
    assert run_query("MATCH (c:Customer {customerId: 'survivor-1'}) RETURN count(c) AS n")[0]["n"] == 1
    cmdline = Path(f"/proc/{server.running_pid()}/cmdline").read_bytes().decode().split("\0")
    assert f"-XX:SharedArchiveFile={archive}" in cmdline
    assert class_archive.maps(java, dist.classpath, archive)
    assert not class_archive.maps(java, dist.admin_classpath, archive)  # other jars: the JVM would not map it
    assert run_query("RETURN gds.version() AS v")[0]["v"].startswith("2.13")


def _seconds(duration: str) -> float:
    """``1m``, ``60s``, ``1m30s``, ``500ms`` in seconds."""
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
    parts = re.findall(r"(\d+)(ms|s|m|h|d)?", duration)
    return sum(int(number) * units[unit or "s"] for number, unit in parts)


def test_the_written_conf_bounds_every_transaction(tmp_path: Path) -> None:
    settings = load_settings({"CUSTOMER_GRAPH_HOME": str(tmp_path / "home"), "NEO4J_TRANSACTION_TIMEOUT": "45s"})
    conf = local_server(settings).write_config(Distribution(tmp_path / "dist")).read_text().splitlines()
    assert "db.transaction.timeout=45s" in conf
    assert "db.tx_log.rotation.retention_policy=1G size" in conf  # not Neo4j's 2 days of logs
    assert "internal.dbms.bolt.netty_server_shutdown_quiet_period=0" in conf  # a stop does not idle 10 s
    default = LocalServer(home=tmp_path / "other", dist_dir=tmp_path / "dist", password="long-enough")
    assert "db.transaction.timeout=60s" in default.write_config(Distribution(tmp_path / "dist")).read_text().splitlines()


def test_the_running_server_has_the_configured_transaction_timeout(server: LocalServer,
                                                                   neo4j_settings: Settings) -> None:
    # the test server was started through the same settings and conf writer (tests/conftest.py)
    assert server.transaction_timeout == neo4j_settings.transaction_timeout
    [row] = run_query("SHOW SETTINGS YIELD name, value WHERE name = 'db.transaction.timeout' RETURN value", write=False)
    assert _seconds(row["value"]) == _seconds(neo4j_settings.transaction_timeout) > 0  # the server says 60s as 1m
    # a client may still ask for more for one transaction: the maintenance statements do (no limit here)
    clear_graph()


def test_a_taken_port_gives_a_clear_message(server: LocalServer, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    # the start waits PORT_RELEASE_SECONDS (10 s) for the port before it gives up; the same wait, shorter
    monkeypatch.setattr(server_module, "PORT_RELEASE_SECONDS", 0.5)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        other = LocalServer(home=tmp_path / "home", dist_dir=server.dist_dir, password="long-enough",
                            bolt_port=taken, http_port=free_port())
        with pytest.raises(LocalServerError, match=f"port {taken} is taken.*NEO4J_BOLT_PORT"):
            other.start()


def test_a_server_that_fails_to_start_reports_the_end_of_its_log(server: LocalServer, tmp_path: Path) -> None:
    broken = LocalServer(home=tmp_path / "home", dist_dir=server.dist_dir, password="long-enough",
                         bolt_port=free_port(), http_port=free_port(), heap="100000g")
    with pytest.raises(LocalServerError, match="(?s)exited during start-up.*last lines of its log:.*object heap") as caught:
        broken.start(timeout=60)
    assert "\tat " not in str(caught.value)


def test_missing_java_is_a_clear_message_not_a_stack_trace(tmp_path: Path) -> None:
    env = {"PATH": str(tmp_path), "HOME": str(tmp_path), "CUSTOMER_GRAPH_HOME": str(tmp_path / "home"),
           "NEO4J_DIST_DIR": str(tmp_path / "dist"), "NEO4J_BOLT_PORT": str(free_port()),
           "NEO4J_HTTP_PORT": str(free_port())}
    completed = _cli("db", "start", env=env)
    assert completed.returncode == 1
    assert "java not found" in completed.stderr
    assert "Traceback" not in completed.stderr + completed.stdout
