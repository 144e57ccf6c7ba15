"""The consent policy: may this purpose use this customer's data (on this channel)? Asked by every layer.

Purposes and what they govern (the table in ``docs/privacy.md`` is this one):

===============  ========================================================  ==================
purpose          governs                                                   default (no record)
===============  ========================================================  ==================
personalisation  personal recommendations, being someone's similar          granted
                 shopper or someone's evidence
analytics        customer-level models: similarity, segments, retention    granted
marketing        being selected as contactable, per channel                withdrawn
location         storing pings, geofenced visits, using the home location  withdrawn
===============  ========================================================  ==================

How records decide (a customer has at most one record per channel and purpose):

* ``marketing`` is per channel: the record of that channel decides, else the default;
* the other purposes are about the person, whatever the channel the record came from: one
  withdrawal on any channel withdraws the purpose; otherwise a grant on any channel grants it;
  otherwise the default.

Defaults are configurable per purpose with ``CUSTOMER_GRAPH_CONSENT_DEFAULTS``
(``"personalisation=granted,analytics=granted,marketing=withdrawn,location=withdrawn"`` is the shipped,
GDPR-style setting: marketing and location need an explicit grant).

Two choices the policy makes, documented in ``docs/privacy.md``:

* ``aggregates_without_analytics`` (default true): purchases of a customer who withdrew analytics
  still count in anonymous product-level aggregates (affinities, trends, popularity), which name no one;
* ``context_without_personalisation`` (default true): with personalisation withdrawn the API may still
  use what the caller passes about *now* (the product on screen, the store the customer stands in),
  never the customer's history, nor the current session's past events.

>>> policy = ConsentPolicy()
>>> policy.permits([], "personalisation"), policy.permits([], "marketing", "email")
(True, False)
>>> records = [ConsentRecord("web", "personalisation", False), ConsentRecord("app", "personalisation", True)]
>>> policy.permits(records, "personalisation")
False
>>> policy.permits([ConsentRecord("email", "marketing", True)], "marketing", "email")
True
>>> policy.permits([ConsentRecord("email", "marketing", True)], "marketing", "sms")
False
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from graph_model.errors import ConfigurationError
from graph_model.model.customers import CONSENT_CHANNELS, CONSENT_PURPOSES

ENV_DEFAULTS = "CUSTOMER_GRAPH_CONSENT_DEFAULTS"
GDPR_DEFAULTS: Mapping[str, bool] = {"personalisation": True, "analytics": True, "marketing": False,
                                      "location": False}
PER_CHANNEL = frozenset({"marketing"})
PARAMETER = "consentDefaults"


@dataclass(frozen=True)
class ConsentRecord:
    """One stored consent: channel, purpose, granted."""

    channel: str
    purpose: str
    granted: bool

    @staticmethod
    def from_row(row: Mapping[str, Any]) -> ConsentRecord:
        return ConsentRecord(str(row["channel"]), str(row["purpose"]), bool(row["granted"]))


def _check_purpose(purpose: str, channel: str | None) -> None:
    if purpose not in CONSENT_PURPOSES:
        raise ValueError(f"unknown consent purpose {purpose!r}; one of {', '.join(CONSENT_PURPOSES)}")
    if purpose in PER_CHANNEL and channel is None:
        raise ValueError(f"purpose {purpose!r} is decided per channel: pass a channel")
    if channel is not None and channel not in CONSENT_CHANNELS:
        raise ValueError(f"unknown channel {channel!r}; one of {', '.join(CONSENT_CHANNELS)}")


@dataclass(frozen=True)
class ConsentPolicy:
    """Defaults per purpose and the two documented choices; decisions in Python and as Cypher."""

    defaults: Mapping[str, bool] = field(default_factory=lambda: dict(GDPR_DEFAULTS))
    aggregates_without_analytics: bool = True
    context_without_personalisation: bool = True

    def permits(self, records: Iterable[ConsentRecord | Mapping[str, Any]], purpose: str,
                channel: str | None = None) -> bool:
        """True when ``purpose`` (on ``channel`` for marketing) may use the data of the customer whose
        consent records are ``records``."""
        _check_purpose(purpose, channel)
        relevant = [r if isinstance(r, ConsentRecord) else ConsentRecord.from_row(r) for r in records]
        relevant = [r for r in relevant if r.purpose == purpose]
        if purpose in PER_CHANNEL:
            on_channel = [r.granted for r in relevant if r.channel == channel]
            return on_channel[-1] if on_channel else self.defaults[purpose]
        if any(not r.granted for r in relevant):
            return False
        return True if relevant else self.defaults[purpose]

    def parameters(self) -> dict[str, Any]:
        """The query parameters :func:`permits_cypher` expressions read (pass them with the statement)."""
        return {PARAMETER: dict(self.defaults)}


def permits_cypher(customer: str, purpose: str, channel: str | None = None) -> str:
    """A Cypher boolean expression: the policy's decision for the customer bound to ``customer``.

    It reads ``$consentDefaults`` (:meth:`ConsentPolicy.parameters`). ``channel`` is a Cypher expression
    (a parameter or a property, e.g. ``"$channel"`` or ``"m.channel"``), for marketing only.

    >>> print(permits_cypher("c", "analytics"))
    (NOT EXISTS { MATCH (c)-[:HAS_CONSENT]->(k:Consent) WHERE k.purpose = 'analytics' AND NOT k.granted } AND ($consentDefaults.analytics OR EXISTS { MATCH (c)-[:HAS_CONSENT]->(k:Consent) WHERE k.purpose = 'analytics' AND k.granted }))
    """
    if purpose not in CONSENT_PURPOSES:
        raise ValueError(f"unknown consent purpose {purpose!r}")
    scope = f"k.purpose = '{purpose}'"
    if purpose in PER_CHANNEL:
        if channel is None:
            raise ValueError(f"purpose {purpose!r} is decided per channel: pass a channel expression")
        scope += f" AND k.channel = {channel}"
        records = f"[({customer})-[:HAS_CONSENT]->(k:Consent) WHERE {scope} | k.granted]"
        return f"coalesce(head({records}), ${PARAMETER}.{purpose})"
    withdrawn = f"EXISTS {{ MATCH ({customer})-[:HAS_CONSENT]->(k:Consent) WHERE {scope} AND NOT k.granted }}"
    granted = f"EXISTS {{ MATCH ({customer})-[:HAS_CONSENT]->(k:Consent) WHERE {scope} AND k.granted }}"
    return f"(NOT {withdrawn} AND (${PARAMETER}.{purpose} OR {granted}))"


def parse_defaults(raw: str) -> dict[str, bool]:
    """``"purpose=granted|withdrawn,..."`` over the GDPR-style defaults; ``ConfigurationError`` if malformed.

    >>> parse_defaults("location=granted")["location"]
    True
    """
    defaults = dict(GDPR_DEFAULTS)
    for entry in filter(None, (part.strip() for part in raw.split(","))):
        purpose, sep, value = entry.partition("=")
        purpose, value = purpose.strip(), value.strip().lower()
        if not sep or purpose not in CONSENT_PURPOSES or value not in ("granted", "withdrawn"):
            raise ConfigurationError(
                f"{ENV_DEFAULTS} entries must be purpose=granted|withdrawn with purpose one of "
                f"{', '.join(CONSENT_PURPOSES)}; got {entry!r}")
        defaults[purpose] = value == "granted"
    return defaults


def load_policy(env: Mapping[str, str] | None = None) -> ConsentPolicy:
    """The policy configured in the environment (the GDPR-style defaults when nothing is set)."""
    env = os.environ if env is None else env
    return ConsentPolicy(
        defaults=parse_defaults(env.get(ENV_DEFAULTS, "")),
        aggregates_without_analytics=env.get("CUSTOMER_GRAPH_AGGREGATES_WITHOUT_ANALYTICS", "1") != "0",
        context_without_personalisation=env.get("CUSTOMER_GRAPH_CONTEXT_WITHOUT_PERSONALISATION", "1") != "0",
    )


_current: ConsentPolicy | None = None


def current_policy() -> ConsentPolicy:
    """The process's policy (read from the environment once)."""
    global _current
    if _current is None:
        _current = load_policy()
    return _current


def set_policy(policy: ConsentPolicy | None) -> None:
    """Replace the process's policy (``None``: read the environment again on next use). For tests and tools."""
    global _current
    _current = policy
