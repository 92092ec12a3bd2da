-- flood.lua: sends a connection as much as it asks for (tests/integration/test_slow_consumer.py).
-- {"n": N, "size": S} sends N messages {"i": i, "data": <S bytes>} to the sender,
-- stopping early when conn:send reports the connection closed. GET answers how
-- many the last flood queued.
local Flood = {}

function Flood.init(room)
    room.last_sent = 0
end

function Flood.message(room, conn, msg)
    local chunk = string.rep("x", msg.size)
    local sent = 0
    for i = 1, msg.n do
        if not conn:send({i = i, data = chunk}) then
            break
        end
        sent = i
    end
    room.last_sent = sent
end

function Flood.request(room)
    return {json = {last_sent = room.last_sent}}
end

return Flood
