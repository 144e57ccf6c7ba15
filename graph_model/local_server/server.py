"""Start, stop and inspect the local Neo4j server (a plain ``java`` process, no launcher script needed)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from graph_model.errors import LocalServerError
from graph_model.local_server import class_archive
from graph_model.local_server.distribution import Distribution, ensure_distribution, java_executable
from graph_model.local_server.processes import pid_alive

JVM_OPTIONS = (
    "-XX:+UseG1GC", "-XX:-OmitStackTraceInFastThrow", "-XX:+DisableExplicitGC",
    "-Djdk.nio.maxCachedBufferSize=262144", "-Dio.netty.tryReflectionSetAccessible=true",
    "-Dlog4j2.disable.jmx=true",
    "--add-opens=java.base/java.nio=ALL-UNNAMED", "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED", "--add-opens=java.base/java.lang=ALL-UNNAMED",
)
ENTRY_POINT = "org.neo4j.server.CommunityEntryPoint"
TX_LOG_RETENTION = "1G size"  # transaction logs kept at most (pruned at checkpoints); Community has no online backup
PORT_RELEASE_SECONDS = 10.0  # how long a start waits for its ports to be released (a server just stopped or killed)


@dataclass
class ServerStatus:
    """What ``customer-graph db status`` prints."""

    running: bool
    pid: int | None
    bolt_port: int
    http_port: int
    home: Path
    data_dir: Path
    log_path: Path
    versions: dict[str, str] = field(default_factory=dict)


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True when nothing listens on ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A TCP port nothing listens on right now (for tests)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for_free_port(port: int, seconds: float) -> bool:
    """True once ``port`` is free; a server that was just killed may hold its sockets for a moment."""
    deadline = time.monotonic() + seconds
    while not port_is_free(port):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def _port_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@dataclass
class LocalServer:
    """One local Neo4j server: its home folder (conf, data, logs, run, import) and its ports."""

    home: Path
    dist_dir: Path
    password: str
    bolt_port: int = 7687
    http_port: int = 7474
    heap: str = "2g"
    pagecache: str = "2g"
    transaction_timeout: str = "60s"  # db.transaction.timeout: the server stops a longer transaction

    @property
    def conf_dir(self) -> Path:
        return self.home / "conf"

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def log_path(self) -> Path:
        return self.home / "logs" / "neo4j.log"

    @property
    def console_log_path(self) -> Path:
        return self.home / "logs" / "console.log"

    @property
    def pid_file(self) -> Path:
        return self.home / "run" / "neo4j.pid"

    def has_database(self, name: str) -> bool:
        """Whether the store of database ``name`` exists (the server's first start, or an import, creates it)."""
        return (self.data_dir / "databases" / name).exists()

    # -- configuration -------------------------------------------------------------------------------

    def write_config(self, dist: Distribution) -> Path:
        """Write ``conf/neo4j.conf``: loopback only, the ports, folders, memory, transaction timeout, at most
        :data:`TX_LOG_RETENTION` of transaction logs, APOC/GDS, no idle wait when stopping."""
        for sub in ("conf", "data", "logs", "run", "import"):
            (self.home / sub).mkdir(parents=True, exist_ok=True)
        conf = self.conf_dir / "neo4j.conf"
        conf.write_text("\n".join([
            "# Written by `customer-graph db start`; edits are overwritten on the next start.",
            "server.default_listen_address=127.0.0.1",
            "server.default_advertised_address=127.0.0.1",
            f"server.bolt.listen_address=127.0.0.1:{self.bolt_port}",
            f"server.bolt.advertised_address=127.0.0.1:{self.bolt_port}",
            f"server.http.listen_address=127.0.0.1:{self.http_port}",
            f"server.http.advertised_address=127.0.0.1:{self.http_port}",
            "server.https.enabled=false",
            f"server.directories.plugins={dist.procedures}",
            f"server.directories.data={self.data_dir}",
            f"server.directories.logs={self.home / 'logs'}",
            f"server.directories.run={self.home / 'run'}",
            f"server.directories.import={self.home / 'import'}",
            f"server.memory.heap.initial_size={self.heap}",
            f"server.memory.heap.max_size={self.heap}",
            f"server.memory.pagecache.size={self.pagecache}",
            f"db.transaction.timeout={self.transaction_timeout}",
            # Neo4j keeps 2 days of transaction logs by default: a few benchmark loads filled a 250 GB disk
            f"db.tx_log.rotation.retention_policy={TX_LOG_RETENTION}",
            "dbms.security.procedures.unrestricted=gds.*,apoc.*",
            "dbms.security.procedures.allowlist=gds.*,apoc.*",
            "dbms.usage_report.enabled=false",
            # a clean stop ends with Netty's graceful shutdown of the Bolt event loops, a quiet period of 5 s twice
            # (boss and worker groups) after the databases have stopped and written their checkpoint: 10 s of
            # every `db stop` spent waiting for connections that are already closed
            "internal.dbms.bolt.netty_server_shutdown_quiet_period=0",
            "",
        ]))
        return conf

    def _environment(self) -> dict[str, str]:
        return {**os.environ, "NEO4J_HOME": str(self.home), "NEO4J_CONF": str(self.conf_dir)}

    def _set_initial_password(self, java: str, dist: Distribution) -> None:
        """Set the password before the very first start (it has no effect afterwards)."""
        if (self.data_dir / "dbms").exists():
            return
        completed = subprocess.run(
            [java, "-cp", dist.admin_classpath, "org.neo4j.cli.AdminTool", "dbms", "set-initial-password",
             self.password],
            capture_output=True, text=True, env=self._environment(), check=False,
        )
        if completed.returncode != 0:
            raise LocalServerError(
                f"neo4j-admin could not set the initial password:\n{condense_java_output(completed.stderr)}"
            )

    # -- process -------------------------------------------------------------------------------------

    def running_pid(self) -> int | None:
        """The pid of this home's server if it is alive, else ``None`` (a stale pid file is ignored)."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            return None
        return pid if ENTRY_POINT in cmdline and str(self.home) in cmdline else None

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of the server's log (or its console output when the log is empty), without stack frames."""
        for path in (self.log_path, self.console_log_path):
            if path.exists() and path.stat().st_size:
                return condense_java_output(path.read_text(errors="replace"), lines)
        return "(no log written)"

    def check_ports(self, wait: float = 0.0) -> None:
        """Raise :class:`LocalServerError` naming the setting when the Bolt or HTTP port stays taken ``wait`` s."""
        for name, port in (("NEO4J_BOLT_PORT", self.bolt_port), ("NEO4J_HTTP_PORT", self.http_port)):
            if not _wait_for_free_port(port, seconds=wait):
                raise LocalServerError(
                    f"port {port} is taken by another process; stop it or choose another port with {name}=..."
                )

    def start(self, timeout: float = 240.0) -> int:
        """Start the server in the background and return its pid once Bolt answers (idempotent)."""
        pid = self.running_pid()
        if pid is not None:
            return pid
        self.check_ports(wait=PORT_RELEASE_SECONDS)
        java = java_executable()
        dist = ensure_distribution(self.dist_dir)
        self.write_config(dist)
        self._set_initial_password(java, dist)
        log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        sharing, candidate = class_archive.archive_options(java, dist.root, dist.classpath)
        with open(self.console_log_path, "ab") as console:
            process = subprocess.Popen(
                [java, f"-Xms{self.heap}", f"-Xmx{self.heap}", *JVM_OPTIONS, *sharing, "-cp", dist.classpath,
                 ENTRY_POINT, f"--home-dir={self.home}", f"--config-dir={self.conf_dir}"],
                stdout=console, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=self._environment(), start_new_session=True,
            )
        if candidate is not None:
            class_archive.record_writer(candidate, process.pid)
        self.pid_file.write_text(str(process.pid))
        self._wait_until_started(process, log_offset, timeout)
        return process.pid

    def _wait_until_started(self, process: subprocess.Popen[bytes], log_offset: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise LocalServerError(
                    f"Neo4j exited during start-up (exit {process.returncode}); last lines of its log:\n{self.log_tail()}"
                )
            if self._log_says_started(log_offset) and _port_answers(self.bolt_port):
                return
            time.sleep(0.25)
        self.stop()
        raise LocalServerError(f"Neo4j did not start within {timeout:.0f} s; last lines of its log:\n{self.log_tail()}")

    def _log_says_started(self, offset: int) -> bool:
        try:
            with open(self.log_path, "rb") as log:
                log.seek(offset)
                return b"Started." in log.read()
        except OSError:
            return False

    def stop(self, timeout: float = 120.0) -> bool:
        """Shut the server down cleanly (SIGTERM, then wait until its process has ended); return False when it was
        not running.

        Neo4j deletes its pid file as its databases stop, before the JVM ends (which then may write the class
        archive for some seconds, :mod:`graph_model.local_server.class_archive`): the process, not the file,
        says when it has stopped."""
        pid = self.running_pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not pid_alive(pid):
                self.pid_file.unlink(missing_ok=True)
                return True
            time.sleep(0.2)
        os.kill(pid, signal.SIGKILL)
        raise LocalServerError(f"Neo4j (pid {pid}) did not stop within {timeout:.0f} s and was killed")

    def status(self) -> ServerStatus:
        """Whether the server runs, where it keeps its data and logs (versions are filled in by callers)."""
        return ServerStatus(
            running=self.running_pid() is not None, pid=self.running_pid(), bolt_port=self.bolt_port,
            http_port=self.http_port, home=self.home, data_dir=self.data_dir, log_path=self.log_path,
        )


def condense_java_output(text: str, lines: int = 15) -> str:
    """The last ``lines`` lines of Java output without ``at ...`` stack frames (messages and causes stay)."""
    kept = [line for line in text.splitlines() if not line.lstrip().startswith(("at ", "... "))]
    return "\n".join(kept[-lines:])
