-- wrk script of benches/monitor-load.sh: POST batches of heartbeat events
-- to /v1/heartbeats, each event with a sequence number never sent before
-- (so each is recorded as new, dedup key and all), spread over TENANTS
-- tenants and the two sources of the bundled `event-bus` watcher.
--
--   WRK_TOKEN=... BATCH=500 TENANTS=50 wrk -t1 -c4 -d10s -s benches/monitor-load.lua URL
--
-- Prints the RESULT line of serve-load.lua, plus events=N (requests x BATCH).

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
if os.getenv("WRK_TOKEN") and os.getenv("WRK_TOKEN") ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. os.getenv("WRK_TOKEN")
end

local batch = tonumber(os.getenv("BATCH") or "500")
local tenants = tonumber(os.getenv("TENANTS") or "50")
local sources = {"broker-lag-exporter", "consumer-heartbeat"}
-- Unique across runs (the warm-up is another wrk process).
local seq = os.time() * 1000000
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function request()
  local at = os.date("!%Y-%m-%dT%H:%M:%SZ")
  local parts = {}
  for i = 1, batch do
    seq = seq + 1
    parts[i] = string.format(
      '{"watcher":"event-bus","tenant":"t%d","source":"%s","at":"%s","seq":%d,"count":1000}',
      seq % tenants, sources[(seq % 2) + 1], at, seq)
  end
  return wrk.format(nil, nil, nil, '{"events":[' .. table.concat(parts, ",") .. ']}')
end

function done(summary, latency, requests)
  local function ms(us) return (us or 0) / 1000.0 end
  local function pct(p)
    if summary.requests == 0 then return 0 end
    return ms(latency:percentile(p))
  end
  local secs = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d non2xx=%d errors_connect=%d errors_read=%d errors_write=%d errors_timeout=%d " ..
    "p50_ms=%.3f p99_ms=%.3f p999_ms=%.3f max_ms=%.3f rps=%.1f events=%d events_per_s=%.0f\n",
    summary.requests, e.status, e.connect, e.read, e.write, e.timeout,
    pct(50), pct(99), pct(99.9), summary.requests == 0 and 0 or ms(latency.max),
    secs > 0 and summary.requests / secs or 0,
    summary.requests * batch, secs > 0 and summary.requests * batch / secs or 0))
end
