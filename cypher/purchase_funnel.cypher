// Question: Where do sessions drop off between viewing a product and buying it? For each step of the
//   funnel (product view -> add to cart -> checkout -> purchase), how many sessions reached it (had an
//   event of that step and of every step before it), how many dropped off since the previous step, and
//   the conversion from the previous and from the first step.
// Parameters:
//   $steps    the funnel's event types, in order
//   $channel  'web', 'app', 'store' or null for every channel
//   $from     first session start to count (ISO date-time text) or null
//   $to       sessions starting before this (ISO date-time text) or null
// Example:
//   stepNo | step         | sessions | droppedOff | pctOfPrevious | pctOfFirst
//   1      | product_view | 7        | null       | null          | 100.0
//   2      | add_to_cart  | 6        | 1          | 85.7          | 85.7
//   3      | checkout     | 5        | 1          | 83.3          | 71.4
//   4      | purchase     | 4        | 1          | 80.0          | 57.1
:param steps => ['product_view', 'add_to_cart', 'checkout', 'purchase'];
:param channel => null;
:param from => null;
:param to => null;

MATCH (s:Session)
WHERE ($channel IS NULL OR s.channel = $channel)
  AND ($from IS NULL OR s.startedAt >= datetime($from))
  AND ($to IS NULL OR s.startedAt < datetime($to))
WITH s, [(s)-[:CONTAINS]->(e:Event) WHERE e.type IN $steps | e.type] AS types
WITH reduce(depth = 0, i IN range(0, size($steps) - 1) |
            CASE WHEN depth = i AND $steps[i] IN types THEN depth + 1 ELSE depth END) AS depth
WITH depth, count(*) AS sessions
WITH collect({depth: depth, sessions: sessions}) AS depths
WITH [i IN range(0, size($steps) - 1) |
      reduce(n = 0, d IN depths | n + CASE WHEN d.depth > i THEN d.sessions ELSE 0 END)] AS reached
UNWIND range(0, size($steps) - 1) AS i
RETURN i + 1 AS stepNo,
       $steps[i] AS step,
       reached[i] AS sessions,
       CASE WHEN i = 0 THEN null ELSE reached[i - 1] - reached[i] END AS droppedOff,
       CASE WHEN i = 0 OR reached[i - 1] = 0 THEN null ELSE round(100.0 * reached[i] / reached[i - 1], 1) END AS pctOfPrevious,
       CASE WHEN reached[0] = 0 THEN null ELSE round(100.0 * reached[i] / reached[0], 1) END AS pctOfFirst
ORDER BY stepNo;
