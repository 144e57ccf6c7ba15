// Question: Which products are rising fastest (Product.trendRank / trendScore written by the trends
//   algorithm), how popular are they (distinct buyers), and which stores stock them?
// Parameters:
//   $limit  how many products to list
// Example:
//   trendRank | sku | product           | trendScore | popularity | popularityRank | price | stockedAt
//   1         | P5  | Regency Cakestand | 2.5        | 2          | 1              | 12.75 | ["S1"]
//   2         | P2  | Red Woolly Hottie | 1.8        | 2          | 2              | 3.75  | ["S2"]
:param limit => 20;

MATCH (p:Product)
WHERE p.trendRank IS NOT NULL
WITH p ORDER BY p.trendRank LIMIT $limit
OPTIONAL MATCH (s:Store)-[stock:STOCKS]->(p)
WHERE stock.quantity > 0
WITH p, s ORDER BY s.storeId
WITH p, collect(s.storeId) AS stockedAt
RETURN p.trendRank AS trendRank,
       p.sku AS sku,
       p.name AS product,
       p.trendScore AS trendScore,
       p.popularity AS popularity,
       p.popularityRank AS popularityRank,
       p.price AS price,
       stockedAt
ORDER BY trendRank;
