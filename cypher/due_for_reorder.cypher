// Question: Who is due to buy again, what, and where can we remind them? The current recommend run's
//   BUY_AGAIN edges (the buy-again model: probability of buying the product again within 90 days),
//   with the customer's cycle for it, when they last bought it, when they are due, and the channels
//   we may contact them on (marketing consent granted on that channel). Customers who withdrew
//   personalisation since the run are left out.
// Parameters:
//   $minProbability  lowest probability (0..1) of buying it again to list
//   $asOf            the reference date (ISO date text); null = the date of the latest order in the graph
//   $limit           how many rows to list
// Example:
//   customerId | sku | product                            | probability | reason                                             | lastDate   | cycleDays | dueDate    | daysOverdue | contactableOn
//   C1         | P1  | White Hanging Heart T-Light Holder | 0.81        | you order this about every 30 days; last on 2011-11-20 | 2011-11-20 | 30.0      | 2011-12-20 | -11         | ["email", "push"]
:param minProbability => 0.3;
:param asOf => null;
:param limit => 100;

OPTIONAL MATCH (latest:Order)
WHERE $asOf IS NULL AND latest.placedAt IS NOT NULL
WITH latest ORDER BY latest.placedAt DESC LIMIT 1
WITH coalesce(date($asOf), date(latest.placedAt), date()) AS asOf
MATCH (run:AlgorithmRun {family: 'recommend', status: 'current'})
MATCH (c:Customer)-[again:BUY_AGAIN]->(p:Product)
WHERE again.version = run.runId AND again.probability >= $minProbability
  // personalisation is granted by default (graph_model/privacy/policy.py): only a withdrawal counts
  AND NOT EXISTS { MATCH (c)-[:HAS_CONSENT]->(k:Consent) WHERE k.purpose = 'personalisation' AND NOT k.granted }
WITH asOf, c, p, again,
     CASE WHEN again.cycleDays IS NULL THEN null
          ELSE again.lastDate + duration({days: toInteger(round(again.cycleDays))}) END AS dueDate
RETURN c.customerId AS customerId,
       p.sku AS sku,
       p.name AS product,
       round(again.probability, 2) AS probability,
       again.reason AS reason,
       again.lastDate AS lastDate,
       again.cycleDays AS cycleDays,
       dueDate,
       CASE WHEN dueDate IS NULL THEN null ELSE duration.inDays(dueDate, asOf).days END AS daysOverdue,
       // as in customers_at_risk: the shipped marketing default (false: an explicit grant is needed)
       [channel IN ['email', 'sms', 'push', 'app', 'web', 'store']
          WHERE coalesce(head([(c)-[:HAS_CONSENT]->(k:Consent) WHERE k.purpose = 'marketing' AND k.channel = channel
                               | k.granted]), false)] AS contactableOn
ORDER BY probability DESC, customerId, sku
LIMIT $limit;
