-- wrk script for bench_api.py: one request per call, a random customer each time.
-- usage: wrk -s bench_api.lua URL -- <mode> <customers> <api-key>
--   mode: graphql-recommendations | graphql-engagement | ceiling-recommendations | ceiling-engagement
-- Prints one JSON line at the end (latencies in microseconds), counting responses that are not 200 or
-- that carry GraphQL "errors".

local threads = {}
local mode, customers, key
local failures = 0

local QUERIES = {
  ["graphql-recommendations"] = 'query R($id: ID!) { customer(id: $id) { recommendations(first: 10) '
    .. '{ score explanation product { sku name price } } } }',
  ["graphql-engagement"] = 'query E($id: ID!) { customer(id: $id) { engagementHistory(first: 20) '
    .. '{ edges { cursor node { __typename type at channel } } pageInfo { hasNextPage endCursor } } } }',
}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  mode = args[1] or "graphql-recommendations"
  customers = tonumber(args[2] or "100000")
  key = args[3] or "dev-reader-key"
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
end

function request()
  local id = "C" .. math.random(0, customers - 1)
  if mode:sub(1, 7) == "ceiling" then
    local what = mode:sub(9)
    return wrk.format("GET", "/ceiling/" .. what .. "?id=" .. id)
  end
  local body = '{"query": "' .. QUERIES[mode] .. '", "variables": {"id": "' .. id .. '"}}'
  return wrk.format("POST", "/graphql", {
    ["Content-Type"] = "application/json",
    ["Accept"] = "application/graphql-response+json",
    ["X-API-Key"] = key,
  }, body)
end

function response(status, headers, body)
  if status ~= 200 or body:find('"errors"', 1, true) then
    failures = failures + 1
  end
end

function done(summary, latency, requests)
  local failed = 0
  for _, thread in ipairs(threads) do
    failed = failed + (thread:get("failures") or 0)
  end
  local errors = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "p50": %d, "p95": %d, "p99": %d, "max": %d, "failed": %d, '
      .. '"socket_errors": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency.max, failed,
    errors.connect + errors.read + errors.write + errors.status + errors.timeout))
end
