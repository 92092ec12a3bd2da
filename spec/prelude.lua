-- prelude.lua: what a spec file sees (docs/testing-rooms.md): describe, it,
-- before_each, expect, and `t`, the rooms. roomd runs it once in the spec
-- state with the native functions (spec/harness_lua.c) and the json module;
-- it returns run_file(path), which runs one spec file and prints a line per
-- test, returning how many passed and failed.
--
-- Every `it` starts from nothing: no room in memory, storage empty, every
-- namespace on a fresh VM, the clock at 2024-01-01T00:00:00Z. A failure is
-- reported at the spec's own line: assertions raise at their caller's level,
-- and any other error is placed at the innermost frame of the spec file.
local native, json = ...
local buffer = require("string.buffer")

local function fail(err, level)
    error(err, level + 1)
end

-- ---- values shown in messages ----

local show

local function show_table(v, seen)
    if seen[v] then
        return "<cycle>"
    end
    seen[v] = true
    local keys, parts = {}, {}
    for k in pairs(v) do
        keys[#keys + 1] = k
    end
    table.sort(keys, function(a, b)
        if type(a) == type(b) and (type(a) == "number" or type(a) == "string") then
            return a < b
        end
        return type(a) < type(b)
    end)
    local n = #v
    for _, k in ipairs(keys) do
        if type(k) == "number" and k >= 1 and k <= n and k % 1 == 0 then
            parts[#parts + 1] = show(v[k], seen)
        elseif type(k) == "string" and k:match("^[%a_][%w_]*$") then
            parts[#parts + 1] = k .. " = " .. show(v[k], seen)
        else
            parts[#parts + 1] = "[" .. show(k, seen) .. "] = " .. show(v[k], seen)
        end
    end
    seen[v] = nil
    return "{" .. table.concat(parts, ", ") .. "}"
end

function show(v, seen)
    if v == json.null then
        return "json.null"
    elseif type(v) == "string" then
        return string.format("%q", v)
    elseif type(v) == "table" then
        return show_table(v, seen or {})
    end
    return tostring(v)
end

-- ---- expect ----

-- Deep equality: tables by their keys and values (json.array/json.object marks ignored).
local function equal(a, b)
    if a == b then
        return true
    end
    if type(a) ~= "table" or type(b) ~= "table" then
        return false
    end
    for k, v in pairs(a) do
        if not equal(v, b[k]) then
            return false
        end
    end
    for k in pairs(b) do
        if a[k] == nil then
            return false
        end
    end
    return true
end

local function contains(haystack, needle)
    if type(haystack) == "string" then
        return type(needle) == "string" and haystack:find(needle, 1, true) ~= nil
    end
    if type(haystack) == "table" then
        for _, v in ipairs(haystack) do
            if equal(v, needle) then
                return true
            end
        end
    end
    return false
end

local function expect(actual)
    local e = {}
    local function check(ok, message)
        if not ok then
            fail(message, 3)
        end
    end
    function e.to_equal(expected)
        check(equal(actual, expected), "expected " .. show(expected) .. ", got " .. show(actual))
    end
    function e.to_not_equal(other)
        check(not equal(actual, other), "expected anything but " .. show(other))
    end
    function e.to_be_truthy()
        check(actual, "expected a true value, got " .. show(actual))
    end
    function e.to_be_falsy()
        check(not actual, "expected false or nil, got " .. show(actual))
    end
    function e.to_be_nil()
        check(actual == nil, "expected nil, got " .. show(actual))
    end
    function e.to_contain(item)
        check(contains(actual, item), show(actual) .. " does not contain " .. show(item))
    end
    function e.to_match(pattern)
        check(type(actual) == "string" and actual:match(pattern),
            show(actual) .. " does not match " .. show(pattern))
    end
    function e.to_be_greater_than(n)
        check(type(actual) == "number" and actual > n,
            "expected more than " .. show(n) .. ", got " .. show(actual))
    end
    function e.to_be_less_than(n)
        check(type(actual) == "number" and actual < n,
            "expected less than " .. show(n) .. ", got " .. show(actual))
    end
    -- expect(fn).to_fail([pattern]): fn raises (an error matching pattern).
    function e.to_fail(pattern)
        local ok, err = pcall(actual)
        check(not ok, "expected an error, but it returned")
        check(not pattern or tostring(err):match(pattern),
            "the error " .. show(tostring(err)) .. " does not match " .. show(pattern))
    end
    return e
end

-- ---- rooms and connections ----

local Room, Conn, Storage = {}, {}, {}
Room.__index, Conn.__index, Storage.__index = Room, Conn, Storage

-- Raises err at the spec's line (level 3: the caller of the method that called this).
local function must(ok, err, ...)
    if ok == nil then
        fail(err, 3)
    end
    return ok, err, ...
end

local function lower_keys(t)
    local out = {}
    for k, v in pairs(t or {}) do
        out[type(k) == "string" and k:lower() or k] = tostring(v)
    end
    return out
end

local function strings(t)
    local out = {}
    for k, v in pairs(t or {}) do
        out[tostring(k)] = tostring(v)
    end
    return out
end

local function claims(auth)
    return auth and json.encode(auth) or nil
end

-- opts: rest, query, headers, body (a string) or json (a value, sent as application/json), auth.
local function request(room, method, opts)
    opts = opts or {}
    local headers, body = lower_keys(opts.headers), opts.body
    if opts.json ~= nil then
        body = json.encode(opts.json)
        headers["content-type"] = headers["content-type"] or "application/json"
    end
    local status, res_headers, res_body = native.request(room.namespace, room.id, method,
        opts.rest or "", strings(opts.query), headers, body, claims(opts.auth))
    if status == nil then
        return nil, res_headers
    end
    local res = { status = status, headers = res_headers, body = res_body }
    if res_headers["content-type"]:find("^application/json") then
        res.json = json.decode(res_body)
    end
    return res
end

function Room:request(method, opts)
    return (must(request(self, method, opts)))
end

function Room:get(opts)
    return (must(request(self, "GET", opts)))
end

function Room:post(opts)
    return (must(request(self, "POST", opts)))
end

-- opts: rest, query, headers, auth.
function Room:connect(opts)
    opts = opts or {}
    local h = must(native.connect(self.namespace, self.id, opts.rest or "", strings(opts.query),
        lower_keys(opts.headers), claims(opts.auth)))
    return setmetatable({ handle = h, id = native.conn_id(h), inbox = {} }, Conn)
end

-- Drops the room's Lua instance: its next event runs init from storage. Conns stay open.
function Room:restart()
    must(native.restart(self.namespace, self.id))
end

local function take(conn)
    for _, text in ipairs(native.take(conn.handle)) do
        local v = json.decode(text)
        if v == nil then
            v = text
        end
        conn.inbox[#conn.inbox + 1] = v
    end
end

-- Sends value as JSON text.
function Conn:send(value)
    must(native.send(self.handle, json.encode(value), false))
end

-- Sends text as it is (a text frame), or as a binary frame.
function Conn:send_text(text)
    must(native.send(self.handle, text, false))
end

function Conn:send_binary(bytes)
    must(native.send(self.handle, bytes, true))
end

-- Every message received since the last call, oldest first (decoded JSON; text that is not
-- JSON as a string).
function Conn:received()
    take(self)
    local all = self.inbox
    self.inbox = {}
    return all
end

-- The oldest message not taken yet, or nil.
function Conn:receive()
    take(self)
    return table.remove(self.inbox, 1)
end

function Conn:close(code, reason)
    must(native.close(self.handle, code or 1000, reason or ""))
end

-- nil while open; else {code =, reason =, by_room = whether the room closed it}.
function Conn:closed()
    local code, reason, by_room = native.closed(self.handle)
    if code then
        return { code = code, reason = reason, by_room = by_room }
    end
end

-- ---- storage, read and written in Redis as roomd stores it ----

local function hash_key(st)
    return (must(native.keys(st.room.namespace, st.room.id)))
end

function Storage:get(key)
    local bytes = native.command("HGET", hash_key(self), key)
    if type(bytes) == "string" then
        return buffer.decode(bytes)
    end
end

-- Every stored key and its value, as a table.
function Storage:all()
    local out, flat = {}, must(native.command("HGETALL", hash_key(self)))
    for i = 1, #flat, 2 do
        out[flat[i]] = buffer.decode(flat[i + 1])
    end
    return out
end

-- Writes behind the room's back, so the room restarts first: its next event loads the value.
function Storage:put(key, value)
    must(native.restart(self.room.namespace, self.room.id))
    must(native.command("HSET", hash_key(self), key, buffer.encode(value)))
end

function Storage:delete(key)
    must(native.restart(self.room.namespace, self.room.id))
    return must(native.command("HDEL", hash_key(self), key)) == 1
end

-- The room's alarm time (ms since the epoch, on the test's clock), or nil.
function Storage:get_alarm()
    local _, index, member = must(native.keys(self.room.namespace, self.room.id))
    local score = native.command("ZSCORE", index, member)
    return type(score) == "string" and tonumber(score) or nil
end

-- ---- t ----

local t = {}

function t.room(namespace, id)
    local room = setmetatable({ namespace = namespace, id = id }, Room)
    room.storage = setmetatable({ room = room }, Storage)
    must(native.keys(namespace, id)) -- an unknown namespace or a bad id fails here
    return room
end

-- Moves the clock ms forward, running every alarm due on the way in time order.
function t.advance(ms)
    must(native.advance(ms))
end

function t.now()
    return native.now()
end

-- ---- describe / it ----

local function spec_location(path, err)
    if type(err) == "string" and err:find(path, 1, true) then
        return err
    end
    for level = 3, 40 do
        local info = debug.getinfo(level, "Sl")
        if not info then
            break
        end
        if info.short_src == path and info.currentline > 0 then
            return path .. ":" .. info.currentline .. ": " .. tostring(err)
        end
    end
    return tostring(err)
end

local function run_file(path)
    local tests, scope = {}, { befores = {} }
    local chunk, err = loadfile(path)
    if not chunk then
        print("FAIL " .. err)
        return 0, 1
    end
    local env = setmetatable({ t = t, json = json, expect = expect }, { __index = _G })
    function env.describe(name, fn)
        local outer = scope
        scope = { name = name, parent = outer, befores = {} }
        fn()
        scope = outer
    end
    function env.it(name, fn)
        tests[#tests + 1] = { name = name, fn = fn, scope = scope }
    end
    function env.before_each(fn)
        table.insert(scope.befores, fn)
    end
    setfenv(chunk, env)
    local ok, load_err = xpcall(chunk, function(e)
        return spec_location(path, e)
    end)
    if not ok then
        print("FAIL " .. path .. "\n     " .. load_err)
        return 0, 1
    end
    print(path)
    local passed, failed = 0, 0
    for _, test in ipairs(tests) do
        local names, befores, s = { test.name }, {}, test.scope
        while s do
            if s.name then
                table.insert(names, 1, s.name)
            end
            for i = #s.befores, 1, -1 do
                table.insert(befores, 1, s.befores[i])
            end
            s = s.parent
        end
        local title = table.concat(names, " > ")
        must(native.reset())
        local test_ok, test_err = xpcall(function()
            for _, fn in ipairs(befores) do
                fn()
            end
            test.fn()
        end, function(e)
            return spec_location(path, e)
        end)
        if test_ok then
            passed = passed + 1
            print("  ok   " .. title)
        else
            failed = failed + 1
            print("  FAIL " .. title .. "\n       " .. test_err)
        end
    end
    return passed, failed
end

return run_file
