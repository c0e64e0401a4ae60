-- wrk script for vs-kannel.sh: one HTTP MT per request, to a different MSISDN each time.
--
--   wrk ... -s vs-kannel.lua URL -- seedgate CHANNEL TOKEN
--       POST /api/v1/messages {"channel": CHANNEL, "to": "+2782…", "content": TEXT}
--   wrk ... -s vs-kannel.lua URL -- kannel USER PASSWORD DLR_URL
--       GET /cgi-bin/sendsms?username=…&password=…&to=%2B2782…&text=…&dlr-mask=3&dlr-url=…
--
-- Prints one JSON line (prefixed `WRK_JSON `) at the end: requests, duration, errors and
-- latency percentiles in ms.

local TEXT = "Your clinic visit is on Tuesday at 09:00. Reply STOP to opt out."

local threads = {}
local next_thread = 0

function setup(thread)
  thread:set("tid", next_thread)
  next_thread = next_thread + 1
  table.insert(threads, thread)
end

local function urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

local mode, n, make

function init(args)
  mode = args[1]
  n = 0
  if mode == "seedgate" then
    local channel, token = args[2], args[3]
    wrk.method = "POST"
    wrk.headers["Content-Type"] = "application/json"
    wrk.headers["Authorization"] = "Bearer " .. token
    make = function(to)
      local body = string.format('{"channel":"%s","to":"%s","content":"%s"}', channel, to, TEXT)
      return wrk.format("POST", "/api/v1/messages", nil, body)
    end
  elseif mode == "kannel" then
    local prefix = string.format("/cgi-bin/sendsms?username=%s&password=%s&from=Bench&text=%s&dlr-mask=3",
      urlencode(args[2]), urlencode(args[3]), urlencode(TEXT))
    if args[4] and args[4] ~= "" then prefix = prefix .. "&dlr-url=" .. urlencode(args[4]) end
    make = function(to) return wrk.format("GET", prefix .. "&to=" .. urlencode(to)) end
  else
    error("first script argument: seedgate or kannel")
  end
end

function request()
  n = n + 1
  -- +2782 T NNNNNN: a thread digit and a per-thread counter, so no two requests share a number.
  return make(string.format("+2782%d%06d", tid % 10, n % 1000000))
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"non2xx":%d,"connect_errors":%d,"read_errors":%d,' ..
    '"write_errors":%d,"timeouts":%d,"p50_ms":%.3f,"p90_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f}\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000))
end
