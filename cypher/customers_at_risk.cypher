// Question: Which valuable customers are we about to lose? Customers with a high churn risk
//   (Customer.churnRisk from the retention algorithm) and a high past net value, with their recent
//   negative signals (unsubscribes, messages ignored, consents withdrawn in the last $recentDays days),
//   the channels we may still contact them on (marketing consent granted on that channel), and a suggested next offer: their best current
//   recommendation and an offer valid now for that product.
//   pastValue is computed here from the orders as they are now; the API's keepInTouch list reads the same
//   expression as the last algorithms run stored it (Customer.pastValue, atStake = churnRisk x pastValue:
//   algorithms/writeback.py PAST_VALUE). Most at stake first, ties: the greater customerId first (as the API).
// Parameters:
//   $minChurnRisk  lowest churnRisk (0..1) to list
//   $minValue      lowest past net value (sum of Order.total, cancellations count negative)
//   $recentDays    how many days back a signal counts as recent
//   $asOf          the reference time (ISO date-time text); null = the time of the latest order in the graph
//   $limit         how many customers to list
// Example:
//   customerId | name        | churnRisk | pastValue | orders | lastOrderAt          | daysSinceLastOrder | unsubscribes | ignoredMessages | consentsWithdrawn   | contactableOn | nextProduct       | nextOffer             | reason
//   C3         | Carol White | 0.82      | 300.0     | 2      | 2011-06-15T12:50:00Z | 176                | 1            | 2               | ["email/marketing"] | ["sms"]       | P4 Party Bunting  | 10% off party bunting | often bought with Regency Cakestand, ...
:param minChurnRisk => 0.6;
:param minValue => 100.0;
:param recentDays => 90;
:param asOf => null;
:param limit => 50;

OPTIONAL MATCH (latest:Order)
WHERE $asOf IS NULL AND latest.placedAt IS NOT NULL
WITH latest ORDER BY latest.placedAt DESC LIMIT 1
WITH coalesce(datetime($asOf), latest.placedAt, datetime()) AS asOf
WITH asOf, asOf - duration({days: $recentDays}) AS since
MATCH (c:Customer)
WHERE c.churnRisk >= $minChurnRisk
  // as the API: churn risk is analytics; a customer who withdrew it since the run is left out (granted by
  // default: only a withdrawal counts; graph_model/privacy/policy.py)
  AND NOT EXISTS { MATCH (c)-[:HAS_CONSENT]->(k:Consent) WHERE k.purpose = 'analytics' AND NOT k.granted }
WITH asOf, since, c, [(c)-[:PLACED]->(o:Order) | o] AS orders
WITH asOf, since, c, orders, reduce(total = 0.0, o IN orders | total + coalesce(o.total, 0.0)) AS pastValue
WHERE pastValue >= $minValue
WITH asOf, since, c, pastValue,
     size([o IN orders WHERE NOT coalesce(o.cancelled, false)]) AS orderCount,
     reduce(last = null, o IN orders | CASE WHEN NOT coalesce(o.cancelled, false) AND (last IS NULL OR o.placedAt > last)
                                            THEN o.placedAt ELSE last END) AS lastOrderAt,
     [(c)-[r:RESPONDED {type: 'unsubscribed'}]->(:Message) WHERE since <= r.at <= asOf | r] AS unsubscribes,
     [(m:Message)-[sent:SENT_TO]->(c) WHERE since <= sent.at <= asOf
        AND NOT EXISTS { MATCH (c)-[r:RESPONDED]->(m) WHERE r.type IN ['opened', 'clicked', 'redeemed', 'replied'] } | m] AS ignored,
     [(c)-[:HAS_CONSENT]->(k:Consent) WHERE NOT k.granted AND since <= k.updatedAt <= asOf | k.channel + '/' + k.purpose] AS withdrawn,
     // contactable on a channel only when the policy permits marketing there (graph_model/privacy/policy.py,
     // permits_cypher(c, 'marketing', channel)): that channel's marketing consent decides, else the default.
     // The Browser cannot pass the API's $consentDefaults, so the shipped default is written literally: false,
     // marketing needs an explicit grant. A deployment that sets CUSTOMER_GRAPH_CONSENT_DEFAULTS
     // marketing=granted must change that `false` too.
     [channel IN ['email', 'sms', 'push', 'app', 'web', 'store']
        WHERE coalesce(head([(c)-[:HAS_CONSENT]->(k:Consent) WHERE k.purpose = 'marketing' AND k.channel = channel
                             | k.granted]), false)] AS contactableOn
OPTIONAL MATCH (recRun:AlgorithmRun {family: 'recommend', status: 'current'})
OPTIONAL MATCH (c)-[rec:RECOMMENDED]->(product:Product) WHERE rec.version = recRun.runId
WITH asOf, c, pastValue, orderCount, lastOrderAt, unsubscribes, ignored, withdrawn, contactableOn, rec, product
ORDER BY rec.rank
WITH asOf, c, pastValue, orderCount, lastOrderAt, unsubscribes, ignored, withdrawn, contactableOn,
     head(collect({rec: rec, product: product})) AS best
WITH asOf, c, pastValue, orderCount, lastOrderAt, unsubscribes, ignored, withdrawn, contactableOn, best,
     best.product AS next
WITH asOf, c, pastValue, orderCount, lastOrderAt, unsubscribes, ignored, withdrawn, contactableOn, best, next,
     [(next)<-[:FOR_PRODUCT]-(offer:Offer)
        WHERE (offer.validFrom IS NULL OR offer.validFrom <= asOf) AND (offer.validTo IS NULL OR offer.validTo >= asOf)
        | offer] AS offers
RETURN c.customerId AS customerId,
       c.name AS name,
       c.churnRisk AS churnRisk,
       round(pastValue, 2) AS pastValue,
       orderCount AS orders,
       lastOrderAt,
       duration.inDays(lastOrderAt, asOf).days AS daysSinceLastOrder,
       size(unsubscribes) AS unsubscribes,
       size(ignored) AS ignoredMessages,
       withdrawn AS consentsWithdrawn,
       contactableOn,
       next.sku + ' ' + coalesce(next.name, '') AS nextProduct,
       head([o IN offers | o.description]) AS nextOffer,
       best.rec.reason AS reason
ORDER BY churnRisk * pastValue DESC, customerId DESC
LIMIT $limit;
