// Question: How do customers respond to our messages, per segment (of the current 'segments'
//   AlgorithmRun) and channel? Messages sent, delivered, opened, clicked, redeemed and unsubscribed,
//   with open, click and unsubscribe rates; customers in no segment of that kind count as '(none)'.
// Parameters:
//   $segmentKind  'rfm' or 'community'
//   $campaignId   one campaign (Campaign.campaignId) or null for every message
//   $from         first send time to count (ISO date-time text) or null
//   $to           sends before this (ISO date-time text) or null
// Example:
//   segment   | channel | sent | delivered | opened | clicked | redeemed | unsubscribed | openRate | clickRate | unsubscribeRate
//   At Risk   | email   | 3    | 3         | 1      | 0       | 0        | 1            | 33.3     | 0.0       | 33.3
//   Champions | email   | 1    | 1         | 1      | 1       | 1        | 0            | 100.0    | 100.0     | 0.0
//   Champions | push    | 1    | 1         | 0      | 0       | 0        | 0            | 0.0      | 0.0       | 0.0
//   Loyal     | sms     | 1    | 1         | 0      | 1       | 0        | 0            | 0.0      | 100.0     | 0.0
:param segmentKind => 'rfm';
:param campaignId => null;
:param from => null;
:param to => null;

OPTIONAL MATCH (run:AlgorithmRun {family: 'segments', status: 'current'})
WITH run
MATCH (m:Message)-[sent:SENT_TO]->(c:Customer)
WHERE ($campaignId IS NULL OR EXISTS { MATCH (m)-[:PART_OF]->(:Campaign {campaignId: $campaignId}) })
  AND ($from IS NULL OR sent.at >= datetime($from))
  AND ($to IS NULL OR sent.at < datetime($to))
WITH m, [(c)-[r:RESPONDED]->(m) | r.type] AS responses,
     [(c)-[inSeg:IN_SEGMENT]->(g:Segment {kind: $segmentKind}) WHERE inSeg.version = run.runId | g.name] AS segments
UNWIND CASE WHEN size(segments) = 0 THEN ['(none)'] ELSE segments END AS segment
WITH segment, m.channel AS channel,
     count(*) AS sent,
     sum(CASE WHEN 'delivered' IN responses THEN 1 ELSE 0 END) AS delivered,
     sum(CASE WHEN 'opened' IN responses THEN 1 ELSE 0 END) AS opened,
     sum(CASE WHEN 'clicked' IN responses THEN 1 ELSE 0 END) AS clicked,
     sum(CASE WHEN 'redeemed' IN responses THEN 1 ELSE 0 END) AS redeemed,
     sum(CASE WHEN 'unsubscribed' IN responses THEN 1 ELSE 0 END) AS unsubscribed
RETURN segment, channel, sent, delivered, opened, clicked, redeemed, unsubscribed,
       round(100.0 * opened / sent, 1) AS openRate,
       round(100.0 * clicked / sent, 1) AS clickRate,
       round(100.0 * unsubscribed / sent, 1) AS unsubscribeRate
ORDER BY segment, channel;
