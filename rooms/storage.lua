-- storage.lua: the methods of room.storage, a room's durable key-value store, as room scripts
-- see it (docs/lua-api.md). roomd runs this once per namespace VM, outside the sandbox, and
-- calls the function it returns with `own` and the limits; that gives the methods.
--
-- A room's storage object is a userdata made by rooms/storage_lua.c. Its state is a table no
-- script can reach: `own(self)` returns it, or raises when self is not a storage object, its room
-- has left memory, or the running turn is another room's. In it, `kv` maps each key to its
-- encoded value (loaded whole when the room starts, so reads never wait); writes go to `kv` and
-- to `dirty` (key -> encoded value, or false for a deletion); `cleared` (delete_all); the named
-- alarms (`alarms`, `n_alarms`, `alarm_changes`, `alarm_dirty`, `firing`, `legacy`: see the
-- alarm functions below); and, for usage metering (rooms/usage.h), `reads` (keys read since
-- roomd last looked) and `bytes` (keys and values held). At the end of the turn roomd checks
-- `dirty` against the limits once more and writes it (and the changed alarms, if `alarm_dirty`)
-- to Redis as one MULTI/EXEC, holding the turn's output until Redis acknowledges it. Values are
-- encoded with LuaJIT's string.buffer (no JSON): tables, strings, numbers, booleans. The factory
-- returns the methods and, second, the internal alarm functions roomd calls (scripts never see
-- them).
local buffer = require("string.buffer")
local encode, decode = buffer.encode, buffer.decode
local type, pairs, pcall, error, tostring, tonumber = type, pairs, pcall, error, tostring, tonumber
local floor, huge, sort, sub, format = math.floor, math.huge, table.sort, string.sub, string.format

