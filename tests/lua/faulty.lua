-- faulty.lua: a room whose handlers fail on demand (tests/integration/test_errors.py).
-- HTTP: GET and POST count hits in room.hits; rest "boom" raises an error.
-- WebSocket: {"boom": true} raises an error; any other message is echoed back.
local Faulty = {}

function Faulty.init(room)
    room.hits = 0
end

function Faulty.request(room, req)
    if req.rest == "boom" then
        error("faulty request handler: boom")
    end
    if req.method == "POST" then
        room.hits = room.hits + 1
    end
    return {status = 200, json = {hits = room.hits, rest = req.rest}}
end

function Faulty.message(room, conn, msg)
    if type(msg) == "table" and msg.boom == true then
        error("faulty message handler: boom in " .. room.id)
    end
    conn:send(msg)
end

return Faulty
