-- wrk script for `npm run bench`: one bearer token per request, taken in turn from a file of
-- tokens (one a line).
--   TOKENS=file           the tokens
--   METHOD=POST|GET       (POST sends BODY as JSON)
--   BODY='{"prompt":"hello"}'
--   ONCE=1                never-seen mode: each token is used once; wrk's own req/s would mix in
--                         the requests sent after the file is used up, so the script times the
--                         responses from number SKIP (warm-up: connections, JIT) to the last token's
--                         and done() prints that rate on a line `ONCE <responses> <seconds> <non2xx>`.
local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
  int clock_gettime(int clock, bench_timespec *ts);
]]
local ts = ffi.new("bench_timespec")
local function now()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) / 1e9
end

local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

local tokens = {}
local method = os.getenv("METHOD") or "POST"
local body = os.getenv("BODY") or '{"prompt":"hello"}'
local once = os.getenv("ONCE") == "1"
local skip = tonumber(os.getenv("SKIP") or "500")
local next_index = 0
local responses = 0
first_at = 0
last_at = 0
counted = 0
non2xx = 0

function init(args)
  for line in io.lines(os.getenv("TOKENS")) do
    if #line > 0 then tokens[#tokens + 1] = line end
  end
end

function request()
  next_index = next_index % #tokens + 1
  local headers = { ["Authorization"] = "Bearer " .. tokens[next_index] }
  if method == "POST" then
    headers["Content-Type"] = "application/json"
    return wrk.format("POST", nil, headers, body)
  end
  return wrk.format(method, nil, headers)
end

-- Defined only in never-seen mode: wrk reads the responses only when a script asks for them.
if once then
  response = function(status, headers, body)
    responses = responses + 1
    if responses == skip then
      first_at = now()
    elseif responses > skip and responses <= #tokens then
      last_at = now()
      counted = responses - skip
      if status < 200 or status > 299 then non2xx = non2xx + 1 end
    end
  end
end

function done(summary, latency, requests)
  if not once then return end
  local n, seconds, bad = 0, 0, 0
  for _, thread in ipairs(threads) do
    n = n + thread:get("counted")
    local s = thread:get("last_at") - thread:get("first_at")
    if s > seconds then seconds = s end
    bad = bad + thread:get("non2xx")
  end
  io.write(string.format("ONCE %d %.6f %d\n", n, seconds, bad))
end
