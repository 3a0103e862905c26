-- wrk script of `make bench` (tests/bench/wrk.rs writes its input, runs it):
--   wrk -t T -c C -d 8s -s tests/bench/github.lua URL -- DELIVERIES_FILE T
-- Sends validly signed GitHub push deliveries, each with a fresh
-- X-GitHub-Delivery. DELIVERIES_FILE holds the body's text before and after
-- its 40-hex `after` commit id (lines 1 and 2), then one line per delivery:
-- "<delivery id> <after> <X-Hub-Signature-256>", signed by the bench (LuaJIT
-- has no HMAC). The body varies in `after` only (same size): one signature
-- for every delivery would be refused by flowgate's replay guard after the
-- first, as a replay of a captured request should be. Thread k of T takes
-- lines k, k+T, k+2T, ...; running out wraps around and is counted.
-- done() prints one line, "BENCH {json}", that the bench parses.
local threads = {}
local next_tid = 0

function setup(thread)
  thread:set("tid", next_tid)
  next_tid = next_tid + 1
  table.insert(threads, thread)
end

non202 = 0
exhausted = 0
local head, tail, mine, i, headers

function init(args)
  local n = tonumber(args[2])
  local f = assert(io.open(args[1], "rb"))
  head, tail = f:read("*l"), f:read("*l")
  mine, i = {}, 0
  local k = 0
  for line in f:lines() do
    if k % n == tid then
      local id, after, sig = line:match("^(%S+) (%S+) (%S+)$")
      mine[#mine + 1] = { id, after, sig }
    end
    k = k + 1
  end
  f:close()
  headers = {
    ["Content-Type"] = "application/json",
    ["User-Agent"] = "GitHub-Hookshot/bench",
    ["X-GitHub-Event"] = "push",
    ["X-GitHub-Hook-ID"] = "412345678",
  }
end

function request()
  i = i + 1
  if i > #mine then
    i, exhausted = 1, exhausted + 1
  end
  local d = mine[i]
  headers["X-GitHub-Delivery"] = d[1]
  headers["X-Hub-Signature-256"] = d[3]
  return wrk.format("POST", nil, headers, head .. d[2] .. tail)
end

function response(status, _, _)
  if status ~= 202 then
    non202 = non202 + 1
  end
end

function done(summary, latency, _)
  local bad, out = 0, 0
  for _, t in ipairs(threads) do
    bad = bad + t:get("non202")
    out = out + t:get("exhausted")
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests":%d,"duration_us":%d,"connect_errors":%d,"read_errors":%d,"write_errors":%d,' ..
    '"timeouts":%d,"non202":%d,"exhausted":%d,"p50_us":%d,"p99_us":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.timeout, bad, out,
    latency:percentile(50), latency:percentile(99)))
end
