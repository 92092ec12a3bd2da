-- chat.lua: a chat room. Members join with ?name=<name>; every message goes to
-- everyone in the room, and the last HISTORY messages are stored (one key per
-- message, "log:<sequence>") and shown to whoever joins later. Each member may
-- send BURST messages at once, refilled at RATE per second; longer or faster
-- messages get an error back and go nowhere.
--
-- Sent to a member who joins: {type = "welcome", you, present, history};
-- to everyone: {type = "message", name, text, t}, {type = "join" | "leave",
-- name, present}; to a sender alone: {type = "error", error}.
local Chat = {}

local HISTORY = 100
local MAX_TEXT = 500 -- characters
local MAX_NAME = 24 -- characters
local BURST, RATE = 5, 1

local function log_key(seq)
    return string.format("log:%012d", seq)
end

local function utf8_length(s)
    local _, n = s:gsub("[^\128-\191]", "")
    return n
end

-- A name is 1..MAX_NAME characters without control characters, trimmed.
local function check_name(name)
    name = type(name) == "string" and name:match("^%s*(.-)%s*$") or ""
    if name == "" then
        return nil, "pick a name"
    elseif utf8_length(name) > MAX_NAME or name:find("%c") then
        return nil, "a name is at most " .. MAX_NAME .. " characters, without control characters"
    end
    return name
end

local function name_of(conn)
    return conn.attachment and conn.attachment.name or "?"
end

-- Names of everyone in the room but `except` (a conn that is leaving).
local function present(room, except)
    local names = json.array({})
    for _, c in ipairs(room:connections()) do
        if c ~= except then
            names[#names + 1] = name_of(c)
        end
    end
    table.sort(names)
    return names
end

function Chat.init(room)
    local newest_first = room.storage:list({ prefix = "log:", reverse = true, limit = HISTORY })
    room.history = {}
    for i = #newest_first, 1, -1 do
        room.history[#room.history + 1] = newest_first[i].value
    end
    room.seq = tonumber(newest_first[1] and newest_first[1].key:sub(5)) or 0
    room.buckets = {} -- conn -> {tokens, at}: the rate limit, kept in memory only
end

-- Whether conn may send now: a token bucket of BURST, refilled RATE per second.
local function take_token(room, conn)
    local now = now_ms()
    local b = room.buckets[conn] or { tokens = BURST, at = now }
    room.buckets[conn] = b
    b.tokens = math.min(BURST, b.tokens + (now - b.at) / 1000 * RATE)
    b.at = now
    if b.tokens < 1 then
        return false
    end
    b.tokens = b.tokens - 1
    return true
end

local function remember(room, entry)
    room.seq = room.seq + 1
    room.storage:put(log_key(room.seq), entry)
    if room.seq > HISTORY then
        room.storage:delete(log_key(room.seq - HISTORY))
    end
    room.history[#room.history + 1] = entry
    if #room.history > HISTORY then
        table.remove(room.history, 1)
    end
end

function Chat.request(room, req)
    if req.rest ~= "" then
        return { status = 404, json = { error = "chat rooms have no sub-paths" } }
    elseif req.method ~= "GET" then
        return { status = 405, json = { error = "use GET, or join with a WebSocket" } }
    end
    return { json = { room = room.id, present = present(room), messages = #room.history } }
end

function Chat.join(room, conn, req)
    if req.rest ~= "" then
        return false, "chat rooms have no sub-paths"
    end
    -- With tokens configured (docs/operations.md), the name is the token's "name" claim.
    local name, err = check_name(conn.auth and conn.auth.name or req.query.name)
    if not name then
        return false, err
    end
    conn:set_attachment({ name = name })
    local names = present(room, conn) -- whether join sees conn among the connections or not
    names[#names + 1] = name
    table.sort(names)
    conn:send({ type = "welcome", you = name, present = names, history = json.array(room.history) })
    room:broadcast({ type = "join", name = name, present = names }, conn)
end

function Chat.message(room, conn, msg)
    local text = json.is_object(msg) and msg.text
    if type(text) ~= "string" or text:match("^%s*$") then
        return conn:send({ type = "error", error = 'send {"text": "..."} with some text' })
    elseif utf8_length(text) > MAX_TEXT then
        return conn:send({ type = "error", error = "message too long: at most " .. MAX_TEXT .. " characters" })
    elseif not take_token(room, conn) then
        return conn:send({ type = "error", error = "slow down: at most " .. RATE .. " message a second" })
    end
    local entry = { name = name_of(conn), text = text, t = now_ms() }
    remember(room, entry)
    room:broadcast({ type = "message", name = entry.name, text = text, t = entry.t })
end

function Chat.leave(room, conn)
    room.buckets[conn] = nil
    room:broadcast({ type = "leave", name = name_of(conn), present = present(room, conn) })
end

return Chat
