-- wrk script of `make bench` (tools/bench/wrk.py runs it).
--   wrk ... -s wrk_report.lua URL -- METHOD PATH BODY_FILE NONCE [HEADER ...]
-- Sends METHOD PATH with the body read from BODY_FILE, where every "{{unique}}" becomes a value
-- no other request of this run has (NONCE-thread-counter: new identities, new orders), and the
-- given "Name: value" headers. When done, prints one line "BENCH_RESULT {json}" with the counts,
-- errors (status >= 400 included) and latency percentiles in microseconds.

local threads = {}

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  method = args[1]
  path = args[2]
  local file = assert(io.open(args[3], "rb"))
  template = file:read("*a")
  file:close()
  nonce = args[4]
  headers = {}
  for i = 5, #args do
    local name, value = args[i]:match("^([^:]+):%s*(.*)$")
    headers[name] = value
  end
  unique = template:find("{{unique}}", 1, true) ~= nil
  counter = 0
  fixed = wrk.format(method, path, headers, template)
end

function request()
  if not unique then
    return fixed
  end
  counter = counter + 1
  local value = nonce .. "-" .. id .. "-" .. counter
  return wrk.format(method, path, headers, (template:gsub("{{unique}}", value)))
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