return function(own, MAX_KEY, MAX_VALUE, MAX_KEYS, MAX_ALARMS, MAX_NAME, MAX_PAYLOAD, retry_at)
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

    -- Alarms: st.alarms maps each name to its record {time =, payload = encoded bytes or nil,
    -- every = ms or nil, retries = failed runs, period = the scheduled time a retry belongs to};
    -- st.n_alarms counts them; st.alarm_changes holds the names changed since the last
    -- checkpoint, st.alarm_dirty whether there is any. The alarm named "" is the one of the
    -- unnamed calls (set_alarm(time_ms) and the others).

    -- Sets (rec) or deletes (nil) alarm name; returns whether it existed. Raises at the caller's
    -- caller past the limit, unless forced (roomd's own retries and re-arms).
    local function change_alarm(st, name, rec, forced)
        local old = st.alarms[name]
        if rec and not old then
            if st.n_alarms >= MAX_ALARMS and not forced then
                error(format("the room has %d alarms, the limit: delete one first", MAX_ALARMS), 3)
            end
            st.n_alarms = st.n_alarms + 1
        elseif old and not rec then
            st.n_alarms = st.n_alarms - 1
        end
        st.alarms[name] = rec
        st.alarm_changes[name] = true
        st.alarm_dirty = true
        local firing = st.firing
        if firing and firing.name == name and not forced then
            firing.touched = true -- the handler chose: a repeating alarm is not re-armed
        end
        return old ~= nil
    end

    -- Deletes every key and every alarm.
    function Storage.delete_all(self)
        local st = own(self)
        st.kv = {}
        st.bytes = 0
        st.dirty = {}
        st.cleared = true
        for name in pairs(st.alarms) do
            change_alarm(st, name, nil)
        end
    end

    local function check_name(name)
        if type(name) ~= "string" then
            error("alarm names are strings, not " .. type(name), 3)
        end
        if #name > MAX_NAME then
            error(format("alarm name is %d bytes; a name is at most %d", #name, MAX_NAME), 3)
        end
    end

    local function check_time(time_ms, what)
        if type(time_ms) ~= "number" or time_ms ~= time_ms or time_ms <= 0 or time_ms >= 2 ^ 53 then
            error(what .. " is a time in milliseconds since the epoch, like now_ms() + 1000", 3)
        end
        return floor(time_ms)
    end

    local function encode_payload(payload)
        if payload == nil then
            return nil
        end
        local ok, bytes = pcall(encode, payload)
        if not ok then
            error("alarm payload cannot be stored (" .. tostring(bytes) ..
                "): use tables, strings, numbers and booleans, without cycles", 3)
        end
        if #bytes > MAX_PAYLOAD then
            error(format("alarm payload is %d bytes encoded, over the limit of %d", #bytes,
                MAX_PAYLOAD), 3)
        end
        return bytes
    end

    local function check_every(options)
        if options == nil then
            return nil
        end
        if type(options) ~= "table" then
            error("set_alarm options are a table like {every_ms = 60000}", 3)
        end
        local every = options.every_ms
        if every ~= nil and (type(every) ~= "number" or every ~= every or every < 1
            or every >= 2 ^ 53) then
            error("every_ms is a period in milliseconds, at least 1", 3)
        end
        return every and floor(every)
    end

    -- set_alarm(name, time_ms [, payload [, {every_ms = N}]]); set_alarm(time_ms) sets the
    -- alarm named "" (the unnamed one of scripts from before named alarms). Replaces the alarm
    -- of that name.
    function Storage.set_alarm(self, name, time_ms, payload, options)
        local st = own(self)
        if time_ms == nil and type(name) == "number" then
            name, time_ms = "", name
        end
        check_name(name)
        local rec = { time = check_time(time_ms, "set_alarm's time"), retries = 0 }
        rec.payload = encode_payload(payload)
        rec.every = check_every(options)
        change_alarm(st, name, rec)
    end

    -- get_alarm([name]) -> time_ms, payload; or nil.
    function Storage.get_alarm(self, name)
        local st = own(self)
        name = name == nil and "" or name
        check_name(name)
        local rec = st.alarms[name]
        st.reads = st.reads + 1
        if rec then
            return rec.time, rec.payload and decode(rec.payload)
        end
    end

    -- delete_alarm([name]) -> whether it existed.
    function Storage.delete_alarm(self, name)
        local st = own(self)
        name = name == nil and "" or name
        check_name(name)
        return change_alarm(st, name, nil)
    end

    local function before(a, b)
        return a.time_ms < b.time_ms or (a.time_ms == b.time_ms and a.name < b.name)
    end

    -- list_alarms() -> array of {name =, time_ms =, payload =, every_ms =} in time order (then
    -- name order).
    function Storage.list_alarms(self)
        local st = own(self)
        local out = {}
        for name, rec in pairs(st.alarms) do
            out[#out + 1] = { name = name, time_ms = rec.time, every_ms = rec.every,
                payload = rec.payload and decode(rec.payload) }
        end
        sort(out, before)
        st.reads = st.reads + #out
        return out
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

    -- What roomd itself does with a room's alarms (rooms/storage_lua.c calls these; scripts
    -- cannot reach them).
    local Internal = {}

    -- The name of the alarm due by now that comes first (time, then name), or nil.
    local function first_due(st, now)
        local best, best_time
        for name, rec in pairs(st.alarms) do
            local t = rec.time
            if t <= now and (not best or t < best_time or (t == best_time and name < best)) then
                best, best_time = name, t
            end
        end
        return best
    end

    local function earliest(st)
        local first = 0
        for _, rec in pairs(st.alarms) do
            if first == 0 or rec.time < first then
                first = rec.time
            end
        end
        return first
    end

    -- Removes the first due alarm (the turn's checkpoint stores that) and returns the alarm
    -- handler's info, or nil when none is due (then the checkpoint stores the room's earliest
    -- alarm in the index again, so a stale entry there does not wake the room on every poll).
    function Internal.take_due(st, now)
        local name = first_due(st, now)
        if not name then
            st.alarm_dirty = true
            return nil
        end
        local rec = st.alarms[name]
        change_alarm(st, name, nil, true)
        st.firing = { name = name, rec = rec }
        local info = { name = name, retry_count = rec.retries }
        if rec.payload then
            info.payload = decode(rec.payload)
        end
        return info
    end

    -- The next run of a repeating alarm: its period's time plus whole periods, after now.
    local function rearm(st, name, rec, now)
        local period = rec.period or rec.time
        local k = floor((now - period) / rec.every) + 1
        if k < 1 then
            k = 1
        end
        change_alarm(st, name, { time = period + k * rec.every, payload = rec.payload,
            every = rec.every, retries = 0 }, true)
    end

    -- The end of an alarm turn (ok: the handler did not raise). A failed run is retried at
    -- retry_at(failed runs, now), or dropped past the retries; a repeating alarm that
    -- succeeded (or was dropped) is re-armed unless its handler set or deleted it. Returns
    -- "retried", "dropped" or "done" (or nil when no alarm ran), the alarm's name and failed
    -- runs, and whether another alarm is due now.
    function Internal.done(st, ok, now)
        local firing = st.firing
        if not firing and not ok then -- the room failed to start: the first due alarm's run failed
            if not Internal.take_due(st, now) then
                return nil
            end
            firing = st.firing
        end
        st.firing = nil
        if not firing then
            return nil
        end
        local name, rec, outcome = firing.name, firing.rec, "done"
        if not ok then
            local failed = rec.retries + 1
            local when = retry_at(failed, now)
            if when > 0 then
                change_alarm(st, name, { time = when, payload = rec.payload, every = rec.every,
                    retries = failed, period = rec.period or rec.time }, true)
                return "retried", name, failed, first_due(st, now) ~= nil
            end
            outcome = "dropped"
        end
        if rec.every and not firing.touched then
            rearm(st, name, rec, now)
        end
        return outcome, name, rec.retries + (ok and 0 or 1), first_due(st, now) ~= nil
    end

    -- The extras of an alarm beyond its time, encoded, or false when it has none.
    local function extras(rec)
        if not (rec.payload or rec.every or rec.retries > 0 or rec.period) then
            return false
        end
        return encode({ p = rec.payload, e = rec.every, r = rec.retries, s = rec.period })
    end

    -- The alarms changed since the last call: an array of {name, time (0: deleted), extras},
    -- the earliest alarm's time (0: none), and whether an alarm stored before named alarms (in
    -- the meta hash) is to be removed from there.
    function Internal.take_writes(st)
        local out, n = {}, 0
        for name in pairs(st.alarm_changes) do
            local rec = st.alarms[name]
            n = n + 1
            out[n] = { name, rec and rec.time or 0, rec and extras(rec) or false }
        end
        st.alarm_changes = {}
        local legacy = st.legacy
        st.legacy = false
        return out, earliest(st), legacy
    end

    local function decode_extras(bytes)
        local ok, x = pcall(decode, bytes or "")
        return ok and type(x) == "table" and x or {}
    end

    -- Fills st.alarms from what was stored: times (name -> time) and data (name -> extras). An
    -- alarm stored before named alarms (legacy_time, in the meta hash) becomes the alarm ""
    -- and moves to the alarm set with the next checkpoint.
    function Internal.load(st, times, data, legacy_time, legacy_retries)
        for name, t in pairs(times) do
            local x = decode_extras(data[name])
            st.alarms[name] = { time = t, retries = tonumber(x.r) or 0, every = tonumber(x.e),
                period = tonumber(x.s), payload = type(x.p) == "string" and x.p or nil }
            st.n_alarms = st.n_alarms + 1
        end
        if legacy_time > 0 and not st.alarms[""] then
            change_alarm(st, "", { time = legacy_time, retries = legacy_retries }, true)
        end
        st.legacy = legacy_time > 0
    end

    return Storage, Internal
end
