-- calls_room.lua: rooms.call between two rooms (tests/bench/calls.sh). GET /cb/<id>?n=N makes
-- N calls to /cb/<id>-target in a row and answers {n =, ms =}; the target's call handler
-- counts.
local Bench = {}

function Bench.request(room, req)
    local n = tonumber(req.query.n) or 1000
    local start = now_ms()
    for i = 1, n do
        rooms.call("cb", room.id .. "-target", i)
    end
    return { json = { n = n, ms = now_ms() - start } }
end

function Bench.call(room, value)
    room.count = (room.count or 0) + 1
    return value
end

return Bench
