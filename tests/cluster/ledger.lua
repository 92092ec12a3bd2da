-- ledger.lua: the cluster tests' witness room. Every POST appends one entry
-- {seq, node, epoch} to storage: the activation that stored it (room.node,
-- room.epoch) and its place in the room's sequence. GET answers every entry
-- in seq order, so a test can check that a room's epochs only rise, that a
-- new owner always brings a higher epoch, and that each epoch's writes come
-- from one node (tests/cluster/cluster.py, check_ledger).
local Ledger = {}

-- Keys "e000000001", ...: byte order is seq order.
local function entry_key(seq)
    return string.format("e%09d", seq)
end

function Ledger.init(room)
    room.seq = room.storage:get("seq") or 0
end

local function append(room)
    local seq = room.seq + 1
    local entry = { seq = seq, node = room.node, epoch = room.epoch }
    room.storage:put({ seq = seq, [entry_key(seq)] = entry })
    room.seq = seq
    return entry
end

local function entries(room)
    local out = {}
    for _, kv in ipairs(room.storage:list({ prefix = "e" })) do
        out[#out + 1] = kv.value
    end
    return json.array(out)
end

function Ledger.request(room, req)
    if req.rest ~= "" then
        return { status = 404, json = { error = "ledger rooms have no sub-paths" } }
    end
    if req.method == "POST" then
        return { json = append(room) }
    elseif req.method == "GET" then
        return { json = { seq = room.seq, node = room.node, epoch = room.epoch, entries = entries(room) } }
    end
    return { status = 405, json = { error = "use GET or POST" } }
end

-- A WebSocket member may append too: {"append": true} answers the new entry.
function Ledger.message(room, conn, msg)
    if json.is_object(msg) and msg.append then
        conn:send(append(room))
    end
end

return Ledger
