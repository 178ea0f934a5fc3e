-- One fixed request, repeated on every connection: the benchmark workloads.
--
-- bench/run.py describes the request in the environment (the URL, and so the
-- path, is wrk's command-line argument):
--   BENCH_METHOD   HTTP method (default GET)
--   BENCH_BODY     request body, sent as is (optional)
--   BENCH_HEADERS  "Name: value" lines separated by "\n" (optional)
--
-- No request()/response() hooks are defined, so wrk builds the request once and
-- sends its static buffer: the load generator adds no Lua work per request.
-- done() prints one line "BENCH_JSON {...}" (latencies in microseconds), which
-- run.py reads instead of parsing wrk's text report.

wrk.method = os.getenv("BENCH_METHOD") or "GET"

local body = os.getenv("BENCH_BODY")
if body ~= nil and #body > 0 then
  wrk.body = body
end

local headers = os.getenv("BENCH_HEADERS") or ""
for line in string.gmatch(headers, "[^\n]+") do
  local name, value = string.match(line, "^%s*([^:]-)%s*:%s*(.-)%s*$")
  if name ~= nil and #name > 0 then
    wrk.headers[name] = value
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  local pct = {}
  for _, q in ipairs({50, 75, 90, 99, 99.9}) do
    pct[#pct + 1] = string.format('"%s": %d', tostring(q), latency:percentile(q))
  end
  io.write(string.format(
    'BENCH_JSON {"duration_us": %d, "requests": %d, "bytes": %d, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
    '"latency_us": {"min": %d, "max": %d, "mean": %.1f, "stdev": %.1f, "percentiles": {%s}}}\n',
    summary.duration, summary.requests, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.max, latency.mean, latency.stdev,
    table.concat(pct, ", ")))
end
