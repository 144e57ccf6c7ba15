"""What a collected message proves about who sent it: a browser's write key is public, the customer is not.

A write key sits in the shop's JavaScript, so anyone can send a message naming any ``userId``. Interactions
are taken on that trust, as every Segment-compatible collector does; what the retailer must be able to rely
on is not:

* **consent grants** (``context.consent.categoryPreferences`` with a category ``true``): a legal basis;
* **profile traits** of ``identify`` (name, e-mail, address): the customer's contact data (accuracy).

These are recorded only from a message that proves its sender (:data:`TRUSTED`):

* a **customer token** in ``context.customerToken`` (:mod:`api.tokens`, the same JWT the shop's front end
  reads that customer with through GraphQL) whose ``sub`` is the message's ``userId``; or
* a **server write key** (``CUSTOMER_GRAPH_SERVER_WRITE_KEYS``): a key that lives in the retailer's own
  back end, never in a browser or an app, whose messages are the retailer's systems speaking.

Otherwise they are rejects ``unverified`` (the reason says why) and the message's interactions are kept.
**Withdrawals** (a category ``false``) are recorded from any message: a forged one only makes the service do
less with that customer, and withdrawing must be as easy as giving (GDPR Art. 7(3)). Consent decisions are
dated by the server's clock (``receivedAt``), never by the client's ``timestamp`` (the latest decision wins).

The token is checked when the request arrives (its expiry is about that moment) and never spooled: the
message keeps ``senderProof`` instead, set here on every message whatever the client sent under that name.

>>> message = {"userId": "U1", "context": {"customerToken": "a.b.c", "page": {"path": "/"}}}
>>> _take_token(message), message["context"]
('a.b.c', {'page': {'path': '/'}})
"""

from __future__ import annotations

from typing import Any

from api.tokens import CustomerTokens, InvalidToken, TokenKeysUnavailable

PROOF = "senderProof"
"""The field of a spooled message saying who it is proven to come from (:data:`TRUSTED`), else why it is not."""
CUSTOMER_TOKEN = "customer token"
SERVER_KEY = "server write key"
TRUSTED = frozenset({CUSTOMER_TOKEN, SERVER_KEY})
NO_TOKEN = ("no proof of the sender: the customer's token in `context.customerToken`, or a server write key, is "
            "needed (a browser's write key is public)")
TOKENS_OFF = ("no proof of the sender: this service accepts no customer token (CUSTOMER_GRAPH_TOKEN_*) and the key is "
              "not a server write key")


def _take_token(message: dict[str, Any]) -> str | None:
    """Remove ``context.customerToken`` from ``message`` (a credential: never spooled); return it."""
    context = message.get("context")
    if not isinstance(context, dict) or "customerToken" not in context:
        return None
    context = dict(context)  # the batch's context may be shared by every message: never edit it in place
    token = context.pop("customerToken")
    message["context"] = context
    return token if isinstance(token, str) else None


async def prove_senders(messages: list[dict[str, Any]], tokens: CustomerTokens | None, *, server_key: bool) -> None:
    """Set ``senderProof`` on each accepted message (and take its token out); each distinct token is verified
    once per request. ``server_key``: the request came with a server write key."""
    verdicts: dict[str, tuple[str | None, str]] = {}  # token -> (its customer id, or None and the reason)
    for message in messages:
        token = _take_token(message)
        if server_key:
            message[PROOF] = SERVER_KEY
        elif token is None:
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
                message[PROOF] = CUSTOMER_TOKEN
            else:
                message[PROOF] = "the customer token in `context.customerToken` is another customer's (`sub` is " \
                                 "not the `userId`)"


async def _verdict(tokens: CustomerTokens, token: str) -> tuple[str | None, str]:
    """The customer id of a token that verifies, else ``None`` and why it does not."""
    try:
        principal = await tokens.principal(token)
    except InvalidToken as invalid:
        return None, f"the customer token in `context.customerToken` is refused: {invalid}"
    except TokenKeysUnavailable:
        return None, "the identity provider's keys could not be fetched to check the customer token"
    return principal.customer_id, CUSTOMER_TOKEN


def trusted(message: dict[str, Any]) -> bool:
    """Whether ``message`` (as spooled) may record consent grants and profile traits."""
    return message.get(PROOF) in TRUSTED
