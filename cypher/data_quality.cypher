// Question: Is the graph consistent? One row per check with the number of problems and a few examples:
//   orphan events (in no session), sessions without events, purchase events without an order, orders
//   without line items, identifiers that resolve to several customers, customers with several
//   identifiers of a kind that must be unique (email_hash, customer_ref), and identifiers linked
//   (LINKED_TO) although they identify different customers.
// Parameters:
//   $examples  how many example ids to show per check
// Example:
//   check                                  | problems | examples
//   orphan_events                          | 1        | ["E-ORPHAN"]
//   sessions_without_events                | 1        | ["W9"]
//   purchase_events_without_order          | 0        | []
//   orders_without_lines                   | 0        | []
//   identifiers_of_several_customers       | 1        | ["email_hash:h-dup"]
//   customers_with_conflicting_identifiers | 1        | ["C5"]
//   linked_identifiers_of_other_customers  | 1        | ["cookie:ck-2 (C2) -> device_id:dv-9 (C4)"]
:param examples => 5;

MATCH (e:Event) WHERE NOT (:Session)-[:CONTAINS]->(e)
WITH e ORDER BY e.eventId
WITH count(e) AS problems, collect(e.eventId) AS ids
RETURN 'orphan_events' AS check, problems, ids[..$examples] AS examples
UNION ALL
MATCH (s:Session) WHERE NOT (s)-[:CONTAINS]->(:Event)
WITH s ORDER BY s.sessionId
WITH count(s) AS problems, collect(s.sessionId) AS ids
RETURN 'sessions_without_events' AS check, problems, ids[..$examples] AS examples
UNION ALL
MATCH (e:Event {type: 'purchase'}) WHERE NOT (e)-[:PLACED_ORDER]->(:Order)
WITH e ORDER BY e.eventId
WITH count(e) AS problems, collect(e.eventId) AS ids
RETURN 'purchase_events_without_order' AS check, problems, ids[..$examples] AS examples
UNION ALL
MATCH (o:Order) WHERE NOT (o)-[:INCLUDES]->(:Product)
WITH o ORDER BY o.orderId
WITH count(o) AS problems, collect(o.orderId) AS ids
RETURN 'orders_without_lines' AS check, problems, ids[..$examples] AS examples
UNION ALL
MATCH (i:Identity)-[:IDENTIFIES]->(c:Customer)
WITH i, count(DISTINCT c) AS customers WHERE customers > 1
WITH i ORDER BY i.identityKey
WITH count(i) AS problems, collect(i.identityKey) AS ids
RETURN 'identifiers_of_several_customers' AS check, problems, ids[..$examples] AS examples
UNION ALL
MATCH (i:Identity)-[:IDENTIFIES]->(c:Customer)
WHERE i.type IN ['email_hash', 'customer_ref']
WITH c, i.type AS type, count(DISTINCT i) AS identifiers WHERE identifiers > 1
WITH DISTINCT c ORDER BY c.customerId
WITH count(c) AS problems, collect(c.customerId) AS ids
RETURN 'customers_with_conflicting_identifiers' AS check, problems, ids[..$examples] AS examples
UNION ALL
MATCH (a:Identity)-[:LINKED_TO]->(b:Identity), (a)-[:IDENTIFIES]->(ca:Customer), (b)-[:IDENTIFIES]->(cb:Customer)
WHERE ca <> cb AND NOT (b)-[:IDENTIFIES]->(ca) AND NOT (a)-[:IDENTIFIES]->(cb)
WITH DISTINCT a, b, ca, cb ORDER BY a.identityKey, b.identityKey, ca.customerId, cb.customerId
WITH collect(a.identityKey + ' (' + ca.customerId + ') -> ' + b.identityKey + ' (' + cb.customerId + ')') AS links
RETURN 'linked_identifiers_of_other_customers' AS check, size(links) AS problems, links[..$examples] AS examples;
