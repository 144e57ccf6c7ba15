"""Times as the graph keeps them: aware ``datetime`` in ``datetime.UTC``, one rule for every way in.

The loaders' schemas, the collection API and the GraphQL API's ``DateTime`` arguments all take ISO 8601 text
with or without an offset; :func:`to_utc` turns what they parsed into the graph's form (a time without an
offset is taken as UTC; ``graph_model.bolt_time`` sends UTC values fastest). A time that Python can parse
but not hold once in UTC (``0001-01-01T00:00:00+01:00`` is in year 0) is a ``ValueError`` like any other
unreadable time, so each way in refuses it as bad input instead of failing with an ``OverflowError``:

>>> to_utc(datetime.fromisoformat("2026-11-01T08:15:00+01:00"))
datetime.datetime(2026, 11, 1, 7, 15, tzinfo=datetime.timezone.utc)
>>> to_utc(datetime(2026, 11, 1, 8, 15))
datetime.datetime(2026, 11, 1, 8, 15, tzinfo=datetime.timezone.utc)
>>> to_utc(datetime.fromisoformat("0001-01-01T00:00:00+01:00"))
Traceback (most recent call last):
ValueError: 0001-01-01T00:00:00+01:00 is out of range once in UTC (years 1 to 9999)
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

__all__ = ["CLOCK_TOLERANCE", "latest_acceptable", "to_utc"]

#: how far past this machine's clock a recorded time may be (the sending system's clock may be ahead)
CLOCK_TOLERANCE = timedelta(days=1)


def to_utc(value: datetime) -> datetime:
    """``value`` in UTC (a naive ``value`` is taken as UTC); ``ValueError`` when UTC cannot hold it."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{value.isoformat()} is out of range once in UTC (years 1 to 9999)") from None


def latest_acceptable(now: datetime | None = None) -> datetime:
    """The latest time any way in accepts for something that happened or was decided: ``now`` (this machine's
    clock by default) plus :data:`CLOCK_TOLERANCE`. A later one would outrank every later change where the
    latest wins (consents, profiles), stay the newest entry of every timeline and recency figure, and never
    age out under retention; so each way in refuses it as bad input.

    >>> latest_acceptable(datetime(2026, 12, 5, tzinfo=UTC))
    datetime.datetime(2026, 12, 6, 0, 0, tzinfo=datetime.timezone.utc)
    """
    return (now or datetime.now(UTC)) + CLOCK_TOLERANCE
