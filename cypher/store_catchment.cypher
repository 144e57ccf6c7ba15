// Question: Where do each store's visitors live? Visitors and visits per distance band between the
//   customer's home (Customer.homeLocation) and the store (Store.location), with the median distance.
// Parameters:
//   $bandsKm  upper limits of the distance bands in km, ascending ([2, 5] gives 0-2 km, 2-5 km, 5+ km)
//   $storeId  one store (Store.storeId) or null for every store
// Example:
//   storeId | store              | band     | visitors | visits | shareOfVisitors | medianKm
//   S1      | Oxford Street      | 0-2 km   | 1        | 2      | 50.0            | 1.3
//   S1      | Oxford Street      | 10-25 km | 1        | 1      | 50.0            | 15.8
//   S2      | Manchester Arndale | 2-5 km   | 1        | 1      | 50.0            | 4.6
//   S2      | Manchester Arndale | unknown  | 1        | 1      | 50.0            | null
:param bandsKm => [2, 5, 10, 25];
:param storeId => null;

MATCH (c:Customer)-[:MADE_VISIT]->(v:Visit)-[:TO_STORE]->(s:Store)
WHERE $storeId IS NULL OR s.storeId = $storeId
WITH s, c, count(v) AS visits, point.distance(c.homeLocation, s.location) / 1000.0 AS km
WITH s, c, visits, km,
     reduce(band = null, i IN range(size($bandsKm) - 1, 0, -1) |
            CASE WHEN km IS NOT NULL AND km < $bandsKm[i] THEN i ELSE band END) AS bandIndex
WITH s, c, visits, km,
     CASE WHEN km IS NULL THEN 'unknown'
          WHEN bandIndex IS NULL THEN toString($bandsKm[-1]) + '+ km'
          WHEN bandIndex = 0 THEN '0-' + toString($bandsKm[0]) + ' km'
          ELSE toString($bandsKm[bandIndex - 1]) + '-' + toString($bandsKm[bandIndex]) + ' km' END AS band,
     coalesce(bandIndex, CASE WHEN km IS NULL THEN size($bandsKm) + 1 ELSE size($bandsKm) END) AS bandOrder
WITH s, band, bandOrder, count(c) AS visitors, sum(visits) AS visits, percentileCont(km, 0.5) AS medianKm
WITH s, collect({band: band, bandOrder: bandOrder, visitors: visitors, visits: visits, medianKm: medianKm}) AS bands,
     sum(visitors) AS storeVisitors
UNWIND bands AS b
RETURN s.storeId AS storeId,
       s.name AS store,
       b.band AS band,
       b.visitors AS visitors,
       b.visits AS visits,
       round(100.0 * b.visitors / storeVisitors, 1) AS shareOfVisitors,
       round(b.medianKm, 1) AS medianKm
ORDER BY storeId, b.bandOrder;
