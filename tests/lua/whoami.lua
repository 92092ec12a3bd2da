-- whoami.lua: shows tests what a token's claims become (tests/integration/test_auth.py).
-- HTTP: answers {auth = req.auth, started = <init count>}. WebSocket: joins only a
-- token whose claims carry "name"; a message answers {auth = conn.auth, join = the
-- claims its join saw, inits = how many times init ran (hibernation, reload)}.
local Who = {}
local inits = {} -- per room id: a count that outlives the room's instance (test only)

function Who.init(room)
    inits[room.id] = (inits[room.id] or 0) + 1
    room.inits = inits[room.id]
    room.joined = {}
end

function Who.request(room, req)
    return {json = {auth = req.auth or json.null, inits = room.inits}}
end

function Who.join(room, conn, req)
    if not (conn.auth and conn.auth.name) then
        return false, "a token with a name is needed"
    end
    room.joined[conn.id] = req.auth and req.auth.name
    room.storage:put("joined:" .. conn.id, req.auth.name) -- join claims outlive the instance
end

function Who.message(room, conn)
    local join = room.joined[conn.id] or room.storage:get("joined:" .. conn.id)
    conn:send({auth = conn.auth, join = join or json.null, inits = room.inits})
end

return Who
