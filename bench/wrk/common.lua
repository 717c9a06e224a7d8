-- Shared by the workload scripts: each answer is checked against `expect` (a plain substring
-- of a successful body), failures are tallied per DeepCall code, and `done` prints one
-- machine-readable RESULT line that bench/wrk.py parses.

local threads = {}

function setup(thread)
   thread:set("id", #threads)
   table.insert(threads, thread)
end

failures = 0
codes = {}
first_failure = ""

function check(status, body)
   if status == 200 and body:find(expect, 1, true) then
      return
   end
   failures = failures + 1
   local code = body:match('"code":(%d+)') or ("http" .. status)
   codes[code] = (codes[code] or 0) + 1
   if first_failure == "" then
      first_failure = body:sub(1, 200)
   end
end

function response(status, headers, body)
   check(status, body)
end

local function quote(s)
   return '"' .. tostring(s):gsub('[%c"\\]', function(c)
      return string.format("\\u%04x", c:byte())
   end) .. '"'
end

function done(summary, latency, requests)
   local total, by_code, sample = 0, {}, ""
   for _, thread in ipairs(threads) do
      total = total + (thread:get("failures") or 0)
      for code, n in pairs(thread:get("codes") or {}) do
         by_code[code] = (by_code[code] or 0) + n
      end
      if sample == "" then
         sample = thread:get("first_failure") or ""
      end
   end
   local parts = {}
   for code, n in pairs(by_code) do
      table.insert(parts, quote(code) .. ":" .. n)
   end
   local e = summary.errors
   io.write(string.format(
      'RESULT {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,'
         .. '"failures":%d,"codes":{%s},"connect":%d,"read":%d,"write":%d,"status":%d,'
         .. '"timeout":%d,"sample":%s}\n',
      summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
      latency.max, total, table.concat(parts, ","), e.connect, e.read, e.write, e.status,
      e.timeout, quote(sample)))
end

-- The requests a script cycles over, one per matching line of the runner's pairs file
-- ("caller mask"); each thread starts at its own place in the list.
requests = {}
local index = 0

function load_pairs(path, pattern, make)
   for line in io.lines(path) do
      local caller, mask = line:match(pattern)
      if caller then
         table.insert(requests, make(caller, mask))
      end
   end
   if #requests == 0 then
      error("no usable pairs in " .. path)
   end
   index = (id * 7919) % #requests
end

function next_request()
   index = index % #requests + 1
   return requests[index]
end
