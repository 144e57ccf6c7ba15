"""The keyed hash that stands in for a personal value wherever one must be recognised but not kept.

Tombstones, the audit trail and redacted rejects hold ``keyed_hash(kind, value)``: HMAC-SHA256 under
the deployment's privacy key, so nobody without the key can test a guessed customer id or email hash
against them (a plain hash of a five-digit customer id is reversed by trying all of them).

Where the key comes from, in order:

1. ``CUSTOMER_GRAPH_PRIVACY_KEY`` (at least 32 characters): set the same value on every process that
   loads, serves or erases (loaders, API, algorithms) in production;
2. ``<CUSTOMER_GRAPH_HOME>/privacy.key``, created on first use with 32 random bytes, mode 0600 (the
   local server's home; one machine).

The graph keeps a fingerprint of the key (:func:`key_fingerprint`), and
:func:`graph_model.privacy.tombstone.check_key` refuses to work with another key, so a process with a
wrong key cannot silently let erased people back in.

>>> key = b"k" * 32
>>> keyed_hash("customer", "12350", key=key) == keyed_hash("customer", "12350", key=key)
True
>>> keyed_hash("customer", "12350", key=key) == keyed_hash("identity", "12350", key=key)
False
>>> len(keyed_hash("customer", "12350", key=key))
64
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
from collections.abc import Mapping
from pathlib import Path

from graph_model.errors import ConfigurationError

ENV_KEY = "CUSTOMER_GRAPH_PRIVACY_KEY"
KEY_FILE = "privacy.key"
MIN_KEY_CHARS = 32

_lock = threading.Lock()
_cached: dict[str, bytes] = {}


def _key_file(env: Mapping[str, str]) -> Path:
    from graph_model.settings import project_root

    home = Path(env.get("CUSTOMER_GRAPH_HOME") or project_root() / ".customer-graph")
    return home / KEY_FILE


def load_key(env: Mapping[str, str] | None = None) -> bytes:
    """The privacy key: from the environment, else the home folder's key file (created once, 0600)."""
    env = os.environ if env is None else env
    raw = env.get(ENV_KEY)
    if raw:
        if len(raw) < MIN_KEY_CHARS:
            raise ConfigurationError(f"{ENV_KEY} must have at least {MIN_KEY_CHARS} characters")
        return raw.encode()
    path = _key_file(env)
    with _lock:
        if str(path) in _cached:
            return _cached[str(path)]
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass  # another process made it first
            else:
                with os.fdopen(fd, "w") as handle:
                    handle.write(secrets.token_hex(32))
        key = path.read_text(encoding="ascii").strip().encode()
        if len(key) < MIN_KEY_CHARS:
            raise ConfigurationError(f"{path} holds no usable privacy key (at least {MIN_KEY_CHARS} characters)")
        _cached[str(path)] = key
        return key


def keyed_hash(kind: str, value: str, *, key: bytes | None = None) -> str:
    """HMAC-SHA256 of ``"<kind>:<value>"`` under the privacy key, as 64 hex digits.

    ``kind`` is ``customer`` for a customer id, ``identity`` for an identity key (``"email_hash:..."``),
    ``session`` for the id of an erased person's session.
    """
    digest = hmac.new(key or load_key(), f"{kind}:{value}".encode(), hashlib.sha256)
    return digest.hexdigest()


def customer_hash(customer_id: str, *, key: bytes | None = None) -> str:
    """The keyed hash of a customer id."""
    return keyed_hash("customer", customer_id, key=key)


def identity_hash(identity_key: str, *, key: bytes | None = None) -> str:
    """The keyed hash of an identity key (``"<type>:<value>"``)."""
    return keyed_hash("identity", identity_key, key=key)


def session_hash(session_id: str, *, key: bytes | None = None) -> str:
    """The keyed hash of a session id (an erased person's sessions stay anonymous: their events are not reloaded)."""
    return keyed_hash("session", session_id, key=key)


def key_fingerprint(*, key: bytes | None = None) -> str:
    """A short, non-reversible fingerprint of the key (kept in the graph to detect a wrong key)."""
    return keyed_hash("fingerprint", "customer-graph", key=key)[:16]
