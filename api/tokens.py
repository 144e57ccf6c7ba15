"""Customer tokens: signed JWTs that let a web shop or app read one customer, the one signed in.

The retailer's backend (or its identity provider) signs the token; the front-end sends it as
``Authorization: Bearer <jwt>``. Two ways to sign, each pinned to one algorithm:

- ``HS256`` with the shared secret ``CUSTOMER_GRAPH_TOKEN_SECRET`` (at least 32 characters);
- ``RS256`` verified against the keys of ``CUSTOMER_GRAPH_TOKEN_JWKS``: a JWKS file (re-read when it
  changes) or a URL (fetched and cached by PyJWT's ``PyJWKClient``).

Any other ``alg`` (``none``, ``HS256`` without a configured secret, ``ES256``...) is refused before
verification, so an HS256 token "signed" with the RSA public key is never checked against it.
Claims: ``sub`` (the customer id) and ``exp`` are required; ``iss`` and ``aud`` are checked when
``CUSTOMER_GRAPH_TOKEN_ISSUER`` / ``_AUDIENCE`` are set (a token with an ``aud`` needs the audience
configured). Clocks may differ by :data:`LEEWAY_SECONDS`. A token still valid for longer than
``max_lifetime`` (:data:`MAX_LIFETIME_SECONDS` by default) is refused: one that leaks would otherwise read its
customer for as long as its ``exp`` says (``10**30`` was accepted until stop 38).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import jwt

from api.auth import Principal, Role
from graph_model.errors import ConfigurationError
from graph_model.model.customers import normal_key

LEEWAY_SECONDS = 30
MAX_LIFETIME_SECONDS = 86_400  # the longest a customer token may still be valid for (``exp`` - now)
MIN_SECRET_LENGTH = 32
JWKS_FETCH_TIMEOUT = 5.0
JWKS_CACHE_SECONDS = 300


class InvalidToken(Exception):
    """A customer token that cannot be accepted; the message says why, for the 401 answer."""


class TokenKeysUnavailable(Exception):
    """The identity provider's keys (a JWKS URL) cannot be fetched right now."""


def looks_like_jwt(credential: str | None) -> bool:
    """True for a compact JWS (``header.payload.signature``), which no API key is expected to be."""
    return credential is not None and credential.count(".") == 2


