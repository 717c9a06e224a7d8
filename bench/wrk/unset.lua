-- POST /api/v2/Masking/unset on live maskings written by the runner: each request moves the
-- end of one customer's masking (m1 = the customer, mask = its number) to 60 minutes from
-- now, so the live maskings never run out; ending one runs the same statements plus the
-- deletion of its two claims. Hub lines of the pairs file are skipped: m1 = a hub would
-- match every masking of that hub.
-- wrk args: PAIRS_FILE USERID TOKEN
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "common.lua")

expect = '"status":"success"'
local requests = {}
local index = 0

function init(args)
   local headers = { ["Content-Type"] = "application/json" }
   for line in io.lines(args[1]) do
      local caller, mask = line:match("^(9196%d+)%s+(%d+)$")
      if caller then
         local body = string.format(
            '{"userId":"%s","token":"%s","m1":%s,"mask":%s,"expiry_duration":60}',
            args[2], args[3], caller, mask)
         table.insert(requests, wrk.format("POST", nil, headers, body))
      end
   end
   if #requests == 0 then
      error("no customer pairs in " .. args[1])
   end
   index = (id * 7919) % #requests
end

function request()
   index = index % #requests + 1
   return requests[index]
end
