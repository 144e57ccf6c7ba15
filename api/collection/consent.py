"""Which consent decisions a collected message may record: a write key is public, a grant needs the customer.

A write key sits in the shop's JavaScript, so anyone can send a message naming any ``userId``. Through the
SDK's consent manager (``context.consent.categoryPreferences``) the collection API records:

* **withdrawals** (a category sent as ``false``) from any message: a forged withdrawal only makes the
  service do less with that customer, and withdrawing must be as easy as giving (GDPR Art. 7(3));
* **grants** (``true``) only when the message proves the customer gave them: ``context.consent.token`` holds
  a customer token (:mod:`api.tokens`, the same JWT that reads the customer through GraphQL) whose ``sub`` is
  the message's ``userId``. Without one, or with one that does not verify, the grant is a reject
  (``unverified``) and the message's interactions are kept.

Either way the decision is dated by the server's clock (``receivedAt``), never by the client's ``timestamp``:
the latest decision wins, so a client-dated decision could outrank the customer's own later choice.

The token is checked when the request arrives (its expiry is about that moment) and never spooled: the
message keeps ``consentProof`` instead, set here on every message whatever the client sent under that name.

>>> message = {"userId": "U1", "context": {"consent": {"token": "a.b.c", "categoryPreferences": {}}}}
>>> _take_token(message), message["context"]["consent"]
('a.b.c', {'categoryPreferences': {}})
"""

from __future__ import annotations

from typing import Any

from api.tokens import CustomerTokens, InvalidToken, TokenKeysUnavailable

PROOF = "consentProof"
"""The field of a spooled message saying whether its consent grants are the customer's: ``"customer token"``
when proven, else the reason they are not."""
VERIFIED = "customer token"
NO_TOKEN = ("a consent grant needs the customer's token in `context.consent.token` (a write key is public); "
            "withdrawals are recorded without one")
TOKENS_OFF = "a consent grant needs a customer token, and this service accepts none (CUSTOMER_GRAPH_TOKEN_*)"


def _take_token(message: dict[str, Any]) -> str | None:
    """Remove ``context.consent.token`` from ``message`` (it is a credential: never spooled); return it."""
    context = message.get("context")
    consent = context.get("consent") if isinstance(context, dict) else None
    if not isinstance(consent, dict) or "token" not in consent:
        return None
    consent = dict(consent)  # the batch's context may be shared by every message: never edit it in place
    token = consent.pop("token")
    message["context"] = {**context, "consent": consent}  # type: ignore[dict-item]
    return token if isinstance(token, str) else None


async def prove_consents(messages: list[dict[str, Any]], tokens: CustomerTokens | None) -> None:
    """Set ``consentProof`` on each accepted message (and take its token out); each distinct token is
    verified once per request."""
    verdicts: dict[str, tuple[str | None, str]] = {}  # token -> (its customer id, or None and the reason)
    for message in messages:
        token = _take_token(message)
        if token is None:
            message[PROOF] = NO_TOKEN
        elif tokens is None:
            message[PROOF] = TOKENS_OFF
        else:
            if token not in verdicts:
                verdicts[token] = await _verdict(tokens, token)
            customer_id, reason = verdicts[token]
            if customer_id is None:
                message[PROOF] = reason
            elif customer_id == message.get("userId"):
                message[PROOF] = VERIFIED
            else:
                message[PROOF] = "the customer token in `context.consent.token` is another customer's (`sub` is " \
                                 "not the `userId`)"


async def _verdict(tokens: CustomerTokens, token: str) -> tuple[str | None, str]:
    """The customer id of a token that verifies, else ``None`` and why it does not."""
    try:
        principal = await tokens.principal(token)
    except InvalidToken as invalid:
        return None, f"the customer token in `context.consent.token` is refused: {invalid}"
    except TokenKeysUnavailable:
        return None, "the identity provider's keys could not be fetched to check the customer token"
    return principal.customer_id, VERIFIED
