-- wrk script of benches/serve-load.sh: POST one JSON body to /v1/evaluate,
-- count the answers by status, and print one machine-readable line.
--
--   wrk -t1 -c32 -d20s -s benches/serve-load.lua http://127.0.0.1:PORT/v1/evaluate -- "$BODY"
--   WRK_BODY_FILE=body.json wrk ... -s benches/serve-load.lua URL
--   WRK_BODY='{"pack":"bench","input":{}}' wrk ... -s benches/serve-load.lua URL
--
-- Output, after wrk's own report (one line, latencies in milliseconds):
--   RESULT requests=N non2xx=N errors_connect=N errors_read=N errors_write=N
--          errors_timeout=N p50_ms=F p99_ms=F p999_ms=F max_ms=F rps=F
--
-- non2xx is wrk's own count of statuses >= 400: wrk then never hands an
-- answer to Lua, which costs the client about 3 µs of CPU an answer, CPU
-- the server on the same two cores would otherwise lose (serve-load.sh
-- checks every status on the server's side, in /metrics). With
-- WRK_COUNT_STATUS=1, response() counts every status outside 2xx instead.

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json"
-- WRK_TOKEN: a bearer token (benches/safety-load.sh).
if os.getenv("WRK_TOKEN") and os.getenv("WRK_TOKEN") ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. os.getenv("WRK_TOKEN")
end

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

-- Per thread (globals, so done() can read them with thread:get()).
non2xx = 0

function init(args)
  local body = args[1]
  if body == nil or body == "" then
    local file = os.getenv("WRK_BODY_FILE")
    if file and file ~= "" then
      local f = assert(io.open(file, "rb"))
      body = f:read("*a")
      f:close()
    else
      body = os.getenv("WRK_BODY")
    end
  end
  assert(body and body ~= "", "no body: pass it after --, or set WRK_BODY or WRK_BODY_FILE")
  wrk.body = body
  if os.getenv("WRK_COUNT_STATUS") ~= "1" then
    response = nil
  end
end

function response(status, headers, body)
  if status < 200 or status >= 300 then
    non2xx = non2xx + 1
  end
end

function done(summary, latency, requests)
  local bad = 0
  if os.getenv("WRK_COUNT_STATUS") ~= "1" then
    bad = summary.errors.status
  else
    for _, t in ipairs(threads) do
      bad = bad + (tonumber(t:get("non2xx")) or 0)
    end
  end
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
    summary.requests, bad, e.connect, e.read, e.write, e.timeout,
    pct(50), pct(99), pct(99.9), summary.requests == 0 and 0 or ms(latency.max),
    secs > 0 and summary.requests / secs or 0))
end
