"""Configuration from the environment.

When ``NEO4J_URI`` is set the project uses that server (Aura, a cluster, a container) and starts nothing.
Otherwise it runs its own local Neo4j 5.26 (see :mod:`graph_model.local_server`) on ``127.0.0.1``.

=========================  ==========================================  ===============================
variable                   meaning                                     default
=========================  ==========================================  ===============================
NEO4J_URI                  Bolt/neo4j URI of an external server        unset: use the local server
NEO4J_USER                 user name                                   ``neo4j``
NEO4J_PASSWORD             password                                    ``customer-graph``
NEO4J_DATABASE             database name                               ``neo4j``
CUSTOMER_GRAPH_HOME        local server's conf/data/logs folder        ``<project>/.customer-graph``
NEO4J_DIST_DIR             cache of the resolved Neo4j jars            ``~/.cache/customer-graph/...``
NEO4J_BOLT_PORT            local Bolt port                             ``7687``
NEO4J_HTTP_PORT            local HTTP port (Browser)                   ``7474``
NEO4J_HEAP                 local server heap (max)                     ``2g``
NEO4J_PAGECACHE            local server page cache                     ``2g``
NEO4J_TRANSACTION_TIMEOUT  local server stops a transaction after it   ``60s``
                           (``db.transaction.timeout``; ``0`` = never)
=========================  ==========================================  ===============================

``NEO4J_TRANSACTION_TIMEOUT`` bounds the work of any one transaction on the local server, whoever sends it
(an API request, an analyst's query, a stuck client). The project's own transactions fit well inside
60 s: loaders and algorithms write in batches of thousands of rows, and the longest single statements
(deleting a superseded algorithm run's results with ``CALL {...} IN TRANSACTIONS``, whose outer
transaction the timeout covers too) take seconds. A client may ask for another timeout for one
transaction (``cypher run --timeout``, a driver ``Query(timeout=...)``), and the project's maintenance
statements that may run long (emptying the graph, waiting for indexes) do.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from graph_model.errors import ConfigurationError

NEO4J_VERSION = "5.26.30"
DEFAULT_PASSWORD = "customer-graph"


def project_root() -> Path:
    """The checkout this package runs from, or the working directory for a non-editable install."""
    return _checkout() or Path.cwd()


@cache
def _checkout() -> Path | None:
    """The checkout this package runs from, if it runs from one (asked once: the privacy key's default
    location is found through it, once per hashed value before, 45 us of file-system calls each)."""
    candidate = Path(__file__).resolve().parent.parent
    return candidate if (candidate / "pyproject.toml").exists() else None


def _default_dist_dir(env: Mapping[str, str]) -> Path:
    cache = Path(env.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "customer-graph" / f"neo4j-{NEO4J_VERSION}"


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, str(default))
    try:
        port = int(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a port number, got {raw!r}") from None
    if not 0 < port < 65536:
        raise ConfigurationError(f"{name} must be between 1 and 65535, got {port}")
    return port


def _duration(env: Mapping[str, str], name: str, default: str) -> str:
    raw = env.get(name, default).strip()
    if not re.fullmatch(r"0|\d+(ms|s|m|h)", raw):
        raise ConfigurationError(f"{name} must be a duration such as 60s, 500ms, 5m or 0 (no limit), got {raw!r}")
    return raw


def _size(env: Mapping[str, str], name: str, default: str) -> str:
    raw = env.get(name, default).strip()
    if not re.fullmatch(r"\d+[kmgKMG]?", raw):
        raise ConfigurationError(f"{name} must be a size such as 512m or 2g, got {raw!r}")
    return raw


@dataclass(frozen=True)
class Settings:
    """Everything the project needs to reach (or run) its Neo4j database."""

    uri: str | None
    user: str
    password: str
    database: str
    home: Path
    dist_dir: Path
    bolt_port: int
    http_port: int
    heap: str
    pagecache: str
    transaction_timeout: str = "60s"

    @property
    def uses_local_server(self) -> bool:
        """True when no ``NEO4J_URI`` is given and the project runs its own server."""
        return self.uri is None

    @property
    def bolt_uri(self) -> str:
        """The URI the driver connects to."""
        return self.uri or f"bolt://127.0.0.1:{self.bolt_port}"

    @property
    def browser_url(self) -> str:
        """Where the Neo4j Browser answers (local server only)."""
        return f"http://127.0.0.1:{self.http_port}/browser/"


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read :class:`Settings` from the environment (or from ``env`` when given)."""
    env = os.environ if env is None else env
    password = env.get("NEO4J_PASSWORD", DEFAULT_PASSWORD)
    uri = env.get("NEO4J_URI") or None
    if uri is None and len(password) < 8:
        raise ConfigurationError("NEO4J_PASSWORD must have at least 8 characters for the local Neo4j server")
    return Settings(
        uri=uri,
        user=env.get("NEO4J_USER", "neo4j"),
        password=password,
        database=env.get("NEO4J_DATABASE", "neo4j"),
        home=Path(env.get("CUSTOMER_GRAPH_HOME") or project_root() / ".customer-graph").resolve(),
        dist_dir=Path(env.get("NEO4J_DIST_DIR") or _default_dist_dir(env)).resolve(),
        bolt_port=_port(env, "NEO4J_BOLT_PORT", 7687),
        http_port=_port(env, "NEO4J_HTTP_PORT", 7474),
        heap=_size(env, "NEO4J_HEAP", "2g"),
        pagecache=_size(env, "NEO4J_PAGECACHE", "2g"),
        transaction_timeout=_duration(env, "NEO4J_TRANSACTION_TIMEOUT", "60s"),
    )
