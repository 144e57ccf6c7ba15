"""The API's configuration from the environment.

=============================  =============================================  ======================
variable                       meaning                                        default
=============================  =============================================  ======================
CUSTOMER_GRAPH_ENV             ``production`` or ``development`` (loopback    ``production``
                               only; ``serve --dev`` sets it)
CUSTOMER_GRAPH_API_KEYS        ``key:role,key:role`` (roles: reader, writer,  unset: the dev keys
                               admin); required in production, where the dev  (development only)
                               keys are refused
CUSTOMER_GRAPH_INTROSPECTION   ``1``: schema introspection and GraphiQL in     on in development,
                               production too                                 off in production
CUSTOMER_GRAPH_MAX_DEPTH       maximum query depth                            ``10``
CUSTOMER_GRAPH_MAX_PAGE_SIZE   maximum ``first`` of any list or connection    ``100``
CUSTOMER_GRAPH_MAX_COST        maximum estimated cost of one operation        ``50000``
CUSTOMER_GRAPH_MAX_TOKENS      maximum tokens in one GraphQL document         ``2000``
CUSTOMER_GRAPH_MAX_BODY_BYTES  maximum request body                           ``65536``
CUSTOMER_GRAPH_STATEMENT_      seconds any one API statement may run; the      ``5``
TIMEOUT                        database stops it then (``QUERY_TIMEOUT``)
CUSTOMER_GRAPH_TOKEN_SECRET    HS256 secret of customer tokens (>= 32 chars)   unset: no HS256
CUSTOMER_GRAPH_TOKEN_JWKS      RS256 keys of customer tokens: a JWKS file or   unset: no RS256
                               an https URL (http on loopback only)
CUSTOMER_GRAPH_TOKEN_ISSUER    required ``iss`` of customer tokens             unset: not checked
CUSTOMER_GRAPH_TOKEN_AUDIENCE  required ``aud`` of customer tokens             unset: no ``aud``
CUSTOMER_GRAPH_TOKEN_MAX_      the longest a customer token may still be valid  ``86400`` (a day)
LIFETIME_SECONDS               for (``exp`` - now): a longer one is refused
=============================  =============================================  ======================
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from api.auth import DEV_KEYS, Role, parse_api_keys
from api.tokens import MAX_LIFETIME_SECONDS, TokenSettings, check_jwks, check_secret
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


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise ConfigurationError(f"{name} must be 1 or 0, got {raw!r}")


def _text(env: Mapping[str, str], name: str) -> str | None:
    raw = env.get(name, "").strip()
    return raw or None


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and addresses in 127.0.0.0/8 or ``::1``."""
    host = host.strip().strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ApiConfig:
    """Everything the API needs besides the database settings (production unless told otherwise)."""

    development: bool = False
    api_keys: Mapping[str, Role] = field(default_factory=dict)
    using_dev_keys: bool = False
    introspection: bool = False  # schema introspection and GraphiQL; always on in development
    max_depth: int = 10
    max_page_size: int = 100
    max_cost: int = 50_000
    max_tokens: int = 2_000
    max_body_bytes: int = 65_536
    statement_timeout: float = 5.0  # seconds; every API statement's transaction timeout
    tokens: TokenSettings = field(default_factory=TokenSettings)  # customer tokens (api.tokens)

    @property
    def introspection_enabled(self) -> bool:
        """Whether introspection queries (and GraphiQL, which needs them) are answered."""
        return self.development or self.introspection

    def check(self) -> None:
        """Raise a one-line ``ConfigurationError`` when this configuration must not serve requests."""
        if self.tokens.secret is not None:
            check_secret(self.tokens.secret)
        if self.tokens.jwks is not None:
            check_jwks(self.tokens.jwks)
        if self.development:
            return
        if not self.api_keys:
            raise ConfigurationError("CUSTOMER_GRAPH_API_KEYS must be set in production (key:role,key:role)")
        if any(key in DEV_KEYS for key in self.api_keys):
            raise ConfigurationError("the development keys (dev-reader-key, dev-writer-key, dev-admin-key) are "
                                     "refused in production: set your own in CUSTOMER_GRAPH_API_KEYS")

    def check_host(self, host: str) -> None:
        """Raise a one-line ``ConfigurationError`` when development would listen beyond loopback."""
        if self.development and not is_loopback(host):
            raise ConfigurationError(f"development serves only on loopback (127.0.0.1, ::1, localhost), not "
                                     f"{host!r}: set CUSTOMER_GRAPH_ENV=production and CUSTOMER_GRAPH_API_KEYS")


def load_api_config(env: Mapping[str, str] | None = None) -> ApiConfig:
    """Read :class:`ApiConfig` from the environment (or ``env``); raise ``ConfigurationError`` when it is
    not fit to serve (production without keys, or with a development key)."""
    env = os.environ if env is None else env
    mode = (env.get("CUSTOMER_GRAPH_ENV", "").strip() or "production").lower()
    if mode not in ("development", "production"):
        raise ConfigurationError(f"CUSTOMER_GRAPH_ENV must be development or production, got {mode!r}")
    raw_keys = env.get("CUSTOMER_GRAPH_API_KEYS", "").strip()
    if raw_keys:
        keys, using_dev_keys = parse_api_keys(raw_keys), False
    elif mode == "development":
        keys, using_dev_keys = dict(DEV_KEYS), True
    else:
        keys, using_dev_keys = {}, False
    config = ApiConfig(
        development=mode == "development",
        api_keys=keys,
        using_dev_keys=using_dev_keys,
        introspection=_flag(env, "CUSTOMER_GRAPH_INTROSPECTION"),
        max_depth=_int(env, "CUSTOMER_GRAPH_MAX_DEPTH", 10),
        max_page_size=_int(env, "CUSTOMER_GRAPH_MAX_PAGE_SIZE", 100),
        max_cost=_int(env, "CUSTOMER_GRAPH_MAX_COST", 50_000),
        max_tokens=_int(env, "CUSTOMER_GRAPH_MAX_TOKENS", 2_000),
        max_body_bytes=_int(env, "CUSTOMER_GRAPH_MAX_BODY_BYTES", 65_536),
        statement_timeout=_int(env, "CUSTOMER_GRAPH_STATEMENT_TIMEOUT", 5),
        tokens=TokenSettings(
            secret=_text(env, "CUSTOMER_GRAPH_TOKEN_SECRET"), jwks=_text(env, "CUSTOMER_GRAPH_TOKEN_JWKS"),
            issuer=_text(env, "CUSTOMER_GRAPH_TOKEN_ISSUER"), audience=_text(env, "CUSTOMER_GRAPH_TOKEN_AUDIENCE"),
            max_lifetime=_int(env, "CUSTOMER_GRAPH_TOKEN_MAX_LIFETIME_SECONDS", MAX_LIFETIME_SECONDS),
        ),
    )
    config.check()
    return config
