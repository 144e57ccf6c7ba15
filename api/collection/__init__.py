"""The collection API: the Segment HTTP tracking API (``/v1/batch``, ``/v1/track``, ``/v1/identify``,
``/v1/page``, ``/v1/screen``, ``/v1/alias``, ``/v1/group``) on the same app, so the Segment / RudderStack
SDKs a web shop or app already uses fill the company memory as things happen.

One job per module:

* :mod:`~api.collection.config` — write keys, spool path and limits from the environment;
* :mod:`~api.collection.plan` — the optional tracking plan: a JSON schema per track event name, a
  violating message kept as a reject by the writer;
* :mod:`~api.collection.messages` — the spec's messages, validated, with the clock-skew correction;
* :mod:`~api.collection.spool` — the write-ahead spool (SQLite, WAL, ``synchronous=FULL``, group commit): an
  accepted batch is on disk before the ``200``; ``messageId`` duplicates are ignored for at least 24 hours;
* :mod:`~api.collection.mapping` — messages to the nightly loaders' export rows (docs/collection.md);
* :mod:`~api.collection.sessions` — which session a message belongs to (``context.sessionId`` or a
  30-minute inactivity rule per user / anonymous id);
* :mod:`~api.collection.writer` — the background micro-batcher: spooled messages go through the loaders'
  pipeline (same validation, privacy rules, writers, stitching and geofencing as a nightly drop);
* :mod:`~api.collection.routes` — the HTTP endpoints (auth, limits, answers as the spec).
"""
