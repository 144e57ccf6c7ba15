"""Which session a collected message belongs to.

* ``context.sessionId`` when the SDK sends one (per person: the id is scoped to the anonymous / user id);
* otherwise the inactivity rule: a message within ``timeout`` of one of the person's sessions (before its
  start or after its end) joins it and stretches it; else it starts a new one. A late message lands in the
  session it happened in, not in the latest.

The person is the ``anonymousId`` when the SDK sends one (it stays the same across a log-in, so the session
does too), else the ``userId``. Session ids are derived from the person and the first time (or the SDK's
id), so replaying the spool after a crash finds the same sessions. State lives in the spool file.

>>> from datetime import UTC, datetime, timedelta
>>> import tempfile, pathlib
>>> from api.collection.spool import Spool
>>> clock = SessionClock(Spool(pathlib.Path(tempfile.mkdtemp()) / "s.sqlite"), timedelta(minutes=30))
>>> t = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
>>> first = clock.session_for("anon-1", t, None)
>>> clock.session_for("anon-1", t + timedelta(minutes=20), None) == first
True
>>> clock.session_for("anon-1", t + timedelta(minutes=90), None) == first  # 70 minutes after the last
False
>>> clock.session_for("anon-1", t - timedelta(minutes=5), None) == first  # late: before the start
True
>>> clock.bounds(first)  # then clock.save() keeps them in the spool
(datetime.datetime(2026, 12, 3, 9, 55, tzinfo=datetime.timezone.utc), datetime.datetime(2026, 12, 3, 10, 20, tzinfo=datetime.timezone.utc))
>>> year_one = clock.session_for("anon-2", datetime(1, 1, 1, tzinfo=UTC), None)  # no time overflows the rule
>>> clock.session_for("anon-2", t, None) == year_one
False
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from api.collection.spool import Spool


def _session_id(actor: str, seed: str) -> str:
    return "sdk-" + hashlib.sha256(f"{actor}\x1f{seed}".encode()).hexdigest()[:24]


class SessionClock:
    """Session ids for messages, with the inactivity rule; bounds (start, end) of the sessions it handed out.

    A person's sessions are read from the spool once, kept here while a batch is mapped, and saved in one
    transaction by :meth:`save` (the batcher calls it once per batch)."""

    def __init__(self, spool: Spool, timeout: timedelta) -> None:
        self.spool, self.timeout = spool, timeout
        self._known: dict[str, dict[str, tuple[datetime, datetime]]] = {}  # actor -> session id -> bounds
        self._changed: dict[tuple[str, str], tuple[datetime, datetime]] = {}
        self._bounds: dict[str, tuple[datetime, datetime]] = {}

    def _sessions(self, actor: str) -> dict[str, tuple[datetime, datetime]]:
        known = self._known.get(actor)
        if known is None:
            known = self._known[actor] = {sid: (start, end) for sid, start, end in self.spool.actor_sessions(actor)}
        return known

    def session_for(self, actor: str, at: datetime, sdk_session: str | None) -> str:
        """The session of a message of ``actor`` at ``at`` (``sdk_session``: the SDK's own session id)."""
        sessions = self._sessions(actor)
        if sdk_session is not None:
            session_id = _session_id(actor, "sdk:" + sdk_session)
            start, end = sessions.get(session_id, (at, at))
            return self._stretch(actor, session_id, min(start, at), max(end, at))
        for session_id, (start, end) in sorted(sessions.items(), key=lambda item: item[1][0]):
            if start - at <= self.timeout and at - end <= self.timeout:  # differences: no date arithmetic overflows
                return self._stretch(actor, session_id, min(start, at), max(end, at))
        return self._stretch(actor, _session_id(actor, at.isoformat()), at, at)

    def _stretch(self, actor: str, session_id: str, start: datetime, end: datetime) -> str:
        self._sessions(actor)[session_id] = (start, end)
        self._changed[(actor, session_id)] = self._bounds[session_id] = (start, end)
        return session_id

    def bounds(self, session_id: str) -> tuple[datetime, datetime]:
        """First and last time of a session this clock handed out in the current batch."""
        return self._bounds[session_id]

    def save(self) -> None:
        """Write the sessions the batch changed to the spool (one transaction), and start a new batch."""
        self.spool.save_sessions([(actor, sid, start, end) for (actor, sid), (start, end) in self._changed.items()])
        self._changed.clear()
        self._known.clear()
        self._bounds.clear()
