// Question: Which customers are active both online (web/app sessions or orders) and in stores (visits or
//   store orders), and how many of them browse a product online and then buy it in a store within
//   $days days?
// Parameters:
//   $days   a store purchase counts as "browsed online first" when the product was viewed online at most this many days before
//   $limit  how many customers to list
// Example:
//   customerId | name        | onlineSessions | onlineOrders | storeVisits | storeOrders | browsedOnlineBoughtInStore | productsBrowsedThenBought
//   C1         | Alice Smith | 3              | 2            | 2           | 1           | 1                          | ["P1"]
//   C2         | Bob Jones   | 2              | 1            | 1           | 0           | 0                          | []
:param days => 14;
:param limit => 100;

MATCH (c:Customer)
WITH c,
     size([(c)-[:HAD_SESSION]->(s:Session) WHERE s.channel IN ['web', 'app'] | s]) AS onlineSessions,
     size([(c)-[:PLACED]->(o:Order) WHERE o.channel IN ['web', 'app'] AND NOT coalesce(o.cancelled, false) | o]) AS onlineOrders,
     size([(c)-[:MADE_VISIT]->(v:Visit) | v]) AS storeVisits,
     size([(c)-[:PLACED]->(o:Order) WHERE (o.channel = 'store' OR (o)-[:AT_STORE]->(:Store)) AND NOT coalesce(o.cancelled, false) | o]) AS storeOrders
WHERE (onlineSessions + onlineOrders) > 0 AND (storeVisits + storeOrders) > 0
WITH c, onlineSessions, onlineOrders, storeVisits, storeOrders,
     [(c)-[:HAD_SESSION]->(s:Session)-[:CONTAINS]->(e:Event {type: 'product_view'})-[:ABOUT_PRODUCT]->(p:Product)
        WHERE s.channel IN ['web', 'app'] | {sku: p.sku, at: e.at}] AS views
OPTIONAL MATCH (c)-[:PLACED]->(o:Order)-[:AT_STORE]->(:Store)
WHERE NOT coalesce(o.cancelled, false)
OPTIONAL MATCH (o)-[:INCLUDES]->(p:Product)
WITH c, onlineSessions, onlineOrders, storeVisits, storeOrders, o, p,
     any(v IN views WHERE v.sku = p.sku AND o.placedAt - duration({days: $days}) <= v.at <= o.placedAt) AS browsedFirst
WITH c, onlineSessions, onlineOrders, storeVisits, storeOrders, CASE WHEN browsedFirst THEN p END AS p
WITH c, onlineSessions, onlineOrders, storeVisits, storeOrders, p ORDER BY p.sku
WITH c, onlineSessions, onlineOrders, storeVisits, storeOrders, collect(DISTINCT p.sku) AS browsedThenBought
RETURN c.customerId AS customerId,
       c.name AS name,
       onlineSessions, onlineOrders, storeVisits, storeOrders,
       size(browsedThenBought) AS browsedOnlineBoughtInStore,
       browsedThenBought AS productsBrowsedThenBought
ORDER BY browsedOnlineBoughtInStore DESC, onlineSessions + onlineOrders + storeVisits + storeOrders DESC, customerId
LIMIT $limit;
