-- POST /api/v2/Masking/unset on live maskings written by the runner: each request moves the
-- end of one customer's masking (m1 = the customer, mask = its number) to 60 minutes from
-- now, so the live maskings never run out; ending one runs the same statements plus the
-- deletion of its two claims. Hub lines of the pairs file are skipped: m1 = a hub would
-- match every masking of that hub.
-- wrk args: PAIRS_FILE USERID TOKEN
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "common.lua")

expect = '"status":"success"'

function init(args)
   local headers = { ["Content-Type"] = "application/json" }
   load_pairs(args[1], "^(9196%d+)%s+(%d+)$", function(caller, mask)
      local body = string.format(
         '{"userId":"%s","token":"%s","m1":%s,"mask":%s,"expiry_duration":60}',
         args[2], args[3], caller, mask)
      return wrk.format("POST", nil, headers, body)
   end)
end

request = next_request
