-- wrk script: POST {"p_id": n} to $BENCH_PATH, each request with an Idempotency-Key of its own
-- (a client's retry-safe call the first time it is sent: the claim, the run, the stored answer).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local path = os.getenv("BENCH_PATH") or "/"
if os.getenv("BENCH_AUTH") then wrk.headers["Authorization"] = os.getenv("BENCH_AUTH") end

local threads = 0
setup = function(thread)
  threads = threads + 1
  thread:set("thread_id", threads)
end

local sent = 0
local run = tostring(os.time())
request = function()
  sent = sent + 1
  -- wrk.format takes these headers instead of wrk.headers, not beside them.
  local headers = {["Idempotency-Key"] = string.format("bench-%s-%d-%d", run, thread_id or 0, sent)}
  for name, value in pairs(wrk.headers) do headers[name] = value end
  return wrk.format(nil, path, headers, string.format('{"p_id": %d}', math.random(1, 100000)))
end