def bearer_token(headers: Mapping[str, str]) -> str | None:
    """The JWT of ``Authorization: Bearer <jwt>``, if the request carries one."""
    scheme, _, token = headers.get("authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and looks_like_jwt(token) else None


def is_jwks_url(source: str) -> bool:
    """True when ``CUSTOMER_GRAPH_TOKEN_JWKS`` names a URL rather than a file."""
    return urlparse(source).scheme in ("http", "https")


def check_secret(secret: str) -> None:
    """Raise ``ConfigurationError`` when the HS256 secret is too short to be a secret."""
    if len(secret) < MIN_SECRET_LENGTH:
        raise ConfigurationError(f"CUSTOMER_GRAPH_TOKEN_SECRET needs at least {MIN_SECRET_LENGTH} characters "
                                 f"(got {len(secret)})")


def load_jwks_file(path: str) -> jwt.PyJWKSet:
    """The RSA signing keys of a JWKS file; raise ``ConfigurationError`` when there are none to use."""
    try:
        with open(path, encoding="utf-8") as file:
            document = json.load(file)
    except OSError as error:
        raise ConfigurationError(f"CUSTOMER_GRAPH_TOKEN_JWKS: cannot read {path!r} ({error.strerror})") from None
    except ValueError:
        raise ConfigurationError(f"CUSTOMER_GRAPH_TOKEN_JWKS: {path!r} is not JSON") from None
    keys = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(keys, list):
        raise ConfigurationError(f"CUSTOMER_GRAPH_TOKEN_JWKS: {path!r} is not a JWKS (no `keys` list)")
    usable = [key for key in keys if isinstance(key, dict) and key.get("kty") == "RSA"
              and key.get("use", "sig") == "sig" and key.get("alg", "RS256") == "RS256"]
    try:
        return jwt.PyJWKSet(usable)
    except jwt.PyJWTError:
        raise ConfigurationError(f"CUSTOMER_GRAPH_TOKEN_JWKS: {path!r} holds no RSA signing key for RS256") from None


def check_jwks(source: str) -> None:
    """Raise ``ConfigurationError`` unless ``source`` is an https URL (http on loopback only) or a usable file."""
    if is_jwks_url(source):
        from api.config import is_loopback

        url = urlparse(source)
        if url.scheme != "https" and not is_loopback(url.hostname or ""):
            raise ConfigurationError("CUSTOMER_GRAPH_TOKEN_JWKS: a JWKS URL must use https (http only on loopback)")
        return
    load_jwks_file(source)


class _JwksFile:
    """The keys of a JWKS file, re-read when the file changes (key rotation without a restart)."""

    def __init__(self, path: str) -> None:
        self.path, self.mtime, self.keys = path, os.stat(path).st_mtime_ns, load_jwks_file(path)

    def key_for(self, kid: str | None) -> Any:
        try:
            mtime = os.stat(self.path).st_mtime_ns
            if mtime != self.mtime:
                self.keys, self.mtime = load_jwks_file(self.path), mtime
        except (OSError, ConfigurationError):
            pass  # keep the keys read last: a file being rewritten is not a reason to refuse everyone
        if kid is None:
            if len(self.keys.keys) == 1:
                return self.keys.keys[0].key
            raise InvalidToken("The customer token names no key (`kid`) and the key set has several.")
        for key in self.keys.keys:
            if key.key_id == kid:
                return key.key
        raise InvalidToken("The customer token is signed with an unknown key.")


class _JwksUrl:
    """The keys at a JWKS URL, fetched on first use and cached (refetched for an unknown ``kid``)."""

    def __init__(self, url: str) -> None:
        self.client = jwt.PyJWKClient(url, cache_keys=True, lifespan=JWKS_CACHE_SECONDS, timeout=JWKS_FETCH_TIMEOUT)

    def key_for_token(self, token: str) -> Any:
        try:
            return self.client.get_signing_key_from_jwt(token).key
        except jwt.PyJWKClientConnectionError:
            raise TokenKeysUnavailable() from None
        except jwt.PyJWKClientError:
            raise InvalidToken("The customer token is signed with an unknown key.") from None


@dataclass(frozen=True)
class TokenSettings:
    """How customer tokens are verified (from :class:`api.config.ApiConfig`)."""

    secret: str | None = None
    jwks: str | None = None
    issuer: str | None = None
    audience: str | None = None
    leeway: int = LEEWAY_SECONDS
    max_lifetime: int = MAX_LIFETIME_SECONDS

    @property
    def enabled(self) -> bool:
        """Whether any customer token can be accepted."""
        return bool(self.secret or self.jwks)


_CLAIM_ERRORS: tuple[tuple[type[Exception], str], ...] = (
    (jwt.ExpiredSignatureError, "The customer token has expired."),
    (jwt.ImmatureSignatureError, "The customer token is not valid yet."),
    (jwt.InvalidAudienceError, "The customer token is not meant for this API (audience)."),
    (jwt.InvalidIssuerError, "The customer token's issuer is not accepted."),
    (jwt.InvalidSignatureError, "The customer token's signature is not valid."),
    (jwt.exceptions.InvalidSubjectError, "The customer token's `sub` must be the customer id."),
)


class CustomerTokens:
    """Verifies customer tokens and turns them into customer principals."""

    def __init__(self, settings: TokenSettings) -> None:
        self.settings = settings
        if settings.secret:
            check_secret(settings.secret)
        self.file = _JwksFile(settings.jwks) if settings.jwks and not is_jwks_url(settings.jwks) else None
        self.url = _JwksUrl(settings.jwks) if settings.jwks and is_jwks_url(settings.jwks) else None
        self.algorithms = {"HS256"} if settings.secret else set()
        if settings.jwks:
            self.algorithms.add("RS256")

    async def principal(self, token: str) -> Principal:
        """The customer principal of ``token``; ``InvalidToken`` (or ``TokenKeysUnavailable``) otherwise.
        A JWKS URL may need a fetch, done in a worker thread."""
        if self.url is not None:
            return await asyncio.to_thread(self.verify, token)
        return self.verify(token)

    def verify(self, token: str) -> Principal:
        """Check signature, algorithm and claims of ``token``; its customer principal."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise InvalidToken("The customer token is malformed.") from None
        algorithm = header.get("alg")
        if not isinstance(algorithm, str) or algorithm not in self.algorithms:
            raise InvalidToken(f"The customer token's algorithm is not accepted (accepted: "
                               f"{', '.join(sorted(self.algorithms))}).")
        if algorithm == "HS256":
            key: Any = self.settings.secret
        elif self.file is not None:
            key = self.file.key_for(header.get("kid"))
        else:
            assert self.url is not None
            key = self.url.key_for_token(token)
        required = ["exp", "sub"] + (["iss"] if self.settings.issuer else []) + (["aud"] if self.settings.audience else [])
        try:
            claims = jwt.decode(token, key, algorithms=[algorithm], audience=self.settings.audience,
                                issuer=self.settings.issuer, leeway=self.settings.leeway,
                                options={"require": required})
        except jwt.MissingRequiredClaimError as missing:
            raise InvalidToken(f"The customer token lacks the `{missing.claim}` claim.") from None
        except jwt.PyJWTError as error:
            message = next((text for kind, text in _CLAIM_ERRORS if isinstance(error, kind)),
                           "The customer token is not valid.")
            raise InvalidToken(message) from None
        expires = claims["exp"]  # required, and checked as a number by PyJWT
        if expires - time.time() > self.settings.max_lifetime + self.settings.leeway:
            raise InvalidToken(f"The customer token is valid for longer than this API accepts "
                               f"({self.settings.max_lifetime} seconds): issue shorter-lived tokens.")
        subject = claims.get("sub")
        # read as every key is (normal_key): the id the API's arguments and the loaders name the customer by; a
        # subject of blanks or invisible characters only names nobody (as a loaded key of them is refused)
        customer_id = normal_key(subject) if isinstance(subject, str) else ""
        if not customer_id:
            raise InvalidToken("The customer token's `sub` must be the customer id.")
        return Principal(label=f"customer-token:{algorithm}", role=Role.reader, customer_id=customer_id)
