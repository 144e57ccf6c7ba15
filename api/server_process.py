"""The API in a process of its own, for benchmarks and tests that must not share its interpreter.

``customer-graph serve`` is started with ``python -m customer_graph serve --port <free port> [args]`` and the
given environment on top of this one's; :func:`start` returns once ``ready_path`` answers 200.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from graph_model.local_server.server import free_port

__all__ = ["start"]


def start(env: dict[str, str], *serve_args: str, cwd: Path | None = None, ready_path: str = "/healthz",
          timeout: float = 60.0) -> tuple[subprocess.Popen[bytes], str]:
    """The server process and its base URL, once ``ready_path`` answers 200; killed, and ``RuntimeError``,
    when it does not within ``timeout`` seconds."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "customer_graph", "serve", "--port", str(port), *serve_args],
                               cwd=cwd, env={**os.environ, **env}, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(base + ready_path, timeout=1) as response:
                if response.status == 200:
                    return process, base
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"the API did not answer {ready_path} within {timeout:.0f} s")
