-- Fill the emulator's loyalty store: BENCH_FILL_COUNT enroll calls
-- (POST /client/users), each with a unique e-mail, then stop.
--
-- Environment (set by bench/run.py):
--   BENCH_FILL_PREFIX  e-mail prefix, unique per fill batch ("bench-fill-ab12")
--   BENCH_FILL_COUNT   enrolments wanted per wrk thread (run.py uses -t1)
--   BENCH_HEADERS      extra "Name: value" lines separated by "\n" (optional)
--
-- The thread stops itself once it has seen BENCH_FILL_COUNT responses and prints
-- "BENCH_FILL_DONE" (run.py then interrupts wrk); wrk's -d bounds the time. Up to (connections - 1) requests still in flight at the stop
-- may also be stored, so the count is approximate by that much.
-- done() prints "BENCH_JSON {...}" with the 2xx and non-2xx counts.

local prefix = os.getenv("BENCH_FILL_PREFIX") or "bench-fill"
local quota = tonumber(os.getenv("BENCH_FILL_COUNT") or "1000")
local hdrs = { ["Content-Type"] = "application/json" }
-- Extra "Name: value" lines (e.g. X-Emulator-Namespace), as in request.lua.
for line in string.gmatch(os.getenv("BENCH_HEADERS") or "", "[^\n]+") do
  local name, value = string.match(line, "^%s*([^:]-)%s*:%s*(.-)%s*$")
  if name ~= nil and #name > 0 then
    hdrs[name] = value
  end
end

counter = 0
ok = 0
bad = 0
first_bad = 0
announced = false

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function request()
  counter = counter + 1
  local body = string.format(
    '{"firstName":"Fill","lastName":"Filler","email":"%s-%d@example.com",' ..
    '"dateOfBirth":"1990-01-01","gender":"F","postalZipCode":"H0H 0H0"}',
    prefix, counter)
  return wrk.format("POST", "/client/users", hdrs, body)
end

function response(status, headers, body)
  if status >= 200 and status < 300 then
    ok = ok + 1
  else
    bad = bad + 1
    if first_bad == 0 then first_bad = status end
  end
  if ok + bad >= quota and not announced then
    -- wrk's main thread sleeps for the whole -d even once every thread has stopped;
    -- run.py reads this line and sends wrk SIGINT, which ends the run and calls done().
    announced = true
    io.write("BENCH_FILL_DONE\n")
    io.stdout:flush()
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local tok, tbad, tsent, fb = 0, 0, 0, 0
  for _, t in ipairs(threads) do
    tok = tok + t:get("ok")
    tbad = tbad + t:get("bad")
    tsent = tsent + t:get("counter")
    if fb == 0 then fb = t:get("first_bad") end
  end
  io.write(string.format(
    'BENCH_JSON {"duration_us": %d, "requests": %d, "ok": %d, "bad": %d, "sent": %d, "first_bad_status": %d}\n',
    summary.duration, summary.requests, tok, tbad, tsent, fb))
end
