-- GET /api/v2/Masking/route?caller=...&mask=... with the router's bearer token, cycling over
-- (caller, mask) pairs of live maskings written by the runner, one pair per line.
-- wrk args: PAIRS_FILE TOKEN
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "common.lua")

expect = '"action":"connect"'

function init(args)
   local headers = { ["Authorization"] = "Bearer " .. args[2] }
   load_pairs(args[1], "^(%d+)%s+(%d+)$", function(caller, mask)
      local path = string.format(
         "/api/v2/Masking/route?caller=%%2B%s&mask=%%2B%s", caller, mask)
      return wrk.format("GET", path, headers)
   end)
end

request = next_request
