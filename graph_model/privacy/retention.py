"""Storage limitation (GDPR Art. 5(1)(e)): what identifies a person is kept for a set time, then removed.

Three kinds of data, each with its period (days, counted back from now; ``keep`` = no limit):

==================  =====================================================================  =======
kind                what happens once the period is over                                    default
==================  =====================================================================  =======
anonymous_browsing  a session no customer owns (no ``HAD_SESSION``) started before the       395
                    cut-off is de-identified like an erased person's (:data:`~graph_model.
                    privacy.erasure.SCRUB_SESSION`: its device, its ``IDENTIFIED_BY``, its
                    events' search text and ``SEARCHED``, custom events' properties, the
                    query strings of its pages);
                    an identifier then left on no session and identifying no one (a cookie,
                    a device id) is deleted with its ``LINKED_TO``
customer_browsing   the same for a customer's session, which also loses ``HAD_SESSION``: the   1095
                    customer's browsing history stops at the cut-off
location_visits     a store visit found from the phone's location (``source`` =              395
                    ``location_ping``) loses ``MADE_VISIT`` and gets a new random id, as in
                    erasure: the store keeps an anonymous visit, the customer has none
free_text           what people wrote: a reply's text (``RESPONDED.text``; the response,     1095
                    its type and time stay) and an associate's note (``Note``, deleted)
==================  =====================================================================  =======

Kept in every case: the sessions and their product events as anonymous facts (product affinities,
trends and store footfall stay as they were), orders (commercial records), identifiers that identify a
customer. 395 days is 13 months, the lifetime the French CNIL accepts for trackers; 1,095 days (3
years) is its usual period for customer marketing data. Set them with your DPO:
``CUSTOMER_GRAPH_RETENTION="anonymous_browsing=395,customer_browsing=1095,location_visits=395,free_text=1095"``.

:func:`apply_retention` runs it (``customer-graph privacy retention``; with ``CUSTOMER_GRAPH_RETENTION`` set,
every load command also ends with it, since a load of old rows would bring their identifiers back), in
transactions of :data:`BATCH` rows, and records one audit entry with the counts. Only what still holds
something personal is selected, so a second run finds nothing.

>>> policy = retention_policy({"CUSTOMER_GRAPH_RETENTION": "anonymous_browsing=30, location_visits=keep"})
>>> policy.anonymous_browsing, policy.customer_browsing, policy.location_visits, policy.free_text
(30, 1095, None, 1095)
>>> policy.cutoffs(datetime(2026, 12, 4, tzinfo=UTC))["anonymous_browsing"].isoformat()
'2026-11-04T00:00:00+00:00'
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any

import neo4j

from graph_model.connection import run_query, session
from graph_model.errors import ConfigurationError
from graph_model.privacy import audit
from graph_model.privacy.erasure import ANONYMOUS_VISIT_ID, SCRUB_SESSION

ENV = "CUSTOMER_GRAPH_RETENTION"
BATCH = 500

#: Sessions past their kind's cut-off that still hold something personal; ``owned``: a customer's session.
#: The range seek on ``Session.startedAt`` uses the later of the two cut-offs; a ``null`` cut-off keeps all.
PAST_SESSIONS = """
MATCH (s:Session) WHERE s.startedAt < $latestSessionCutoff
WITH s, EXISTS { (:Customer)-[:HAD_SESSION]->(s) } AS owned
WITH s, owned WHERE s.startedAt < CASE WHEN owned THEN $customerCutoff ELSE $anonymousCutoff END
  AND (owned OR s.device IS NOT NULL OR EXISTS { (s)-[:IDENTIFIED_BY]->(:Identity) }
       OR EXISTS { (s)-[:CONTAINS]->(e:Event) WHERE e.query IS NOT NULL OR e.properties IS NOT NULL
                                                   OR e.page CONTAINS '?' OR e.page CONTAINS '#' })
