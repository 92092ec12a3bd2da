-- vote.lua: a two-option poll per room. The question comes from the room id,
-- so every node and every restart shows the same one. Votes arrive by POST
-- or over the WebSocket, are stored, and every vote is broadcast to the room.
-- Each vote (re)sets the room's alarm to now + vote.ttl; when it fires, the
-- room's storage is deleted and the poll starts again from [0, 0].
local Vote = {}

local QUESTIONS = {
    { "Cats or dogs?", { "Cats", "Dogs" } },
    { "Tabs or spaces?", { "Tabs", "Spaces" } },
    { "Tea or coffee?", { "Tea", "Coffee" } },
    { "Mountains or the sea?", { "Mountains", "Sea" } },
    { "Morning or night?", { "Morning", "Night" } },
    { "Books or films?", { "Books", "Films" } },
    { "Summer or winter?", { "Summer", "Winter" } },
    { "Pizza or pasta?", { "Pizza", "Pasta" } },
}

-- A stable hash of the id (FNV-1a, 32 bits) picks the question.
local function pick_question(id)
    local h = 2166136261
    for i = 1, #id do
        h = bit.bxor(h, id:byte(i))
        h = bit.tobit(h * 16777619 % 4294967296)
    end
    return QUESTIONS[(h % #QUESTIONS) + 1]
end

local function state(room)
    local q = room.question
    return {
        room = room.id,
        question = q[1],
        options = json.array({ q[2][1], q[2][2] }),
        votes = json.array({ room.votes[1], room.votes[2] }),
        node = room.node,
    }
end

-- Counts a vote {option = 0 or 1}; returns the new state, or nil and why not.
local function cast(room, ballot)
    if not json.is_object(ballot) then
        return nil, 'send {"option": 0} or {"option": 1}'
    end
    local k = ballot.option
    if k ~= 0 and k ~= 1 then
        return nil, "option must be 0 or 1"
    end
    room.votes[k + 1] = room.votes[k + 1] + 1
    room.storage:put("votes", room.votes)
    room.storage:set_alarm(now_ms() + room.settings.ttl * 1000)
    local s = state(room)
    room:broadcast(s)
    return s
end

function Vote.init(room)
    room.question = pick_question(room.id)
    room.votes = room.storage:get("votes") or { 0, 0 }
end

function Vote.request(room, req)
    if req.rest ~= "" then
        return { status = 404, json = { error = "vote rooms have no sub-paths" } }
    end
    if req.method == "GET" then
        return { json = state(room) }
    elseif req.method ~= "POST" then
        return { status = 405, json = { error = "use GET or POST" } }
    end
    if req.json == nil then
        local why = req.json_error or "the body is empty"
        return { status = 400, json = { error = "body must be JSON: " .. why } }
    end
    local s, err = cast(room, req.json)
    if not s then
        return { status = 400, json = { error = err } }
    end
    return { json = s }
end

-- The votes expire vote.ttl seconds after the last one: everything stored goes.
function Vote.alarm(room)
    room.storage:delete_all()
    room.votes = { 0, 0 }
    room:broadcast(state(room))
end

function Vote.join(room, conn, req)
    if req.rest ~= "" then
        return false, "vote rooms have no sub-paths"
    end
    conn:send(state(room))
end

function Vote.message(room, conn, msg)
    local s, err = cast(room, msg)
    if not s then
        conn:send({ error = err })
    end
end

return Vote
