"""The collection API's configuration from the environment.

=======================================  ==========================================  ========================
variable                                 meaning                                     default
=======================================  ==========================================  ========================
CUSTOMER_GRAPH_WRITE_KEYS                the SDKs' write keys, ``key,key`` (sent as   unset: no collection
                                         the HTTP Basic user name or ``writeKey``)    (development:
                                                                                      ``dev-write-key``)
CUSTOMER_GRAPH_SERVER_WRITE_KEYS         write keys of the retailer's back end only   unset: none
                                         (never in a browser or app): their messages
                                         may also record consent grants and profile
                                         traits (:mod:`api.collection.proof`)
CUSTOMER_GRAPH_SPOOL                     the spool file (SQLite)                      ``spool.sqlite`` in the
                                                                                      runs folder
CUSTOMER_GRAPH_SPOOL_MAX_MESSAGES        messages waiting to be written before the    ``1000000``
                                         API answers ``503`` with ``Retry-After``
CUSTOMER_GRAPH_SESSION_TIMEOUT_MINUTES   inactivity that starts a new session         ``30``
CUSTOMER_GRAPH_TRACKING_PLAN             a JSON file of a schema per track event      unset: no plan
                                         name (:mod:`api.collection.plan`); a
                                         violating message is a reject
=======================================  ==========================================  ========================
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from api.collection.plan import PlanError, TrackingPlan
from graph_model.errors import ConfigurationError
from graph_model.privacy.redaction import runs_dir

DEV_WRITE_KEY = "dev-write-key"
MAX_MESSAGE_BYTES = 32 * 1024  # the spec's limits
MAX_BATCH_BYTES = 500 * 1024


@dataclass(frozen=True)
class CollectionConfig:
    """Where and how the collection API accepts messages (no write key of either kind: it is off)."""

    write_keys: frozenset[str] = field(default_factory=frozenset)  # public: browsers' and apps' SDKs
    server_write_keys: frozenset[str] = field(default_factory=frozenset)  # the retailer's back end only
    spool_path: Path = field(default_factory=lambda: runs_dir() / "spool.sqlite")
    max_pending: int = 1_000_000
    session_timeout_minutes: float = 30.0
    flush_seconds: float = 0.2  # the micro-batcher's longest wait for more messages
    batch_messages: int = 2_000  # messages per micro-batch
    dedup_hours: float = 48.0  # written messages' ids are kept this long (the spec asks for 24 h)
    ping_window_minutes: float = 120.0  # recent pings geofenced together (a stay across micro-batches)
    tracking_plan: TrackingPlan | None = None  # schemas of track events' properties (None: nothing checked)
    plan_ahead: bool = True  # plan every writer when the collector starts (off: each on its first batch)

    @property
    def enabled(self) -> bool:
        return bool(self.write_keys or self.server_write_keys)


def _positive(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a number, got {raw!r}") from None
    if value <= 0:
        raise ConfigurationError(f"{name} must be positive, got {raw!r}")
    return value


def _tracking_plan(env: Mapping[str, str]) -> TrackingPlan | None:
    """The plan in the file ``CUSTOMER_GRAPH_TRACKING_PLAN`` names (None when unset); a bad file stops the start."""
    raw = env.get("CUSTOMER_GRAPH_TRACKING_PLAN", "").strip()
    if not raw:
        return None
    try:
        return TrackingPlan.load(Path(raw))
    except PlanError as error:
        raise ConfigurationError(f"CUSTOMER_GRAPH_TRACKING_PLAN {raw}: {error}") from None


def _keys(env: Mapping[str, str], name: str) -> frozenset[str]:
    """The comma-separated keys of ``name``, each at least 8 characters."""
    keys = frozenset(k.strip() for k in env.get(name, "").split(",") if k.strip())
    if any(len(k) < 8 for k in keys):
        raise ConfigurationError(f"{name}: every write key needs at least 8 characters")
    return keys


def load_collection_config(env: Mapping[str, str] | None = None, *, development: bool = False) -> CollectionConfig:
    """Read :class:`CollectionConfig` from the environment (``development``: the dev write key when none is set;
    in production the dev key is refused)."""
    env = os.environ if env is None else env
    keys = _keys(env, "CUSTOMER_GRAPH_WRITE_KEYS")
    server_keys = _keys(env, "CUSTOMER_GRAPH_SERVER_WRITE_KEYS")
    if not keys and not server_keys and development:
        keys = frozenset({DEV_WRITE_KEY})
    if DEV_WRITE_KEY in keys | server_keys and not development:
        raise ConfigurationError(f"the development write key {DEV_WRITE_KEY!r} is refused in production: set your "
                                 "own in CUSTOMER_GRAPH_WRITE_KEYS")
    if keys & server_keys:
        raise ConfigurationError("a key is in both CUSTOMER_GRAPH_WRITE_KEYS and CUSTOMER_GRAPH_SERVER_WRITE_KEYS: "
                                 "a browser's key is public, a server's must not be")
    spool = env.get("CUSTOMER_GRAPH_SPOOL", "").strip()
    return CollectionConfig(
        write_keys=keys,
        server_write_keys=server_keys,
        spool_path=Path(spool) if spool else runs_dir() / "spool.sqlite",
        max_pending=int(_positive(env, "CUSTOMER_GRAPH_SPOOL_MAX_MESSAGES", 1_000_000)),
        session_timeout_minutes=_positive(env, "CUSTOMER_GRAPH_SESSION_TIMEOUT_MINUTES", 30.0),
        tracking_plan=_tracking_plan(env),
    )
