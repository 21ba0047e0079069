-- A day's mix for wrk: mostly reads of the needs list and the board, some pledges and some
-- stock dispatches, every write with its own Idempotency-Key. Set by run.sh: TOKEN, DONOR, LOT,
-- WAREHOUSE in the environment.
local token = os.getenv("TOKEN")
local donor = os.getenv("DONOR")
local lot = os.getenv("LOT")
local warehouse = os.getenv("WAREHOUSE")
local counter = 0
local thread_id = 0

function setup(thread)
  thread_id = thread_id + 1
  thread:set("id", thread_id)
end

function request()
  counter = counter + 1
  local key = string.format("load-%d-%d-%d", id, counter, os.time())
  local pick = counter % 10
  local headers = { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json", ["Idempotency-Key"] = key }
  if pick == 0 then
    return wrk.format("POST", "/api/v1/pledges", headers,
      string.format('{"donor_id": %s, "kind": "money", "amount": "100"}', donor))
  elseif pick == 5 then
    return wrk.format("POST", "/api/v1/stock-movements", headers,
      string.format('{"kind": "dispatch", "lot_id": %s, "location_id": %s, "quantity": 1}', lot, warehouse))
  elseif pick % 2 == 0 then
    return wrk.format("GET", "/api/v1/needs?per_page=50", headers)
  else
    return wrk.format("GET", "/api/v1/board", headers)
  end
end

function response(status, headers, body)
  if status >= 500 then
    io.stderr:write("server error " .. status .. "\n")
  end
end
