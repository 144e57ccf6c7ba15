"""The API's configuration from the environment.

=============================  =============================================  ======================
variable                       meaning                                        default
=============================  =============================================  ======================
CUSTOMER_GRAPH_ENV             ``development`` or ``production``              ``development``
CUSTOMER_GRAPH_API_KEYS        ``key:role,key:role`` (roles: reader, writer,  unset: the dev keys
                               admin); required in production                 (development only)
CUSTOMER_GRAPH_MAX_DEPTH       maximum query depth                            ``10``
CUSTOMER_GRAPH_MAX_PAGE_SIZE   maximum ``first`` of any list or connection    ``100``
CUSTOMER_GRAPH_MAX_COST        maximum estimated cost of one operation        ``50000``
CUSTOMER_GRAPH_MAX_TOKENS      maximum tokens in one GraphQL document         ``2000``
CUSTOMER_GRAPH_MAX_BODY_BYTES  maximum request body                           ``65536``
=============================  =============================================  ======================
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from api.auth import DEV_KEYS, Role, parse_api_keys
from graph_model.errors import ConfigurationError


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a whole number, got {raw!r}") from None
    if value <= 0:
        raise ConfigurationError(f"{name} must be positive, got {value}")
    return value


@dataclass(frozen=True)
class ApiConfig:
    """Everything the API needs besides the database settings."""

    development: bool = True
    api_keys: Mapping[str, Role] = field(default_factory=lambda: dict(DEV_KEYS))
    using_dev_keys: bool = True
    max_depth: int = 10
    max_page_size: int = 100
    max_cost: int = 50_000
    max_tokens: int = 2_000
    max_body_bytes: int = 65_536


def load_api_config(env: Mapping[str, str] | None = None) -> ApiConfig:
    """Read :class:`ApiConfig` from the environment (or ``env``)."""
    env = os.environ if env is None else env
    mode = env.get("CUSTOMER_GRAPH_ENV", "development").strip().lower()
    if mode not in ("development", "production"):
        raise ConfigurationError(f"CUSTOMER_GRAPH_ENV must be development or production, got {mode!r}")
    raw_keys = env.get("CUSTOMER_GRAPH_API_KEYS", "").strip()
    if raw_keys:
        keys, using_dev_keys = parse_api_keys(raw_keys), False
    elif mode == "development":
        keys, using_dev_keys = dict(DEV_KEYS), True
    else:
        raise ConfigurationError("CUSTOMER_GRAPH_API_KEYS must be set in production (key:role,key:role)")
    return ApiConfig(
        development=mode == "development",
        api_keys=keys,
        using_dev_keys=using_dev_keys,
        max_depth=_int(env, "CUSTOMER_GRAPH_MAX_DEPTH", 10),
        max_page_size=_int(env, "CUSTOMER_GRAPH_MAX_PAGE_SIZE", 100),
        max_cost=_int(env, "CUSTOMER_GRAPH_MAX_COST", 50_000),
        max_tokens=_int(env, "CUSTOMER_GRAPH_MAX_TOKENS", 2_000),
        max_body_bytes=_int(env, "CUSTOMER_GRAPH_MAX_BODY_BYTES", 65_536),
    )
