// Question: Which page/event sequences most often end in a purchase? For every purchase event the
//   session's chain of events is followed back along NEXT to its first event; repeated steps are
//   collapsed ("product_view, product_view" counts as one step) and the last $maxSteps steps kept.
// Parameters:
//   $maxSteps   keep at most this many steps before (and including) the purchase
//   $withPages  true: a page view shows its page ("page_view /"), false: only event types
//   $channel    'web', 'app', 'store' or null for every channel
//   $limit      how many sequences to list
// Example:
//   path                                                                 | steps | purchases | share | avgMinutesToPurchase
//   ["page_view", "product_view", "add_to_cart", "checkout", "purchase"] | 5     | 2         | 50.0  | 4.5
//   ["product_view", "add_to_cart", "checkout", "purchase"]              | 4     | 1         | 25.0  | 3.0
:param maxSteps => 8;
:param withPages => false;
:param channel => null;
:param limit => 20;

MATCH (s:Session)-[:CONTAINS]->(purchase:Event {type: 'purchase'})
WHERE $channel IS NULL OR s.channel = $channel
MATCH chain = (first:Event)-[:NEXT*0..]->(purchase)
WHERE NOT (:Event)-[:NEXT]->(first)
WITH purchase, first,
     [e IN nodes(chain) | CASE WHEN $withPages AND e.type = 'page_view' AND e.page IS NOT NULL
                               THEN 'page_view ' + e.page ELSE e.type END] AS types
WITH purchase, first,
     reduce(acc = [], t IN types | CASE WHEN size(acc) > 0 AND acc[-1] = t THEN acc ELSE acc + t END) AS collapsed
WITH collapsed[-$maxSteps..] AS path, duration.inSeconds(first.at, purchase.at).seconds / 60.0 AS minutes
WITH path, count(*) AS purchases, avg(minutes) AS avgMinutes
WITH collect({path: path, purchases: purchases, avgMinutes: avgMinutes}) AS rows, sum(purchases) AS total
UNWIND rows AS row
RETURN row.path AS path,
       size(row.path) AS steps,
       row.purchases AS purchases,
       round(100.0 * row.purchases / total, 1) AS share,
       round(row.avgMinutes, 1) AS avgMinutesToPurchase
ORDER BY purchases DESC, steps, path
LIMIT $limit;
