-- POST /api/v2/Masking/set, every request a new pair: m1 = 9198SSNNNNNN, m2 = 9197SSNNNNNN,
-- SS a slot (run and thread) handed out by the runner, NNNNNN a per-thread counter. Parties
-- never repeat, so no set meets 1503 (pair already masked) or 1505 (pool exhausted).
-- wrk args: SLOT_BASE USERID TOKEN
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "common.lua")

expect = '"status":"success"'
local slot, user, token
local counter = 0
local headers = { ["Content-Type"] = "application/json" }

function init(args)
   slot = tonumber(args[1]) + id
   user, token = args[2], args[3]
   if slot > 99 then
      error("slot out of range: " .. slot)
   end
end

function request()
   counter = counter + 1
   if counter > 999999 then
      -- Numbers would repeat; stop this thread rather than measure 1503 answers.
      wrk.thread:stop()
   end
   local body = string.format(
      '{"userId":"%s","token":"%s","m1":9198%02d%06d,"m2":9197%02d%06d,"expiry_duration":60}',
      user, token, slot, counter, slot, counter)
   return wrk.format("POST", nil, headers, body)
end
