"""Collected messages to the nightly loaders' export rows (the table is in docs/collection.md).

Every message becomes rows of the export entities (``customers``, ``identifiers``, ``consents``,
``sessions``, ``orders``, ``events``, ``pings``), which the loaders' pipeline then validates and writes like
a nightly drop: same checks, same privacy rules, same writers. A message that cannot become any row is a
:class:`Unmapped` with its reason (kept as a reject, never dropped silently).

>>> from datetime import timedelta
>>> import tempfile, pathlib
>>> from api.collection.spool import Spool
>>> from api.collection.sessions import SessionClock
>>> clock = SessionClock(Spool(pathlib.Path(tempfile.mkdtemp()) / "s.sqlite"), timedelta(minutes=30))
>>> view = {"type": "track", "event": "Product Viewed", "messageId": "m1", "anonymousId": "a1", "userId": None,
...         "properties": {"sku": "85123A"}, "context": {}, "at": "2026-12-03T10:00:00+00:00"}
>>> batch = map_messages([(7, view)], clock)
>>> [(line, row["type"], row["sku"]) for line, row in batch.rows["events"]]
[(7, 'product_view', '85123A')]
>>> [(row["channel"], row["cookie"]) for _, row in batch.rows["sessions"]]
[('web', 'a1')]
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from api.collection.proof import NO_TOKEN, PROOF, trusted
from api.collection.sessions import SessionClock
from loaders.report import RejectReason

# e-commerce spec v2 event names -> the graph's event types (any other name: a custom event)
ECOMMERCE_EVENTS = {
    "Products Searched": "search",
    "Product Viewed": "product_view",
    "Product Added": "add_to_cart",
    "Product Removed": "remove_from_cart",
    "Checkout Started": "checkout",
    "Order Completed": "purchase",
}

# consent categories an SDK's consent manager sends (lower case, no spaces) -> the graph's purposes
CONSENT_CATEGORIES = {
    "analytics": "analytics", "performance": "analytics", "statistics": "analytics",
    "advertising": "marketing", "marketing": "marketing", "targeting": "marketing",
    "personalization": "personalisation", "personalisation": "personalisation", "functional": "personalisation",
    "location": "location",
}

APP_LIBRARIES = ("ios", "android", "react-native", "flutter", "kotlin", "swift")
MAX_PROPERTIES = 16_000  # characters of a custom event's properties kept as JSON text


@dataclass(frozen=True)
class Unmapped:
    """A message (its spool sequence number) that becomes no row, and why."""

    line: int
    entity: str
    reason: str
    code: RejectReason = RejectReason.INVALID_VALUE


@dataclass
class MappedBatch:
    """Export rows per entity as ``(spool sequence, row)``, and the messages that became none."""

    rows: dict[str, list[tuple[int, dict[str, Any]]]] = field(default_factory=lambda: defaultdict(list))
    unmapped: list[Unmapped] = field(default_factory=list)


def channel_of(message: dict[str, Any]) -> str:
    """``app`` for mobile SDKs and screens, ``web`` otherwise."""
    context = message.get("context") or {}
    library = context.get("library")
    library = str(library.get("name", "") if isinstance(library, dict) else "").lower()
    if message.get("type") == "screen" or context.get("app") or any(name in library for name in APP_LIBRARIES):
        return "app"
    return "web"


def email_hash(email: str) -> str:
    """The export format's ``emailHash``: SHA-256 of the trimmed, lower-cased address.

    >>> email_hash(" Ada@Example.com ") == email_hash("ada@example.com")
    True
    >>> email_hash("ada@example.com")[:12]
    'b5fc85e55755'
    """
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def _sku(properties: dict[str, Any]) -> str | None:
    value = properties.get("sku") or properties.get("product_id")
    return str(value) if value not in (None, "") else None


def _customer_row(message: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {"customerId": message["userId"]}
    if message["type"] != "identify":
        return row
    traits = message.get("traits") or (message.get("context") or {}).get("traits") or {}
    if not isinstance(traits, dict):
        return row
    name = traits.get("name") or " ".join(str(traits[k]) for k in ("firstName", "lastName") if traits.get(k)) or None
    address: dict[str, Any] = traits["address"] if isinstance(traits.get("address"), dict) else {}
    email = traits.get("email")
    row.update({k: v for k, v in {"name": name, "emailHash": email_hash(email) if isinstance(email, str) and email
                                  else None, "city": address.get("city"), "country": address.get("country")}.items()
                if v is not None})
    return row


def _identity_type(message: dict[str, Any]) -> str:
    return "device_id" if channel_of(message) == "app" else "cookie"


class _Mapper:
    def __init__(self, clock: SessionClock) -> None:
        self.clock = clock
        self.batch = MappedBatch()
        self.sessions: dict[str, tuple[int, dict[str, Any]]] = {}  # session id -> (first line, its row)
        self.unlinked: set[tuple[str, str]] = set()  # (visitor id, customer id) refused a link in this batch

    def add(self, line: int, message: dict[str, Any]) -> None:
        at = datetime.fromisoformat(message["at"])
        kind, user_id, anonymous_id = message["type"], message.get("userId"), message.get("anonymousId")
        rows = self.batch.rows
        if user_id:
            rows["customers"].append((line, self._profile(line, message)))
            if anonymous_id and kind in ("identify", "alias", "track", "page", "screen"):
                self._link(line, message, {"customerId": user_id, "type": _identity_type(message),
                                           "value": anonymous_id, "seenAt": at})
            self._consents(line, message)
            self._location(line, message, at)
        elif kind == "identify":
            self.batch.unmapped.append(Unmapped(line, "customers", "identify without a userId: an anonymous "
                                                "visitor's traits are not kept (its events are)"))
        if kind == "alias":
            self._link(line, message, {"customerId": user_id, "type": _identity_type(message),
                                       "value": str(message["previousId"]), "seenAt": at})
        elif kind in ("page", "screen", "track", "group"):
            self._event(line, message, at)

    def _profile(self, line: int, message: dict[str, Any]) -> dict[str, Any]:
        """The message's customer row: with its ``identify`` traits only from a proven sender
        (:mod:`api.collection.proof`); otherwise the traits are a reject ``unverified``."""
        row = _customer_row(message)
        if len(row) > 1 and not trusted(message):
            traits = ", ".join(name for name in row if name != "customerId")
            self.batch.unmapped.append(Unmapped(line, "customers", f"profile traits ({traits}) not recorded: "
                                                f"{message.get(PROOF, NO_TOKEN)}", RejectReason.UNVERIFIED))
            return {"customerId": row["customerId"]}
        return row

    def _link(self, line: int, message: dict[str, Any], row: dict[str, Any]) -> None:
        """An identifier (the visitor's cookie or device) joined to the message's customer: only from a proven
        sender (:mod:`api.collection.proof`); otherwise one reject ``unverified`` per visitor and customer in
        the batch, and the visitor's sessions stay anonymous (they join the customer once a proven message
        links them)."""
        if trusted(message):
            self.batch.rows["identifiers"].append((line, row))
        elif (row["value"], row["customerId"]) not in self.unlinked:
            self.unlinked.add((row["value"], row["customerId"]))
            self.batch.unmapped.append(Unmapped(line, "identifiers", f"{row['type']} not joined to the customer: "
                                                f"{message.get(PROOF, NO_TOKEN)}", RejectReason.UNVERIFIED))

    def _session(self, message: dict[str, Any], at: datetime) -> str:
        context = message.get("context") or {}
        actor = message.get("anonymousId") or message["userId"]
        sdk = context.get("sessionId")
        session_id = self.clock.session_for(actor, at, str(sdk) if sdk not in (None, "") else None)
        first = self.sessions.get(session_id)
        row = first[1] if first else None
        if row is None:
            channel = channel_of(message)
            device: dict[str, Any] = context["device"] if isinstance(context.get("device"), dict) else {}
            row = {"sessionId": session_id, "channel": channel, "device": device.get("type"),
                   "cookie": message.get("anonymousId") if channel == "web" else None,
                   "deviceId": (device.get("id") or message.get("anonymousId")) if channel == "app" else None}
            self.sessions[session_id] = (int(message.get("_line", 0)), row)
        # a visitor's session joins the customer only by a proven message (else the public key could join
        # anyone's cookie to any customer); a session of the customer's own id alone is theirs anyway
        if message.get("userId") and not row.get("customerId") and (trusted(message) or not message.get("anonymousId")):
            row["customerId"] = message["userId"]
        return session_id

    def _event(self, line: int, message: dict[str, Any], at: datetime) -> None:
        kind = message["type"]
        properties = message.get("properties") or {}
        session_id = self._session({**message, "_line": line}, at)
        event: dict[str, Any] = {"eventId": message["messageId"], "sessionId": session_id, "at": at}
        if kind in ("page", "screen"):
            event.update(type="page_view", page=properties.get("path") or properties.get("url") or message.get("name"))
        elif kind == "group":
            event.update(type="custom", name="Group", properties=_json({"groupId": message.get("groupId"),
                                                                         "traits": message.get("traits") or {}}))
        else:
            name = message["event"]
            typed = ECOMMERCE_EVENTS.get(name)
            if typed is None:
                event.update(type="custom", name=name[:200], properties=_json(properties))
            else:
                event.update(type=typed, sku=_sku(properties) if typed != "search" else None,
                             query=properties.get("query"), quantity=properties.get("quantity"))
                if typed == "purchase":
                    event["orderId"] = self._order(line, message, at, properties)
        self.batch.rows["events"].append((line, event))

    def _order(self, line: int, message: dict[str, Any], at: datetime, properties: dict[str, Any]) -> str | None:
        listed = properties.get("products")
        products = [p for p in listed if isinstance(p, dict)] if isinstance(listed, list) else []
        if not products:
            return None
        order_id = str(properties.get("order_id") or properties.get("checkout_id") or message["messageId"])
        for number, product in enumerate(products, start=1):
            self.batch.rows["orders"].append((line, {
                "orderId": order_id, "line": number, "placedAt": at, "channel": channel_of(message),
                "sku": _sku(product), "quantity": product.get("quantity", 1), "unitPrice": product.get("price", 0),
                "customerId": message.get("userId"), "currency": properties.get("currency")}))
        return order_id

    def _consents(self, line: int, message: dict[str, Any]) -> None:
        """The consent manager's decisions (:mod:`api.collection.proof`): withdrawals always, grants only from a
        proven sender; dated by the server's clock."""
        consent = (message.get("context") or {}).get("consent") or {}
        preferences = consent.get("categoryPreferences") if isinstance(consent, dict) else None
        if not isinstance(preferences, dict):
            return
        purposes: dict[str, bool] = {}
        for category, granted in preferences.items():
            purpose = CONSENT_CATEGORIES.get(str(category).lower().replace(" ", ""))
            if purpose is not None and isinstance(granted, bool):
                purposes[purpose] = purposes.get(purpose, True) and granted  # any category withheld: withheld
        received = datetime.fromisoformat(message["receivedAt"])
        for purpose, granted in sorted(purposes.items()):
            if granted and not trusted(message):
                self.batch.unmapped.append(Unmapped(line, "consents", f"{purpose} granted, not recorded: "
                                                    f"{message.get(PROOF, NO_TOKEN)}", RejectReason.UNVERIFIED))
                continue
            self.batch.rows["consents"].append((line, {"customerId": message["userId"], "channel": channel_of(message),
                                                       "purpose": purpose, "granted": granted,
                                                       "updatedAt": received}))

    def _location(self, line: int, message: dict[str, Any], at: datetime) -> None:
        """A location ping of the message's customer, only from a proven sender: a public key could otherwise
        place any customer at any store (a visit they never made). The coordinates of a refused one are kept
        nowhere (its reject has no row)."""
        location = (message.get("context") or {}).get("location")
        if isinstance(location, dict) and location.get("latitude") is not None and location.get("longitude") is not None:
            if not trusted(message):
                self.batch.unmapped.append(Unmapped(line, "pings", f"location not recorded: "
                                                    f"{message.get(PROOF, NO_TOKEN)}", RejectReason.UNVERIFIED))
                return
            self.batch.rows["pings"].append((line, {"customerId": message["userId"], "latitude": location["latitude"],
                                                    "longitude": location["longitude"], "at": at}))

    def finish(self) -> MappedBatch:
        for session_id, (line, row) in self.sessions.items():
            start, end = self.clock.bounds(session_id)
            self.batch.rows["sessions"].append((line, {**row, "startedAt": start, "endedAt": end}))
        return self.batch


