-- echo.lua: shows tests what roomd hands to a handler (tests/integration/test_echo.py).
-- HTTP: answers the req fields and the room's identity as JSON. Query "status"
-- sets the answer's status; rest "text" answers a plain-text body; rest "none"
-- returns nil (roomd answers 404). Query "burn_ms" keeps the turn busy that long first
-- (test_usage: CPU budgets).
-- WebSocket: sends every message back to its sender; {"whoami": true} answers
-- the connection's id and the room's identity.
local Echo = {}

local function room_info(room)
    return {
        id = room.id,
        namespace = room.namespace,
        node = room.node,
        settings = room.settings,
    }
end

function Echo.request(room, req)
    local burn = tonumber(req.query.burn_ms)
    if burn then
        local stop = now_ms() + burn
        while now_ms() < stop do end -- luacheck: ignore 563
    end
    if req.rest == "none" then
        return nil
    end
    if req.rest == "framing" then -- a header roomd must refuse to take from a room
        return {status = 200, body = "x", headers = {["Content-Length"] = "99"}}
    end
    if req.rest == "text" then
        return {status = 200, body = "plain " .. req.method,
                headers = {["content-type"] = "text/plain", ["x-echo"] = "text"}}
    end
    return {
        status = tonumber(req.query.status) or 200,
        headers = {["x-echo"] = "yes"},
        json = {
            method = req.method,
            path = req.path,
            rest = req.rest,
            query = json.object(req.query),
            headers = req.headers,
            body = req.body,
            json = req.json,
            has_json = req.json ~= nil,
            json_error = req.json_error,
            room = room_info(room),
        },
    }
end

function Echo.message(room, conn, msg)
    if type(msg) == "table" and msg.whoami == true then
        return conn:send({conn = conn.id, room = room_info(room)})
    end
    conn:send(msg)
end

return Echo
