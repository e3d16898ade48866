-- Load for bench/booking.py, run by wrk (C, event-driven) so the load generator costs the two shared
-- cores as little as possible; the Python threads used before took a third of the CPU the service needed.
--
-- wrk -t T -c C -d Ns -s bench/wrk_load.lua URL -- MODE EXPECTED T [FIRST_EPOCH SERVICE STAFF]
--   MODE get:  GET the URL's path; EXPECTED is the status that counts as a success.
--   MODE book: POST a booking of a distinct 30-minute slot per request to the URL's path (thread i of T
--              takes slots i, i+T, i+2T ... after FIRST_EPOCH), so no two requests compete for a slot.
-- done() prints one line starting with "WRK " and a JSON object, which bench/booking.py parses.

local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  mode, expected, stride = args[1], tonumber(args[2]), tonumber(args[3])
  first, service, staff = tonumber(args[4]), args[5], args[6]
  k = id
  ok, other = 0, 0
end

function request()
  if mode ~= "book" then
    return wrk.format("GET")
  end
  local start = os.date("!%Y-%m-%dT%H:%M:%S+00:00", first + k * 1800)
  k = k + stride
  local body = string.format(
    '{"service_id":"%s","staff_id":"%s","start":"%s","customer":{"name":"Bench","email":"b@example.com"}}',
    service, staff, start)
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end

function response(status, headers, body)
  if status == expected then ok = ok + 1 else other = other + 1 end
end

function done(summary, latency, requests)
  local total_ok, total_other = 0, 0
  for _, thread in ipairs(threads) do
    total_ok = total_ok + thread:get("ok")
    total_other = total_other + thread:get("other")
  end
  local e = summary.errors
  io.write(string.format(
    'WRK {"requests": %d, "duration_us": %d, "ok": %d, "other": %d, "socket_errors": %d, '
      .. '"p50_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, total_ok, total_other, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
