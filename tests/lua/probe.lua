-- probe.lua: what a room script's sandbox holds, for tests/integration/test_editor_types.py,
-- which checks docs/types/ (the editor annotations and the luacheck settings) against it.
-- HTTP: answers {globals = [...], libs = {name = [...]}, room = {...}, storage = {...},
-- req = {...}}: which of the names below a script can read as globals, the fields of each
-- library table, and the Lua type of room[name], room.storage[name] and req[name] for each
-- name the query's "room", "storage" and "req" list (comma separated).
-- WebSocket: join sends {conn = {...}}, the same for conn and the upgrade request's "conn".
local Probe = {}

-- Every global of LuaJIT's standard environment, and roomd's own.
local GLOBALS = {
    _G = function() return _G end,
    _VERSION = function() return _VERSION end,
    arg = function() return arg end,
    assert = function() return assert end,
    bit = function() return bit end,
    collectgarbage = function() return collectgarbage end,
    coroutine = function() return coroutine end,
    debug = function() return debug end,
    dofile = function() return dofile end,
    error = function() return error end,
    gcinfo = function() return gcinfo end,
    getfenv = function() return getfenv end,
    getmetatable = function() return getmetatable end,
    io = function() return io end,
    ipairs = function() return ipairs end,
    jit = function() return jit end,
    json = function() return json end,
    load = function() return load end,
    loadfile = function() return loadfile end,
    loadstring = function() return loadstring end,
    math = function() return math end,
    module = function() return module end,
    newproxy = function() return newproxy end,
    next = function() return next end,
    now_ms = function() return now_ms end,
    os = function() return os end,
    package = function() return package end,
    pairs = function() return pairs end,
    pcall = function() return pcall end,
    print = function() return print end,
    rawequal = function() return rawequal end,
    rawget = function() return rawget end,
    rawset = function() return rawset end,
    require = function() return require end,
    select = function() return select end,
    setfenv = function() return setfenv end,
    setmetatable = function() return setmetatable end,
    string = function() return string end,
    table = function() return table end,
    tonumber = function() return tonumber end,
    tostring = function() return tostring end,
    type = function() return type end,
    unpack = function() return unpack end,
    xpcall = function() return xpcall end,
}

local function sorted_array(t)
    table.sort(t)
    return json.array(t)
end

local function readable_globals()
    local out = {}
    for name, read in pairs(GLOBALS) do
        local ok, value = pcall(read)
        if ok and value ~= nil then
            out[#out + 1] = name
        end
    end
    return sorted_array(out)
end

local function lib_fields()
    local out = {}
    for _, name in ipairs({ "string", "table", "math", "bit", "os", "json" }) do
        local ok, lib = pcall(GLOBALS[name])
        if ok and type(lib) == "table" then
            local fields = {}
            for k in pairs(lib) do
                fields[#fields + 1] = k
            end
            out[name] = sorted_array(fields)
        end
    end
    return out
end

-- {name = type(obj[name])} for each name in the comma-separated list.
local function member_types(obj, list)
    local out = json.object({})
    for name in (list or ""):gmatch("[^,]+") do
        out[name] = type(obj[name])
    end
    return out
end

function Probe.request(room, req)
    return {
        json = {
            globals = readable_globals(),
            libs = lib_fields(),
            room = member_types(room, req.query.room),
            storage = member_types(room.storage, req.query.storage),
            req = member_types(req, req.query.req),
        },
    }
end

function Probe.join(_, conn, req)
    conn:send({ conn = member_types(conn, req.query.conn) })
end

return Probe
