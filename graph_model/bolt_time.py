"""Fast, exact encoding of UTC ``datetime`` parameters for the Bolt protocol.

Every timestamp the project writes is a ``datetime`` in UTC (the loaders' schemas, the collector and the
API normalise them). The Neo4j driver encodes each ``datetime`` parameter with its general temporal code:
a round trip through ``neo4j.time.DateTime``, ``pytz`` and clock times, about 30 µs per value on this
machine. A session row carries two timestamps, an event one: on a first load of logged-in sessions that
encoding took more CPU than everything else the loader does (``benchmarks/bench_first_load_sessions.py``:
the session writes went from 3.5 s to 1.8 s, the customers' from 3.2 s to 1.1 s).

:func:`install` gives the driver an encoder that handles the one common case itself: a plain ``datetime``
whose ``tzinfo`` is ``datetime.UTC``. It sends the structure the driver would send (``DateTime`` with a
zero offset: seconds since the epoch and nanoseconds), computed with one subtraction; every other value
(naive, another zone, ``pandas.Timestamp``, ``neo4j.time.DateTime``) goes to the driver's own encoder.
``tests/test_bolt_time.py`` checks that both encoders give the same structure, and that the values read
back equal the values written.

The driver has no public hook for this, so :func:`install` replaces the function its hydration handlers
look up when a connection is opened. If a driver version no longer has it, :func:`install` returns
``False``, nothing is replaced, and the driver's own (slower, equally exact) encoder is used.

>>> from datetime import UTC, datetime
>>> encode_utc(datetime(1970, 1, 2, 0, 0, 1, 500, tzinfo=UTC)).fields
[86401, 500000, 0]
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

__all__ = ["encode_utc", "install", "installed"]

log = logging.getLogger(__name__)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_lock = threading.Lock()
_driver_encoder: Callable[[Any], Any] | None = None


def encode_utc(value: datetime) -> Any:
    """The Bolt structure of a UTC ``datetime``: tag ``I`` (a date-time with an offset), seconds since the
    epoch, nanoseconds, offset seconds (0)."""
    from neo4j._codec.packstream import Structure

    delta = value - _EPOCH
    return Structure(b"I", delta.days * 86_400 + delta.seconds, delta.microseconds * 1_000, 0)


def _encode(value: Any) -> Any:
    if type(value) is datetime and value.tzinfo is UTC:
        return encode_utc(value)
    assert _driver_encoder is not None
    return _driver_encoder(value)


def install() -> bool:
    """Use :func:`encode_utc` for UTC ``datetime`` parameters of connections opened from now on (both the
    blocking and the asyncio driver). Idempotent; ``False`` when this driver version cannot take it."""
    global _driver_encoder
    with _lock:
        if _driver_encoder is not None:
            return True
        try:
            from neo4j._codec.hydration.v2 import temporal
            from neo4j._codec.packstream import Structure  # noqa: F401 - what encode_utc builds
        except ImportError:
            log.debug("neo4j driver without the expected temporal module: its own datetime encoder stays")
            return False
        original = getattr(temporal, "dehydrate_datetime", None)
        if not callable(original):
            return False
        _driver_encoder = original
        temporal.dehydrate_datetime = _encode
        return True


def installed() -> bool:
    """Whether :func:`install` took effect."""
    return _driver_encoder is not None
