-- hostile.lua: a room script that attacks roomd itself (tests/integration/test_hostile.py).
-- Each attack is an HTTP request POST /hostile/<id>/<attack>; the answer is
-- {"ok": true/false, "err": "<message>", ...} when the attack ran inside pcall and was refused
-- with an error, or the turn fails (500) when the attack is not caught.
--
-- Cross-room attacks: a WebSocket that joins /hostile/<A> leaves its conn, its room and its
-- storage in the module-level table `kept` (shared by every room of the namespace, which is the
-- point). POST /hostile/<B>/other_<op>?target=<A> then uses A's objects from B's turn.
-- A room whose id starts with "spin-init" loops in init. A message {"spin": true} loops.
local Hostile = {}

local kept = {} -- room id -> {conn =, room =, storage =}

function Hostile.init(room)
    if room.id:match("^spin%-init") then
        while true do -- luacheck: ignore
        end
    end
    room.hits = 0
end

function Hostile.join(room, conn)
    kept[room.id] = { conn = conn, room = room, storage = room.storage }
end

function Hostile.message(room, conn, msg)
    if msg.spin then
        while true do -- a runaway message turn: the sender must hear of its failure
        end
    end
    conn:send({ echo = msg, room = room.id })
end

-- Uses A's objects from this (B's) turn.
local other = {}

function other.send(k)
    local ok, why = k.conn:send({ from = "another room" })
    return why or ok
end

function other.close(k)
    return k.conn:close(1000, "closed by another room")
end

function other.tag(k)
    return k.conn:tag("x")
end

function other.attach(k)
    return k.conn:set_attachment({ x = 1 })
end

function other.broadcast(k)
    return k.room:broadcast({ from = "another room" })
end

function other.connections(k)
    return #k.room:connections()
end

function other.put(k)
    return k.storage:put("stolen", true)
end

function other.get(k)
    return k.storage:get("stolen")
end

function other.fields(k)
    return { id = k.room.id, conn_id = k.conn.id, tags = k.conn.tags }
end

-- Writes (its checkpoint takes a while: ?puts= values of 100 kB), then floods A's conn past
-- its send queue, which closes it: A's leave frees the conn while this turn's output to it is
-- still held.
function other.flood(k, room, req)
    local chunk = ("x"):rep(100000)
    for i = 1, tonumber(req.query.puts) or 2 do
        room.storage:put("big" .. i, chunk .. i)
    end
    for _ = 1, 30 do
        k.conn:send({ chunk })
    end
    return true
end

-- Recursion through C functions that call back into Lua.
local recurse = {}

function recurse.gsub()
    local function f(s)
        return (s:gsub(".", f))
    end
    return f("ab")
end

function recurse.gsub_table()
    local t = setmetatable({}, {})
    getmetatable(t).__index = function(_, key)
        return (key:gsub(".", t))
    end
    return ("ab"):gsub(".", t)
end

function recurse.sort()
    local function cmp(a, b)
        table.sort({ 3, 2, 1 }, cmp)
        return a < b
    end
    table.sort({ 3, 2, 1 }, cmp)
end

function recurse.lt()
    local mt = {}
    mt.__lt = function(a, b)
        table.sort({ setmetatable({}, mt), setmetatable({}, mt) })
        return rawequal(a, b)
    end
    table.sort({ setmetatable({}, mt), setmetatable({}, mt) })
end

function recurse.format()
    local t = setmetatable({}, {})
    getmetatable(t).__tostring = function(self)
        return string.format("%s", self)
    end
    return string.format("%s", t)
end

function recurse.tostring()
    local t = setmetatable({}, {})
    getmetatable(t).__tostring = function(self)
        return "<" .. tostring(self) .. ">"
    end
    return tostring(t)
end

function recurse.os_time()
    local t = setmetatable({}, {})
    getmetatable(t).__index = function(self)
        return os.time(self)
    end
    return os.time(t)
end

