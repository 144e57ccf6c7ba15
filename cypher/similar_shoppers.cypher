// Question: Which shoppers are most like this one (SIMILAR_TO of the current 'similarity'
//   AlgorithmRun), what do they buy in common, and what do they buy that this customer has not bought yet?
// Parameters:
//   $customerId  the customer (Customer.customerId), text
//   $limit       how many similar shoppers to list
// Example:
//   rank | customerId | name        | score | rfmSegment | sharedProducts | theyBuyYouDont | version
//   1    | C2         | Bob Jones   | 0.8   | Loyal      | ["P2"]         | []             | sim-1
//   2    | C3         | Carol White | 0.5   | At Risk    | ["P1", "P5"]   | ["P4"]         | sim-1
:param customerId => 'C1';
:param limit => 10;

MATCH (run:AlgorithmRun {family: 'similarity', status: 'current'})
MATCH (c:Customer {customerId: $customerId})-[sim:SIMILAR_TO]->(other:Customer)
WHERE sim.version = run.runId
  // as the API: a customer who withdrew analytics (out of the similarity model) or personalisation (nobody's
  // similar shopper) since the run is left out; both are granted by default, so only a withdrawal counts
  // (graph_model/privacy/policy.py: one withdrawal on any channel withdraws the purpose)
  AND NOT EXISTS { MATCH (x:Customer)-[:HAS_CONSENT]->(k:Consent)
                   WHERE x IN [c, other] AND k.purpose IN ['analytics', 'personalisation'] AND NOT k.granted }
WITH run, sim, other,
     [(c)-[:PLACED]->(o:Order)-[:INCLUDES]->(p:Product) WHERE NOT coalesce(o.cancelled, false) | p.sku] AS mine
OPTIONAL MATCH (other)-[:PLACED]->(o:Order)-[:INCLUDES]->(p:Product)
WHERE NOT coalesce(o.cancelled, false)
WITH run, sim, other, mine, p ORDER BY p.sku
WITH run, sim, other, mine, collect(DISTINCT p.sku) AS theirs
RETURN sim.rank AS rank,
       other.customerId AS customerId,
       other.name AS name,
       sim.score AS score,
       other.rfmSegment AS rfmSegment,
       [sku IN theirs WHERE sku IN mine] AS sharedProducts,
       [sku IN theirs WHERE NOT sku IN mine] AS theyBuyYouDont,
       run.runId AS version
ORDER BY rank, score DESC
LIMIT $limit;
