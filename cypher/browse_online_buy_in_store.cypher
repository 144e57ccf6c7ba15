// Question: Which products were viewed online (web/app) and then bought in a store by the same customer
//   within $days days, in which store, and how long after the last online view?
// Parameters:
//   $days   the longest gap between the last online view and the store purchase, in days
//   $limit  how many purchases to list
// Example:
//   customerId | sku | product                            | lastViewedOnline     | boughtAt             | store         | hoursBetween
//   C1         | P1  | White Hanging Heart T-Light Holder | 2011-11-20T19:01:00Z | 2011-11-22T14:00:00Z | Oxford Street | 43.0
:param days => 14;
:param limit => 100;

MATCH (c:Customer)-[:PLACED]->(o:Order)-[:AT_STORE]->(store:Store)
WHERE NOT coalesce(o.cancelled, false)
MATCH (o)-[:INCLUDES]->(p:Product)
MATCH (c)-[:HAD_SESSION]->(s:Session)-[:CONTAINS]->(e:Event {type: 'product_view'})-[:ABOUT_PRODUCT]->(p)
WHERE s.channel IN ['web', 'app'] AND e.at <= o.placedAt AND e.at >= o.placedAt - duration({days: $days})
WITH c, o, store, p, max(e.at) AS lastViewedOnline
RETURN c.customerId AS customerId,
       p.sku AS sku,
       p.name AS product,
       lastViewedOnline,
       o.placedAt AS boughtAt,
       store.name AS store,
       round(duration.inSeconds(lastViewedOnline, o.placedAt).seconds / 3600.0, 1) AS hoursBetween
ORDER BY boughtAt DESC, customerId, sku
LIMIT $limit;