function recurse.xpcall()
    local function handler(e)
        return select(2, xpcall(error, handler, e))
    end
    local function f()
        return select(2, xpcall(error, handler, "x"))
    end
    return f()
end

-- Runaway turns the CPU limit must stop.
local runaway = {}

local function spin()
    while true do -- luacheck: ignore
    end
end

function runaway.xpcall_handler()
    return xpcall(spin, spin)
end

function runaway.nested_pcall()
    while true do
        pcall(pcall, xpcall, spin, function()
            pcall(spin)
            spin()
        end)
    end
end

function runaway.tostring_error()
    local e = setmetatable({}, { __tostring = spin })
    while true do
        pcall(function()
            error(e)
        end)
        pcall(tostring, e)
    end
end

function runaway.error_object()
    error(setmetatable({}, { __tostring = spin }))
end

function runaway.pattern()
    return ("a"):rep(200):match((".-"):rep(4) .. "b")
end

function runaway.pattern_pcall()
    while true do
        pcall(string.find, ("a"):rep(5000), (".-"):rep(8) .. "b")
    end
end

function runaway.gsub()
    return (("a"):rep(300):gsub((".-"):rep(4) .. "b", "x"))
end

function runaway.gmatch()
    for _ in ("a"):rep(300):gmatch((".-"):rep(4) .. "b") do -- luacheck: ignore
    end
end

function runaway.sort()
    local t = {}
    for i = 1, 2000000 do
        t[i] = (i * 7919) % 1000003
    end
    for _ = 1, 100 do
        table.sort(t)
        table.sort(t, function(a, b)
            return a > b
        end)
    end
end

function runaway.json_encode()
    local x = { 1 }
    for _ = 1, 60 do
        x = { x, x }
    end
    return json.encode(x)
end

function runaway.send_encode(room, conn)
    local x = { 1 }
    for _ = 1, 60 do
        x = { x, x }
    end
    return (conn or room):broadcast(x)
end

function runaway.storage_encode(room)
    local x = { "x" }
    for _ = 1, 60 do
        x = { x, x }
    end
    return room.storage:put("dag", x)
end

-- Storage internals a script must not reach.
local internals = {}

function internals.dirty_table_key(room)
    rawset(room.storage._dirty, {}, "v")
end

function internals.dirty_bool_key(room)
    rawset(room.storage._dirty, true, "v")
end

function internals.big_key(room)
    rawset(room.storage._dirty, ("k"):rep(100000), "v")
end

function internals.big_value(room)
    rawset(room.storage._kv, "k", ("v"):rep(5000000))
    rawset(room.storage._dirty, "k", ("v"):rep(5000000))
end

function internals.fields(room)
    local s = room.storage
    return { s._kv == nil, s._dirty == nil, s._alarm == nil, s._cleared == nil }
end

function internals.list(room)
    return #room.storage:list()
end

function internals.rawset_storage(room)
    rawset(room.storage, "_dirty", { k = "v" })
end

local function answer(ok, result, extra)
    local out = { ok = ok }
    if ok then
        out.result = result
    else
        out.err = tostring(result)
    end
    for k, v in pairs(extra or {}) do
        out[k] = v
    end
    return { json = out }
end

function Hostile.request(room, req)
    local group, name = req.rest:match("^(%a+)_([%w_]+)$")
    if req.rest == "" then
        if req.method == "POST" then
            room.hits = room.hits + 1
        end
        return { json = { hits = room.hits } }
    elseif group == "other" then
        local k = kept[req.query.target]
        if not k then
            return { status = 404, json = { error = "no such kept room" } }
        end
        return answer(pcall(other[name], k, room, req))
    elseif group == "recurse" then
        return answer(pcall(recurse[name]))
    elseif group == "runaway" then
        room.hits = room.hits + 1000 -- must not survive the failed turn
        return answer(true, runaway[name](room))
    elseif group == "internals" then
        return answer(true, internals[name](room))
    end
    return { status = 404, json = { error = "no such attack" } }
end

return Hostile