"""

DEIDENTIFY_SESSIONS = PAST_SESSIONS + """
CALL (s, owned) {
  WITH s, owned, [(s)-[:IDENTIFIED_BY]->(i:Identity) | i] AS seen
  CALL (s) {
    MATCH (:Customer)-[h:HAD_SESSION]->(s)
    DELETE h
  }
""" + SCRUB_SESSION + """
  CALL (seen) {
    UNWIND seen AS i
    WITH i WHERE NOT EXISTS { (i)<-[:IDENTIFIED_BY]-(:Session) } AND NOT EXISTS { (i)-[:IDENTIFIES]->(:Customer) }
    DETACH DELETE i
    RETURN count(i) AS identities
  }
  RETURN owned AS wasOwned, identities
} IN TRANSACTIONS OF $batch ROWS
RETURN count(CASE WHEN wasOwned THEN 1 END) AS customerSessions, count(CASE WHEN NOT wasOwned THEN 1 END)
       AS anonymousSessions, sum(identities) AS identities
"""

COUNT_SESSIONS = PAST_SESSIONS + """
RETURN count(CASE WHEN owned THEN 1 END) AS customerSessions, count(CASE WHEN NOT owned THEN 1 END)
       AS anonymousSessions
"""

#: Location visits past the cut-off still attached to a customer.
PAST_VISITS = """
MATCH (v:Visit) WHERE v.arrivedAt < $visitCutoff AND v.source = 'location_ping'
  AND EXISTS { (:Customer)-[:MADE_VISIT]->(v) }
