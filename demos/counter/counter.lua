-- counter.lua: a number per room, stored. GET reads it, POST adds one.
local Counter = {}

function Counter.init(room)
    room.value = room.storage:get("value") or 0
end

function Counter.request(room, req)
    if req.rest ~= "" then
        return { status = 404, json = { error = "counter rooms have no sub-paths" } }
    end
    if req.method == "POST" then
        room.value = room.value + 1
        room.storage:put("value", room.value)
    elseif req.method ~= "GET" then
        return { status = 405, json = { error = "use GET or POST" } }
    end
    return { status = 200, json = { value = room.value } }
end

return Counter
