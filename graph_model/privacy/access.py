"""The right of access (GDPR Art. 15): everything held about one person, as one JSON-ready document.

Profile, identities, consents, the associates' notes about them, the timeline (orders with lines,
sessions with events, store visits, messages with the person's responses), and the algorithm results
about them (segments, RFM and retention figures, recommendations). Other people are never named: similar shoppers are given as a
count. Each list is capped at :data:`MAX_ITEMS` entries (``truncated`` says where).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from graph_model.connection import execute_read

MAX_ITEMS = 10_000

SUBJECT_ACCESS = """
MATCH (c:Customer {customerId: $customerId})
RETURN c {.*, homeLocation: null} AS profile,
       CASE WHEN c.homeLocation IS NULL THEN null
            ELSE {latitude: c.homeLocation.latitude, longitude: c.homeLocation.longitude} END AS homeLocation,
       head([(c)-[:IN_COUNTRY]->(k:Country) | k.name]) AS country,
       head([(c)-[:HOME_STORE]->(s:Store) | s {.storeId, .name}]) AS homeStore,
       [(i:Identity)-[r:IDENTIFIES]->(c) | i {.type, .value, .firstSeen, .lastSeen, linkedAt: r.at}][..$max]
         AS identities,
       [(c)-[:HAS_CONSENT]->(k:Consent) | k {.channel, .purpose, .granted, .updatedAt}] AS consents,
       [(c)-[:HAS_NOTE]->(n:Note) | n {.noteId, .createdAt, .text, .author}][..$max] AS notes,
       [(c)-[:PLACED]->(o:Order) | o {.orderId, .placedAt, .channel, .total, .currency, .cancelled,
          store: head([(o)-[:AT_STORE]->(s:Store) | s.storeId]),
          lines: [(o)-[l:INCLUDES]->(p:Product) | {line: l.line, sku: p.sku, product: p.name,
                                                  quantity: l.quantity, unitPrice: l.unitPrice}]}][..$max]
         AS orders,
       [(c)-[:HAD_SESSION]->(s:Session) | s {.sessionId, .channel, .startedAt, .endedAt, .device,
          events: [(s)-[:CONTAINS]->(e:Event) | e {.eventId, .type, .at, .page, .query, .quantity, .name, .properties,
                   product: head([(e)-[:ABOUT_PRODUCT]->(p:Product) | p.sku])}][..$max]}][..$max] AS sessions,
       [(c)-[:MADE_VISIT]->(v:Visit) | v {.visitId, .arrivedAt, .dwellMinutes, .source, .zones,
          store: head([(v)-[:TO_STORE]->(s:Store) | s.storeId])}][..$max] AS visits,
       [(m:Message)-[:SENT_TO]->(c) | m {.messageId, .channel, .sentAt, .subject,
          responses: [(c)-[r:RESPONDED]->(m) | r {.type, .at, .text}]}][..$max] AS messages,
       [(c)-[:IN_SEGMENT]->(g:Segment) | g {.segmentId, .kind, .name}] AS segments,
       [(c)-[r:RECOMMENDED]->(p:Product) | {sku: p.sku, product: p.name, rank: r.rank, reason: r.reason}][..$max]
         AS recommendations,
       [(c)-[r:BUY_AGAIN]->(p:Product) | {sku: p.sku, product: p.name, rank: r.rank, probability: r.probability,
                                          reason: r.reason}][..$max] AS buyAgain,
       COUNT { (c)-[:SIMILAR_TO]->(:Customer) } AS similarShoppers
"""

_LISTS = ("identities", "notes", "orders", "sessions", "visits", "messages", "recommendations", "buyAgain")


def _plain(value: Any) -> Any:
    """Neo4j and Python temporal values as ISO strings, recursively."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if hasattr(value, "iso_format"):  # neo4j.time types
        return value.iso_format()
    return value


def document(record: dict[str, Any]) -> dict[str, Any]:
    """The subject-access document from the :data:`SUBJECT_ACCESS` record."""
    doc = _plain(dict(record))
    profile = doc.pop("profile")
    profile["homeLocation"] = doc.pop("homeLocation", None)
    profile["country"] = doc.pop("country", None)
    profile["homeStore"] = doc.pop("homeStore", None)
    algorithm_fields = ("rfmRecencyDays", "rfmFrequency", "rfmMonetary", "rfmScore", "rfmSegment", "churnRisk",
                        "pAlive", "expectedPurchases90d", "pastValue", "atStake", "retentionModel", "retentionVersion")
    results = {name: profile.pop(name) for name in algorithm_fields if name in profile}
    results["segments"] = doc.pop("segments", [])
    results["recommendations"] = doc.pop("recommendations", [])
    results["similarShoppers"] = doc.pop("similarShoppers", 0)
    truncated = [name for name in _LISTS if len(doc.get(name, []) or results.get(name, [])) >= MAX_ITEMS]
    return {"customerId": profile.get("customerId"), "profile": profile, **doc, "algorithmResults": results,
            "truncated": truncated}


def subject_access(customer_id: str) -> dict[str, Any] | None:
    """Everything held about ``customer_id`` (``None`` when there is no such customer)."""
    def work(tx: Any) -> dict[str, Any] | None:
        record = tx.run(SUBJECT_ACCESS, customerId=customer_id, max=MAX_ITEMS).single()
        return None if record is None else record.data()

    record = execute_read(work)
    return None if record is None else document(record)