def _json(value: Any) -> str:
    """``value`` as JSON text; beyond :data:`MAX_PROPERTIES` characters only its keys, marked truncated."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
    if len(text) <= MAX_PROPERTIES:
        return text
    return json.dumps({"truncated": True, "keys": sorted(map(str, value))[:200]}, ensure_ascii=False)[:MAX_PROPERTIES]


def map_messages(messages: list[tuple[int, dict[str, Any]]], clock: SessionClock) -> MappedBatch:
    """The export rows of ``messages`` (``(spool sequence, message)``), sessions assigned by ``clock``.

    A message whose shape the mapping did not foresee becomes an :class:`Unmapped` (its rows taken back), never
    an error of the batch: one such message, accepted and spooled, would otherwise stop the collector for
    every sender until the spool filled (found by the stop-37 audit: ``context.library`` as text).

    >>> import tempfile, pathlib
    >>> from datetime import timedelta
    >>> from api.collection.spool import Spool
    >>> from api.collection.sessions import SessionClock
    >>> clock = SessionClock(Spool(pathlib.Path(tempfile.mkdtemp()) / "s.sqlite"), timedelta(minutes=30))
    >>> odd = {"type": "page", "messageId": "m1", "anonymousId": "a1"}  # no time: not what accept() spools
    >>> batch = map_messages([(3, odd)], clock)
    >>> [(u.line, u.reason) for u in batch.unmapped], dict(batch.rows)
    ([(3, "message 'm1' could not be mapped (KeyError: 'at')")], {})
    """
    mapper = _Mapper(clock)
    for line, message in messages:
        rows = {entity: len(entity_rows) for entity, entity_rows in mapper.batch.rows.items()}
        unmapped, sessions = len(mapper.batch.unmapped), len(mapper.sessions)
        try:
            mapper.add(line, message)
        except Exception as error:  # noqa: BLE001 - any unforeseen shape is this message's reject, not the batch's
            for entity, entity_rows in mapper.batch.rows.items():
                del entity_rows[rows.get(entity, 0):]
            del mapper.batch.unmapped[unmapped:]
            for session_id in list(mapper.sessions)[sessions:]:  # the sessions it opened (dicts keep their order)
                del mapper.sessions[session_id]
            mapper.batch.unmapped.append(Unmapped(line, "events", f"message {str(message.get('messageId'))[:80]!r} "
                                                  f"could not be mapped ({type(error).__name__}: {str(error)[:200]})"))
    batch = mapper.finish()
    clock.save()
    return batch
