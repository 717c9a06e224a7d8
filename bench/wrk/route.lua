-- GET /api/v2/Masking/route?caller=...&mask=... with the router's bearer token, cycling over
-- (caller, mask) pairs of live maskings written by the runner, one pair per line.
-- wrk args: PAIRS_FILE TOKEN
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "common.lua")

expect = '"action":"connect"'
local requests = {}
local index = 0

function init(args)
   local headers = { ["Authorization"] = "Bearer " .. args[2] }
   for line in io.lines(args[1]) do
      local caller, mask = line:match("^(%d+)%s+(%d+)$")
      if caller then
         local path = string.format(
            "/api/v2/Masking/route?caller=%%2B%s&mask=%%2B%s", caller, mask)
         table.insert(requests, wrk.format("GET", path, headers))
      end
   end
   if #requests == 0 then
      error("no pairs in " .. args[1])
   end
   -- Threads start at different places in the list.
   index = (id * 7919) % #requests
end

function request()
   index = index % #requests + 1
   return requests[index]
end
