"""The Segment tracking spec's messages, validated as they arrive, with the spec's clock-skew correction.

A message is kept as the JSON object it came as (nothing the SDK sent is dropped), plus three fields the
collector adds: ``type`` (from the endpoint when the message does not say), ``receivedAt`` and ``at`` (when
it happened by the server's clock):

* ``timestamp`` when the message sets it;
* else ``receivedAt − (sentAt − originalTimestamp)``: the device's clock may be wrong, but the time between
  the event and the send is measured on the same clock;
* else ``receivedAt``.

>>> from datetime import UTC, datetime
>>> received = datetime(2026, 12, 3, 12, 0, 10, tzinfo=UTC)
>>> event_time({"originalTimestamp": "2026-12-03T11:00:00Z", "sentAt": "2026-12-03T11:00:05Z"}, received)
datetime.datetime(2026, 12, 3, 12, 0, 5, tzinfo=datetime.timezone.utc)
>>> event_time({"timestamp": "2026-12-01T08:00:00+01:00"}, received)
datetime.datetime(2026, 12, 1, 7, 0, tzinfo=datetime.timezone.utc)
>>> compact_json({"path": "/é", "n": 2**70})  # UTF-8 kept; an integer orjson cannot hold goes through json
'{"path":"/é","n":1180591620717411303424}'
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson

from api.collection.config import MAX_MESSAGE_BYTES
from graph_model.model.customers import normal_key
from graph_model.timestamps import to_utc

TYPES = ("track", "identify", "page", "screen", "alias", "group")
MAX_ID = 200


#: How deep a message may nest: what orjson writes (it reads 1,024 levels). Deeper is refused as bad input
#: (until stop 40 a message nested 1,000 levels made the standard encoder overflow: a 500 with a traceback).
MAX_NESTING = 255


def compact_json(message: dict[str, Any]) -> str:
    """``message`` as compact JSON text (UTF-8 characters kept): what the size limit measures and what the spool
    stores. orjson (a tenth of the standard encoder's time); the standard one for what orjson refuses (an
    integer over 64 bits); :class:`MessageRefused` for a message nested deeper than :data:`MAX_NESTING`."""
    try:
        return orjson.dumps(message).decode()
    except orjson.JSONEncodeError as error:
        if "recursion" in str(error).lower():
            raise MessageRefused(f"a message nests at most {MAX_NESTING} levels deep") from None
        return json.dumps(message, separators=(",", ":"), ensure_ascii=False)


class MessageRefused(ValueError):
    """A request the spec does not allow: the whole request is answered ``400`` with this reason."""


def _time(value: Any, name: str) -> datetime | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise MessageRefused(f"`{name}` must be an ISO 8601 time, got {type(value).__name__}")
    try:
        return to_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        raise MessageRefused(f"`{name}` is not an ISO 8601 time in years 1 to 9999: {value[:40]!r}") from None


#: The earliest time an interaction can be collected at: an earlier one is an SDK's empty date (.NET's
#: ``DateTime.MinValue`` is 0001-01-01), not a time (until stop 40 such a message was written, and its session,
#: stretched back to year 1, took in every later message of the person).
EARLIEST_EVENT = datetime(2000, 1, 1, tzinfo=UTC)


def event_time(message: dict[str, Any], received_at: datetime, batch_sent_at: Any = None) -> datetime:
    """When the message's event happened by the server's clock (see the module docstring); not before
    :data:`EARLIEST_EVENT` (later than now is the loaders' check, a reject with its reason).

    >>> event_time({"timestamp": "0001-01-01T00:00:00Z"}, datetime(2026, 12, 3, tzinfo=UTC))
    Traceback (most recent call last):
    ...
    api.collection.messages.MessageRefused: the event's time 0001-01-01T00:00:00+00:00 is before 2000: an empty date, not a time
    """
    at = _event_time(message, received_at, batch_sent_at)
    if at < EARLIEST_EVENT:
        raise MessageRefused(f"the event's time {at.isoformat()} is before {EARLIEST_EVENT.year}: an empty date, "
                             f"not a time")
    return at


def _event_time(message: dict[str, Any], received_at: datetime, batch_sent_at: Any) -> datetime:
    timestamp = _time(message.get("timestamp"), "timestamp")
    if timestamp is not None:
        return timestamp
    original = _time(message.get("originalTimestamp"), "originalTimestamp")
    sent = _time(message.get("sentAt") or batch_sent_at, "sentAt")
    if original is not None and sent is not None:
        try:
            return received_at - (sent - original)
        except OverflowError:
            raise MessageRefused("`sentAt` and `originalTimestamp` are too far apart to place the event in time"
                                 ) from None
    return original or received_at


def _text_id(message: dict[str, Any], name: str) -> str | None:
    value = message.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)  # the spec allows numeric user ids
    if not isinstance(value, str) or len(value) > MAX_ID:
        raise MessageRefused(f"`{name}` must be a string of at most {MAX_ID} characters")
    # as the loaders read a key: the tombstone check, the spool's sessions and the graph see one spelling (until
    # stop 40 `" C0000082 "` passed the collector's erased check and kept spool state: found by an audit)
    return normal_key(value) or None


def accept(message: Any, kind: str | None, received_at: datetime, batch: dict[str, Any] | None = None) -> dict[str, Any]:
    """The message as it will be spooled, or :class:`MessageRefused` with the reason.

    ``kind``: the endpoint's type (``None`` for ``/v1/batch``, where each message says its own); ``batch``:
    the batch's own fields (``context`` and ``sentAt`` apply to every message that does not set them).
    """
    if not isinstance(message, dict):
        raise MessageRefused("a message must be a JSON object")
    if len(compact_json(message).encode()) > MAX_MESSAGE_BYTES:
        raise MessageRefused(f"a message is limited to {MAX_MESSAGE_BYTES // 1024} KB")
    declared = message.get("type")
    kind = kind or declared
    if kind not in TYPES:
        raise MessageRefused(f"`type` must be one of {', '.join(TYPES)}, got {str(declared)[:40]!r}")
    if declared is not None and declared != kind:
        raise MessageRefused(f"a {declared!r} message sent to /v1/{kind}")
    user_id, anonymous_id = _text_id(message, "userId"), _text_id(message, "anonymousId")
    if user_id is None and anonymous_id is None:
        raise MessageRefused("every message needs a `userId` or an `anonymousId`")
    if kind == "track" and not (isinstance(message.get("event"), str) and message["event"].strip()):
        raise MessageRefused("a track message needs an `event` name")
    if kind == "alias" and (user_id is None or _text_id(message, "previousId") is None):
        raise MessageRefused("an alias message needs a `userId` and a `previousId`")
    if kind == "group" and _text_id(message, "groupId") is None:
        raise MessageRefused("a group message needs a `groupId`")
    for name in ("context", "properties", "traits"):
        if message.get(name) is not None and not isinstance(message[name], dict):
            raise MessageRefused(f"`{name}` must be a JSON object")
    batch = batch or {}
    if batch.get("context") is not None and not isinstance(batch["context"], dict):
        raise MessageRefused("the batch's `context` must be a JSON object")
    context = {**(batch.get("context") or {}), **(message.get("context") or {})}
    message_id = _text_id(message, "messageId") or f"collector-{uuid.uuid4()}"
    at = event_time(message, received_at, batch.get("sentAt"))
    ids = {"previousId": _text_id(message, "previousId")} if kind == "alias" else {}
    return {**message, "type": kind, "messageId": message_id, "userId": user_id, "anonymousId": anonymous_id,
            **ids, "context": context, "receivedAt": received_at.isoformat(), "at": at.isoformat()}
