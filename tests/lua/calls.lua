-- calls.lua: rooms calling rooms (tests/integration/test_calls.py). Serves the namespaces
-- "calls" and "calls2" alike.
-- HTTP GET (the caller): query to (a room of calls2), x, fail, slow, timeout make one
-- rooms.call inside pcall and answer {ok =, res =}; rest "cycle" calls a room that calls back;
-- rest "deep" starts a chain of query n calls; rest "send" sends {n = 1} to calls2/sink (then
-- runs past the CPU limit if query spin is set); rest "count" answers what the room stored and counted.
-- WebSocket: a message {to =, x =} is called on and the answer sent back.
-- call (the callee): {fail} raises, {back} calls the room back, {slow} calls calls/sleeper
-- which keeps its turn busy 300 ms, {n} adds n to the stored count, {depth} calls on.
local Calls = {}

function Calls.init(room)
    room.got = 0
end

local function call(to, value, timeout)
    return pcall(rooms.call, "calls2", to, value, { timeout_ms = timeout or 2000 })
end

function Calls.request(room, req)
    local q = req.query
    if req.rest == "cycle" then
        return { json = { res = rooms.call("calls2", room.id, { back = room.id }) } }
    elseif req.rest == "deep" then
        return { json = { res = rooms.call("calls2", "d1", { depth = tonumber(q.n) }) } }
    elseif req.rest == "send" then
        rooms.send("calls2", "sink", { n = 1 })
        if q.spin then -- past the CPU limit: nothing of the turn stays, its send included
            while true do end -- luacheck: ignore 563
        end
        return { json = { sent = true } }
    elseif req.rest == "count" then
        return { json = { n = room.storage:get("n") or 0, got = room.got } }
    end
    local ok, res = call(q.to or "b", { x = tonumber(q.x) or 1, fail = q.fail, slow = q.slow },
        tonumber(q.timeout))
    return { json = { ok = ok, res = res } }
end

function Calls.message(_, conn, msg)
    local ok, res = call(msg.to, { x = msg.x })
    conn:send({ ok = ok, res = res })
end

function Calls.call(room, value, from)
    if value.fail then
        error("the callee refuses")
    elseif value.back then
        return rooms.call("calls", value.back, {})
    elseif value.slow then
        return rooms.call("calls", "sleeper", { sleep = true })
    elseif value.sleep then
        local stop = now_ms() + 300
        while now_ms() < stop do end -- luacheck: ignore 563
        return "late"
    elseif value.depth then
        if value.depth <= 1 then
            return 1
        end
        return 1 + rooms.call(room.namespace == "calls" and "calls2" or "calls", "d" .. value.depth,
            { depth = value.depth - 1 })
    elseif value.n then
        room.storage:put("n", (room.storage:get("n") or 0) + value.n)
        return true
    end
    room.got = room.got + 1
    return { doubled = value.x and value.x * 2, from = from, got = room.got }
end

return Calls
