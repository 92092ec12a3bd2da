-- storage.lua: the methods of room.storage, a room's durable key-value store, as room scripts
-- see it (docs/lua-api.md). roomd runs this once per namespace VM, outside the sandbox, and
-- calls the function it returns with `own` and the limits; that gives the methods.
--
-- A room's storage object is a userdata made by rooms/storage_lua.c. Its state is a table no
-- script can reach: `own(self)` returns it, or raises when self is not a storage object, its room
-- has left memory, or the running turn is another room's. In it, `kv` maps each key to its
-- encoded value (loaded whole when the room starts, so reads never wait); writes go to `kv` and
-- to `dirty` (key -> encoded value, or false for a deletion); `cleared` (delete_all), `alarm`
-- (a time, or false) and `alarm_dirty`; and, for usage metering (rooms/usage.h), `reads` (keys
-- read since roomd last looked) and `bytes` (keys and values held). At the end of the turn roomd
-- checks `dirty` against the limits once more and writes it (and the alarm, if `alarm_dirty`) to
-- Redis as one MULTI/EXEC, holding the turn's output until Redis acknowledges it. Values are
-- encoded with LuaJIT's string.buffer (no JSON): tables, strings, numbers, booleans.
local buffer = require("string.buffer")
local encode, decode = buffer.encode, buffer.decode
local type, pairs, pcall, error, tostring = type, pairs, pcall, error, tostring
local floor, huge, sort, sub, format = math.floor, math.huge, table.sort, string.sub, string.format

return function(own, MAX_KEY, MAX_VALUE, MAX_KEYS)
    local Storage = {}

    local function check_key(key)
        if type(key) ~= "string" then
            error("storage keys are strings, not " .. type(key), 3)
        end
        if #key == 0 or #key > MAX_KEY then
            error(format("storage key is %d bytes; a key is 1 to %d bytes", #key, MAX_KEY), 3)
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
            error(format("storage value is %d bytes encoded, over the limit of %d", #bytes,
                MAX_VALUE), 3)
        end
        return bytes
    end

    -- The keys of a many-key call, checked.
    local function key_list(keys)
        local n = #keys
        if n > MAX_KEYS then
            error(format("%d keys in one storage call, over the limit of %d", n, MAX_KEYS), 3)
        end
        for i = 1, n do
            check_key(keys[i])
        end
        return n
    end

    local function get_one(st, key)
        local bytes = st.kv[key]
        st.reads = st.reads + 1
        if bytes ~= nil then
            return decode(bytes)
        end
    end

    -- get(key) -> value or nil; get({k1, k2, ...}) -> {k1 = v1, ...} (missing keys absent).
    function Storage.get(self, key)
        local st = own(self)
        if type(key) ~= "table" then
            check_key(key)
            return get_one(st, key)
        end
        local out = {}
        for i = 1, key_list(key) do
            out[key[i]] = get_one(st, key[i])
        end
        return out
    end

    local function put_one(st, key, bytes)
        local old = st.kv[key]
        st.bytes = st.bytes + #bytes - (old and #old or -#key)
        st.kv[key] = bytes
        st.dirty[key] = bytes
    end

    -- put(key, value); put({k1 = v1, ...}).
    function Storage.put(self, key, value)
        local st = own(self)
        if type(key) ~= "table" then
            check_key(key)
            put_one(st, key, encode_value(value))
            return
        end
        local encoded, n = {}, 0
        for k, v in pairs(key) do
            n = n + 1
            if n > MAX_KEYS then
                error(format("more than %d keys in one storage call", MAX_KEYS), 2)
            end
            check_key(k)
            encoded[k] = encode_value(v)
        end
        for k, bytes in pairs(encoded) do
            put_one(st, k, bytes)
        end
    end

    local function delete_one(st, key)
        local old = st.kv[key]
        local existed = old ~= nil
        if existed then
            st.bytes = st.bytes - #key - #old
        end
        st.kv[key] = nil
        st.dirty[key] = false
        return existed
    end

    -- delete(key) -> whether it existed; delete({k1, ...}) -> how many existed.
    function Storage.delete(self, key)
        local st = own(self)
        if type(key) ~= "table" then
            check_key(key)
            return delete_one(st, key)
        end
        local count = 0
        for i = 1, key_list(key) do
            if delete_one(st, key[i]) then
                count = count + 1
            end
        end
        return count
    end

    -- Deletes every key and the alarm.
    function Storage.delete_all(self)
        local st = own(self)
        st.kv = {}
        st.bytes = 0
        st.dirty = {}
        st.cleared = true
        st.alarm = false
        st.alarm_dirty = true
    end

    -- The room's one alarm: a time in milliseconds since the epoch (now_ms() gives now). Setting
    -- it replaces the one before; it fires even if the room left memory or roomd restarted.
    function Storage.set_alarm(self, time_ms)
        local st = own(self)
        if type(time_ms) ~= "number" or time_ms ~= time_ms or time_ms <= 0 or time_ms >= 2 ^ 53 then
            error("set_alarm takes a time in milliseconds since the epoch, like now_ms() + 1000", 2)
        end
        st.alarm = floor(time_ms)
        st.alarm_dirty = true
    end

    function Storage.get_alarm(self)
        return own(self).alarm or nil
    end

    function Storage.delete_alarm(self)
        local st = own(self)
        st.alarm = false
        st.alarm_dirty = true
    end

    -- list{prefix =, start =, ["end"] =, limit =, reverse =} -> array of {key =, value =} in key
    -- order (byte order); start is inclusive, end exclusive.
    function Storage.list(self, opts)
        local st = own(self)
        local kv = st.kv
        opts = opts or {}
        local prefix, first, last = opts.prefix, opts.start, opts["end"]
        local keys = {}
        for k in pairs(kv) do
            if (not prefix or sub(k, 1, #prefix) == prefix) and (not first or k >= first)
                and (not last or k < last) then
                keys[#keys + 1] = k
            end
        end
        sort(keys)
        local n, limit = #keys, opts.limit or huge
        local out = {}
        for i = 1, n do
            if #out >= limit then
                break
            end
            local k = opts.reverse and keys[n + 1 - i] or keys[i]
            out[#out + 1] = { key = k, value = decode(kv[k]) }
        end
        st.reads = st.reads + #out
        return out
    end

    return Storage
end
