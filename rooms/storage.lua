-- storage.lua: room.storage, a room's durable key-value store, as room
-- scripts see it (docs/lua-api.md). roomd runs this once per namespace VM,
-- outside the sandbox, and keeps the constructor it returns.
--
-- A room's storage is loaded whole when the room starts: `_kv` maps each key
-- to its encoded value, so reads never wait. Writes go to `_kv` and to
-- `_dirty` (key -> encoded value, or false for a deletion); at the end of
-- the turn roomd writes `_dirty` (and `_alarm` if `_alarm_dirty`) to Redis
-- as one MULTI/EXEC and holds the turn's output until Redis acknowledges it.
-- Values are encoded with LuaJIT's string.buffer (no JSON): tables,
-- strings, numbers, booleans.
local buffer = require("string.buffer")
local encode, decode = buffer.encode, buffer.decode

local MAX_KEY, MAX_VALUE, MAX_KEYS = 2048, 131072, 128

local Storage = {}
Storage.__index = Storage
Storage.__metatable = false

local function check_key(key)
    if type(key) ~= "string" then
        error("storage keys are strings, not " .. type(key), 3)
    end
    if #key == 0 or #key > MAX_KEY then
        error(("storage key is %d bytes; a key is 1 to %d bytes"):format(#key, MAX_KEY), 3)
    end
end

local function encode_value(value)
    if value == nil then
        error("storage cannot put nil: use delete", 3)
    end
    local ok, bytes = pcall(encode, value)
    if not ok then
        error("storage value cannot be stored (" .. tostring(bytes) ..
            "): use tables, strings, numbers and booleans, without cycles", 3)
    end
    if #bytes > MAX_VALUE then
        error(("storage value is %d bytes encoded, over the limit of %d"):format(#bytes, MAX_VALUE), 3)
    end
    return bytes
end

-- The keys of a many-key call, checked.
local function key_list(keys)
    local n = #keys
    if n > MAX_KEYS then
        error(("%d keys in one storage call, over the limit of %d"):format(n, MAX_KEYS), 3)
    end
    for i = 1, n do
        check_key(keys[i])
    end
    return n
end

local function get_one(self, key)
    local bytes = self._kv[key]
    if bytes ~= nil then
        return decode(bytes)
    end
end

-- get(key) -> value or nil; get({k1, k2, ...}) -> {k1 = v1, ...} (missing keys absent).
function Storage:get(key)
    if type(key) ~= "table" then
        check_key(key)
        return get_one(self, key)
    end
    local out = {}
    for i = 1, key_list(key) do
        out[key[i]] = get_one(self, key[i])
    end
    return out
end

local function put_one(self, key, bytes)
    self._kv[key] = bytes
    self._dirty[key] = bytes
end

-- put(key, value); put({k1 = v1, ...}).
function Storage:put(key, value)
    if type(key) ~= "table" then
        check_key(key)
        put_one(self, key, encode_value(value))
        return
    end
    local encoded, n = {}, 0
    for k, v in pairs(key) do
        n = n + 1
        if n > MAX_KEYS then
            error(("more than %d keys in one storage call"):format(MAX_KEYS), 2)
        end
        check_key(k)
        encoded[k] = encode_value(v)
    end
    for k, bytes in pairs(encoded) do
        put_one(self, k, bytes)
    end
end

local function delete_one(self, key)
    local existed = self._kv[key] ~= nil
    self._kv[key] = nil
    self._dirty[key] = false
    return existed
end

-- delete(key) -> whether it existed; delete({k1, ...}) -> how many existed.
function Storage:delete(key)
    if type(key) ~= "table" then
        check_key(key)
        return delete_one(self, key)
    end
    local count = 0
    for i = 1, key_list(key) do
        if delete_one(self, key[i]) then
            count = count + 1
        end
    end
    return count
end

-- Deletes every key and the alarm.
function Storage:delete_all()
    self._kv = {}
    self._dirty = {}
    self._cleared = true
    self:delete_alarm()
end

-- The room's one alarm: a time in milliseconds since the epoch (now_ms() gives now). Setting
-- it replaces the one before; it fires even if the room left memory or roomd restarted.
function Storage:set_alarm(time_ms)
    if type(time_ms) ~= "number" or time_ms ~= time_ms or time_ms <= 0 or time_ms >= 2 ^ 53 then
        error("set_alarm takes a time in milliseconds since the epoch, like now_ms() + 1000", 2)
    end
    self._alarm = math.floor(time_ms)
    self._alarm_dirty = true
end

function Storage:get_alarm()
    return self._alarm
end

function Storage:delete_alarm()
    self._alarm = nil
    self._alarm_dirty = true
end

-- list{prefix =, start =, ["end"] =, limit =, reverse =} -> array of {key =, value =} in key
-- order (byte order); start is inclusive, end exclusive.
function Storage:list(opts)
    opts = opts or {}
    local prefix, first, last = opts.prefix, opts.start, opts["end"]
    local keys = {}
    for k in pairs(self._kv) do
        if (not prefix or k:sub(1, #prefix) == prefix) and (not first or k >= first)
            and (not last or k < last) then
            keys[#keys + 1] = k
        end
    end
    table.sort(keys)
    local n, limit = #keys, opts.limit or math.huge
    local out = {}
    for i = 1, n do
        if #out >= limit then
            break
        end
        local k = opts.reverse and keys[n + 1 - i] or keys[i]
        out[#out + 1] = { key = k, value = decode(self._kv[k]) }
    end
    return out
end

-- The constructor roomd keeps: a room's storage over its loaded key -> bytes table and alarm.
return function(kv, alarm)
    return setmetatable({ _kv = kv, _dirty = {}, _cleared = false, _alarm = alarm,
        _alarm_dirty = false }, Storage)
end
