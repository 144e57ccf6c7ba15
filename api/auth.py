"""API keys and roles.

A request names its key in ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``. Roles are ordered:

- ``reader``: every query, without personal fields (the front-end key);
- ``writer``: a reader that may also track events, record responses and set consent;
- ``admin``: a writer that also sees personal fields (name, email hash, home location, identifier
  values) and may erase a customer.

A customer token (:mod:`api.tokens`) makes a *customer* principal instead: it reads and writes only its
own customer (``customer_id``), personal fields included, and never another.

Without configured keys, development uses :data:`DEV_KEYS` (printed by ``customer-graph serve``).
"""

from __future__ import annotations

import enum
import functools
import hmac
from collections.abc import Mapping
from dataclasses import dataclass

from graph_model.errors import ConfigurationError
from graph_model.privacy.keys import keyed_hash


class Role(enum.IntEnum):
    """What a key may do; a higher role includes the lower ones."""

    reader = 1
    writer = 2
    admin = 3


DEV_KEYS: Mapping[str, Role] = {
    "dev-reader-key": Role.reader,
    "dev-writer-key": Role.writer,
    "dev-admin-key": Role.admin,
}


@dataclass(frozen=True)
class Principal:
    """The caller of one request: which key (a short label, never the key itself) and its role; for a
    customer token, the customer it stands for (``customer_id``)."""

    label: str
    role: Role
    customer_id: str | None = None

    def allows(self, role: Role) -> bool:
        """True when this caller's role includes ``role``."""
        return self.role >= role

    @property
    def is_customer(self) -> bool:
        """True for a customer token (scoped to one customer), False for an API key."""
        return self.customer_id is not None

    def owns(self, customer_id: str) -> bool:
        """True when this caller is the customer ``customer_id`` itself (a customer token)."""
        return self.customer_id is not None and self.customer_id == customer_id

    def may_read(self, customer_id: str) -> bool:
        """True when ``customer_id`` is within reach: any customer for an API key, only its own for a token."""
        return self.customer_id is None or self.customer_id == customer_id


def parse_api_keys(raw: str) -> dict[str, Role]:
    """``"key:role,key:role"`` as a mapping; raise ``ConfigurationError`` on a bad entry."""
    keys: dict[str, Role] = {}
    for entry in filter(None, (part.strip() for part in raw.split(","))):
        key, sep, role = entry.rpartition(":")
        if not sep or not key or role not in Role.__members__:
            raise ConfigurationError(
                f"CUSTOMER_GRAPH_API_KEYS entries must be key:role with role one of "
                f"{', '.join(Role.__members__)}; got {entry.split(':')[-1]!r} as a role"
            )
        if len(key) < 8:
            raise ConfigurationError("CUSTOMER_GRAPH_API_KEYS: every key needs at least 8 characters")
        keys[key] = Role[role]
    return keys


def key_from_headers(headers: Mapping[str, str]) -> str | None:
    """The API key a request presents, if any."""
    authorization = headers.get("authorization", "")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return headers.get("x-api-key") or None


@functools.lru_cache(maxsize=64)
def key_label(role: Role, key: str) -> str:
    """How the audit trail and the notes name a key's holder: its role and a keyed fingerprint of the key
    (``admin:key-1a2b3c4d``), never a part of the key (until stop 40 its first four characters, kept for good in
    the audit trail: found by an audit)."""
    return f"{role.name}:key-{keyed_hash('api-key', key)[:8]}"


def authenticate(key: str | None, keys: Mapping[str, Role]) -> Principal | None:
    """The principal for ``key``, or ``None`` when it is missing or unknown (compared in constant time)."""
    if not key:
        return None
    found: Principal | None = None
    for known, role in keys.items():
        if hmac.compare_digest(known.encode(), key.encode()):
            found = Principal(label=key_label(role, known), role=role)
    return found
