// Question: Which products go with this one? The AFFINITY results of the current 'affinity'
//   AlgorithmRun (bought together / viewed together), best first, with lift, support and confidence.
// Parameters:
//   $sku    the product (Product.sku)
//   $kind   'bought_together', 'viewed_together' or null for both
//   $limit  how many related products to list
// Example:
//   kind            | rank | sku | product                            | score | lift | support | confidence | version
//   bought_together | 1    | P1  | White Hanging Heart T-Light Holder | 0.9   | 3.2  | 0.05    | 0.6        | aff-2
//   bought_together | 2    | P4  | Party Bunting                      | 0.4   | 1.5  | 0.02    | 0.25       | aff-2
//   viewed_together | 1    | P2  | Red Woolly Hottie                  | 0.7   | 2.1  | 0.04    | 0.5        | aff-2
:param sku => 'P5';
:param kind => null;
:param limit => 20;

MATCH (run:AlgorithmRun {family: 'affinity', status: 'current'})
MATCH (:Product {sku: $sku})-[a:AFFINITY]->(other:Product)
WHERE a.version = run.runId AND ($kind IS NULL OR a.kind = $kind)
RETURN a.kind AS kind,
       a.rank AS rank,
       other.sku AS sku,
       other.name AS product,
       a.score AS score,
       a.lift AS lift,
       a.support AS support,
       a.confidence AS confidence,
       run.runId AS version
ORDER BY kind, rank, score DESC
LIMIT $limit;
