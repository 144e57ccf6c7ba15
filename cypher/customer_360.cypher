// Question: What do we know about one customer, across every channel? Profile, identifiers, consents,
//   web/app/store sessions, orders and net value, store visits, messages and responses, segments,
//   churn risk, current recommendations, look-alike shoppers and the latest activity, in one row.
// Parameters:
//   $customerId  the customer's id (Customer.customerId), text
//   $recent      how many of the latest activities (sessions, orders, visits, messages) to list
// Example:
//   customerId | name        | homeStore     | identities                                             | webSessions | orders | netValue | storeVisits | churnRisk | segments      | recommendations      | similarCustomers | recentActivity
//   C1         | Alice Smith | Oxford Street | ["cookie:ck-1", "customer_ref:C1", "email_hash:h-alice"] | 3         | 3      | 21.6     | 2           | 0.1       | ["Champions"] | ["P4 Party Bunting"] | ["C2", "C3"]     | ["2011-12-09T11:04:00Z order O6 web 3.75", ...]
:param customerId => 'C1';
:param recent => 10;

MATCH (c:Customer {customerId: $customerId})
OPTIONAL MATCH (c)-[:HOME_STORE]->(home:Store)
OPTIONAL MATCH (c)-[:IN_COUNTRY]->(country:Country)
OPTIONAL MATCH (c)<-[:IDENTIFIES]-(i:Identity)
WITH c, home, country, i ORDER BY i.identityKey
WITH c, home, country, collect(i.identityKey) AS identities
OPTIONAL MATCH (segRun:AlgorithmRun {family: 'segments', status: 'current'})
OPTIONAL MATCH (c)-[inSeg:IN_SEGMENT]->(g:Segment) WHERE inSeg.version = segRun.runId
WITH c, home, country, identities, g ORDER BY g.kind, g.name
WITH c, home, country, identities, collect(g.name) AS segments
OPTIONAL MATCH (recRun:AlgorithmRun {family: 'recommend', status: 'current'})
OPTIONAL MATCH (c)-[rec:RECOMMENDED]->(p:Product) WHERE rec.version = recRun.runId
WITH c, home, country, identities, segments, rec, p ORDER BY rec.rank
WITH c, home, country, identities, segments, collect(p.sku + ' ' + coalesce(p.name, ''))[..5] AS recommendations
OPTIONAL MATCH (simRun:AlgorithmRun {family: 'similarity', status: 'current'})
OPTIONAL MATCH (c)-[sim:SIMILAR_TO]->(other:Customer) WHERE sim.version = simRun.runId
WITH c, home, country, identities, segments, recommendations, other ORDER BY sim.rank
WITH c, home, country, identities, segments, recommendations, collect(other.customerId)[..5] AS similarCustomers,
     [(c)-[:HAS_CONSENT]->(k:Consent) | k.channel + '/' + k.purpose + ': ' + CASE WHEN k.granted THEN 'granted' ELSE 'withdrawn' END] AS consents,
     [(c)-[:HAD_SESSION]->(s:Session) | s] AS sessions,
     [(c)-[:PLACED]->(o:Order) | o] AS orders,
     [(c)-[:MADE_VISIT]->(v:Visit)-[:TO_STORE]->(st:Store) | {at: v.arrivedAt, store: st.name}] AS visits,
     [(m:Message)-[:SENT_TO]->(c) | m] AS messages,
     [(c)-[r:RESPONDED]->(:Message) | r.type] AS responseTypes
WITH *,
     [s IN sessions | {at: s.startedAt, text: 'session ' + s.sessionId + ' ' + s.channel}]
     + [o IN orders | {at: o.placedAt, text: CASE WHEN o.cancelled THEN 'cancellation ' ELSE 'order ' END
                                            + o.orderId + ' ' + o.channel + ' ' + toString(o.total)}]
     + [v IN visits | {at: v.at, text: 'visit ' + v.store}]
     + [m IN messages | {at: m.sentAt, text: 'message ' + m.messageId + ' ' + m.channel}] AS timeline
UNWIND CASE WHEN size(timeline) = 0 THEN [null] ELSE timeline END AS item
WITH c, home, country, identities, segments, recommendations, similarCustomers, consents, sessions, orders,
     visits, messages, responseTypes, item
ORDER BY item.at DESC
WITH c, home, country, identities, segments, recommendations, similarCustomers, consents, sessions, orders,
     visits, messages, responseTypes,
     [x IN collect(item) | toString(x.at) + ' ' + x.text][..$recent] AS recentActivity
RETURN c.customerId AS customerId,
       c.name AS name,
       c.city AS city,
       country.name AS country,
       c.loyaltyTier AS loyaltyTier,
       home.name AS homeStore,
       c.createdAt AS customerSince,
       c.erasedAt IS NOT NULL AS erased,
       identities,
       consents,
       size([s IN sessions WHERE s.channel = 'web']) AS webSessions,
       size([s IN sessions WHERE s.channel = 'app']) AS appSessions,
       size([s IN sessions WHERE s.channel = 'store']) AS storeSessions,
       size([o IN orders WHERE NOT coalesce(o.cancelled, false)]) AS orders,
       size([o IN orders WHERE o.cancelled]) AS cancellations,
       round(reduce(total = 0.0, o IN orders | total + coalesce(o.total, 0.0)), 2) AS netValue,
       reduce(last = null, o IN orders | CASE WHEN last IS NULL OR o.placedAt > last THEN o.placedAt ELSE last END) AS lastOrderAt,
       size(visits) AS storeVisits,
       size(messages) AS messagesReceived,
       size([t IN responseTypes WHERE t = 'opened']) AS opens,
       size([t IN responseTypes WHERE t = 'clicked']) AS clicks,
       size([t IN responseTypes WHERE t = 'unsubscribed']) AS unsubscribes,
       c.churnRisk AS churnRisk,
       c.expectedPurchases90d AS expectedPurchases90d,
       c.rfmSegment AS rfmSegment,
       segments,
       recommendations,
       similarCustomers,
       recentActivity;
