-- wrk script of benches/benchmark-load.sh: GET a tenant's latest score,
-- rotating over TENANTS seeded tenants (t0, t1...) and the bundled
-- profiles, so the reads are spread as a dashboard's would be.
--
--   WRK_TOKEN=... TENANTS=1000 wrk -t1 -c8 -d10s -s benches/benchmark-load.lua URL
--
-- Prints a RESULT line: requests, errors, latency percentiles, rps.

if os.getenv("WRK_TOKEN") and os.getenv("WRK_TOKEN") ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. os.getenv("WRK_TOKEN")
end

local tenants = tonumber(os.getenv("TENANTS") or "1000")
local profiles = {"regulator", "csm", "ops"}
local n = 0

function request()
  n = n + 1
  local path = string.format("/v1/tenants/t%d/score?profile=%s",
    n % tenants, profiles[(n % #profiles) + 1])
  return wrk.format("GET", path)
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
    "p50_ms=%.3f p99_ms=%.3f p999_ms=%.3f max_ms=%.3f rps=%.1f\n",
    summary.requests, e.status, e.connect, e.read, e.write, e.timeout,
    pct(50), pct(99), pct(99.9), summary.requests == 0 and 0 or ms(latency.max),
    secs > 0 and summary.requests / secs or 0))
end