"""

DETACH_VISITS = PAST_VISITS + """
CALL (v) {
  MATCH (:Customer)-[m:MADE_VISIT]->(v)
  DELETE m
  SET v.visitId = """ + ANONYMOUS_VISIT_ID + """
} IN TRANSACTIONS OF $batch ROWS
RETURN count(v) AS visits
"""

COUNT_VISITS = PAST_VISITS + "RETURN count(v) AS visits"

#: Replies and notes past the cut-off that still hold their text.
PAST_REPLIES = """
MATCH (:Customer)-[r:RESPONDED]->(:Message) WHERE r.at < $freeTextCutoff AND r.text IS NOT NULL
"""
CLEAR_REPLIES = PAST_REPLIES + """
CALL (r) { SET r.text = null } IN TRANSACTIONS OF $batch ROWS
RETURN count(r) AS replies
"""
COUNT_REPLIES = PAST_REPLIES + "RETURN count(r) AS replies"
PAST_NOTES = "MATCH (n:Note) WHERE n.createdAt < $freeTextCutoff\n"
DELETE_NOTES = PAST_NOTES + "CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF $batch ROWS RETURN count(n) AS notes"
COUNT_NOTES = PAST_NOTES + "RETURN count(n) AS notes"

#: The counts a run reports, in the order of its audit entry.
COUNTED = ("anonymousSessions", "customerSessions", "identities", "visits", "replies", "notes")


@dataclass(frozen=True)
class RetentionPolicy:
    """Days each kind of data keeps what identifies a person; ``None`` = no limit."""

    anonymous_browsing: int | None = 395
    customer_browsing: int | None = 1095
    location_visits: int | None = 395
    free_text: int | None = 1095

    def cutoffs(self, now: datetime) -> dict[str, datetime | None]:
        """The cut-off of each kind at ``now``: data from before it is past its period (a period that reaches
        back before year 1 has its cut-off there: nothing is past it).

        >>> RetentionPolicy(free_text=10**12).cutoffs(datetime(2026, 12, 5, tzinfo=UTC))["free_text"]
        datetime.datetime(1, 1, 1, 0, 0, tzinfo=datetime.timezone.utc)
        """
        return {f.name: None if (days := getattr(self, f.name)) is None else _days_before(now, days)
                for f in fields(self)}

    def describe(self) -> str:
        """``kind=days`` for each kind (``keep`` for no limit), as in the setting."""
        return ",".join(f"{f.name}={'keep' if (v := getattr(self, f.name)) is None else v}" for f in fields(self))


def _days_before(now: datetime, days: int) -> datetime:
    try:
        return now - timedelta(days=days)
    except OverflowError:  # before year 1 (or more days than a timedelta holds)
        return datetime.min.replace(tzinfo=UTC)


def retention_policy(env: Mapping[str, str] | None = None) -> RetentionPolicy:
    """The policy from ``CUSTOMER_GRAPH_RETENTION`` (``kind=days`` or ``kind=keep``, comma-separated; the kinds
    not named keep their default); a bad setting is a :class:`ConfigurationError` that names it."""
    text = (os.environ if env is None else env).get(ENV, "").strip()
    known = {f.name for f in fields(RetentionPolicy)}
    values: dict[str, int | None] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, value = (x.strip() for x in part.partition("="))
        if name not in known:
            raise ConfigurationError(f"{ENV}: unknown kind {name!r}; one of {', '.join(sorted(known))}")
        if value == "keep":
            values[name] = None
        elif value.isdigit() and int(value) > 0:
            values[name] = int(value)
        else:
            raise ConfigurationError(f"{ENV}: {name} must be a number of days (> 0) or 'keep', not {value!r}")
    return RetentionPolicy(**values)


def retention_configured(env: Mapping[str, str] | None = None) -> bool:
    """Whether ``CUSTOMER_GRAPH_RETENTION`` is set: then every load command ends with a retention run."""
    return bool((os.environ if env is None else env).get(ENV, "").strip())


def _parameters(policy: RetentionPolicy, now: datetime) -> dict[str, Any]:
    cut = policy.cutoffs(now)
    session_cuts = [c for c in (cut["anonymous_browsing"], cut["customer_browsing"]) if c is not None]
    return {"anonymousCutoff": cut["anonymous_browsing"], "customerCutoff": cut["customer_browsing"],
            "latestSessionCutoff": max(session_cuts) if session_cuts else None,
            "visitCutoff": cut["location_visits"], "freeTextCutoff": cut["free_text"], "batch": BATCH}


def apply_retention(policy: RetentionPolicy | None = None, *, now: datetime | None = None, dry_run: bool = False,
                    actor: str = "retention") -> dict[str, Any]:
    """De-identify what is past its period (see the module docstring); with ``dry_run`` only count it.

    Returns the policy, the cut-offs and the counts (:data:`COUNTED`): ``anonymousSessions``,
    ``customerSessions``, ``identities`` (deleted; ``None`` in a dry run), ``visits``, ``replies``, ``notes``.
    A run that changed something records an ``audit`` entry (action ``retention``, no subject, the counts as
    detail); a run that fails part-way records what its finished steps changed, marked ``interrupted``, and
    raises. ``customer-graph privacy retention --every 24h`` repeats it (:mod:`customer_graph.schedule`)."""
    policy = policy or retention_policy()
    now = now or datetime.now(UTC)
    params = _parameters(policy, now)
    counts: dict[str, Any] = dict.fromkeys(COUNTED, 0)
    steps = ((params["latestSessionCutoff"], COUNT_SESSIONS, DEIDENTIFY_SESSIONS),
             (params["visitCutoff"], COUNT_VISITS, DETACH_VISITS),
             (params["freeTextCutoff"], COUNT_REPLIES, CLEAR_REPLIES),
             (params["freeTextCutoff"], COUNT_NOTES, DELETE_NOTES))
    try:
        with session() as s:  # CALL ... IN TRANSACTIONS needs an implicit transaction; no limit on the outer one
            for cutoff, count, change in steps:
                if cutoff is not None:
                    counts.update(s.run(neo4j.Query(count if dry_run else change, timeout=0), params)
                                  .single(strict=True))
    except Exception:
        if not dry_run:  # the steps that finished are recorded; the one that failed committed part of its batches
            _record(actor, now, policy, counts, interrupted=True)
        raise
    counts["identities"] = None if dry_run else counts["identities"] or 0
    result = {"policy": policy.describe(), "now": now.isoformat(), "dryRun": dry_run,
              "cutoffs": {k: v.isoformat() if v else None for k, v in policy.cutoffs(now).items()}, **counts}
    if not dry_run:
        _record(actor, now, policy, counts)
    return result


def _record(actor: str, now: datetime, policy: RetentionPolicy, counts: Mapping[str, Any], *,
            interrupted: bool = False) -> None:
    """The run's audit entry (action ``retention``, no subject): its counts and policy, when it changed
    something, or always when it was ``interrupted`` (then best effort: the database may be what failed)."""
    if not (interrupted or any(counts.values())):
        return
    detail = " ".join(f"{k}={counts[k] or 0}" for k in COUNTED) + f" policy={policy.describe()}"
    entry = audit.audit_entry(actor, "retention", None, detail + (" interrupted" if interrupted else ""), at=now)
    try:
        run_query(audit.RECORD_ENTRIES, {"entries": [entry]})
    except Exception:
        if not interrupted:
            raise
