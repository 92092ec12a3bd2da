-- store.lua: drives room.storage from HTTP (tests/integration/test_storage_api.py and
-- test_durability.py).
--
-- POST /store/<id> with a JSON body {"op": OP, ...} runs one storage call and answers
-- 200 {"result": R}, or 400 {"error": "<the storage call's error message>"} when it raises:
--   {"op": "put", "key": K, "value": V}         storage:put(K, V)      -> null
--   {"op": "put_many", "entries": {k: v, ...}}  storage:put({...})     -> null
--       ("entries" may also be an array of [K, V] pairs, for keys JSON cannot name)
--   {"op": "get", "key": K}                     storage:get(K)         -> V or null
--   {"op": "get_many", "keys": [K, ...]}        storage:get({...})     -> {k: v}
--   {"op": "delete", "key": K}                  storage:delete(K)      -> bool
--   {"op": "delete_many", "keys": [K, ...]}     storage:delete({...})  -> count
--   {"op": "delete_all"}                        storage:delete_all()   -> null
--   {"op": "list", "opts": {...}}               storage:list(opts)     -> [{key, value}, ...]
--       (opts: prefix, start, end, limit, reverse; without "opts" it calls list())
--   {"op": "batch", "ops": [OP, ...]}           each in this one turn  -> [{result} or {error}]
--   {"op": "mutate_copy", "key": K}  changes the table get(K) returned, answers get(K) again
--   {"op": "put_bad_answer", "key": K, "value": V}  storage:put(K, V), then an answer JSON
--       cannot carry (roomd answers 500 and must store nothing)
-- GET /store/<id> answers {"result": room.storage:list()}: a turn that writes nothing.
--
-- Keys and values travel as JSON, with escapes for what JSON cannot carry:
--   {"$bytes": "<hex>"}  the string of those bytes (answers use it for strings that are not UTF-8)
--   {"$repeat": S, "n": N}  S repeated N times (big values without big bodies)
--   {"$function": true}  a function (cannot be stored)
--   {"$cycle": true}     a table that contains itself (cannot be stored)
--   {"$keys": N, "prefix": P}  (as "keys" or "entries") N keys P1..PN, values their index
local Store = {}

local function from_hex(hex)
    return (hex:gsub("%x%x", function(h)
        return string.char(tonumber(h, 16))
    end))
end

local function to_hex(s)
    return (s:gsub(".", function(c)
        return string.format("%02x", c:byte())
    end))
end

local function is_utf8(s)
    return (pcall(json.encode, s))
end

-- A Lua value from its JSON form (plain tables, escapes resolved).
local function decode_value(v)
    if type(v) ~= "table" then
        return v
    end
    if type(v["$bytes"]) == "string" then
        return from_hex(v["$bytes"])
    elseif type(v["$repeat"]) == "string" then
        return string.rep(v["$repeat"], v.n)
    elseif v["$function"] then
        return function() end
    elseif v["$cycle"] then
        local t = {}
        t.self = t
        return t
    end
    local out = {}
    for k, x in pairs(v) do
        out[k] = decode_value(x)
    end
    return out
end

-- The JSON form of a stored value.
local function encode_value(v)
    if type(v) == "string" then
        if is_utf8(v) then
            return v
        end
        return { ["$bytes"] = to_hex(v) }
    elseif type(v) ~= "table" then
        return v
    end
    local out = {}
    for k, x in pairs(v) do
        out[k] = encode_value(x)
    end
    return out
end

local function result_or_null(v)
    if v == nil then
        return json.null
    end
    return v
end

-- {"$keys": N, "prefix": P} as a list of keys, or as entries (key -> index).
local function generated(spec, as_entries)
    local out = {}
    for i = 1, spec["$keys"] do
        local key = (spec.prefix or "k") .. i
        if as_entries then
            out[key] = i
        else
            out[i] = key
        end
    end
    return out
end

local function key_list(keys)
    if type(keys) == "table" and keys["$keys"] then
        return generated(keys, false)
    end
    local out = {}
    for i, k in ipairs(keys or {}) do
        out[i] = decode_value(k)
    end
    return out
end

local function entries_table(entries)
    if type(entries) == "table" and entries["$keys"] then
        return generated(entries, true)
    end
    local out = {}
    if json.is_array(entries) then
        for _, pair in ipairs(entries) do
            out[decode_value(pair[1])] = decode_value(pair[2])
        end
    else
        for k, v in pairs(entries or {}) do
            out[k] = decode_value(v)
        end
    end
    return out
end

local function list_result(rows)
    local out = {}
    for i, row in ipairs(rows) do
        out[i] = { key = encode_value(row.key), value = encode_value(row.value) }
    end
    return json.array(out)
end

local ops = {}

function ops.put(s, body)
    s:put(decode_value(body.key), decode_value(body.value))
    return json.null
end

function ops.put_many(s, body)
    s:put(entries_table(body.entries))
    return json.null
end

function ops.get(s, body)
    return result_or_null(encode_value(s:get(decode_value(body.key))))
end

-- get returns a copy: changing it changes neither storage nor the next get.
function ops.mutate_copy(s, body)
    local key = decode_value(body.key)
    local v = s:get(key)
    if type(v) == "table" then
        v.mutated = true
        v[1] = "mutated"
    end
    return result_or_null(encode_value(s:get(key)))
end

function ops.put_bad_answer(s, body)
    s:put(decode_value(body.key), decode_value(body.value))
    return "\255 is not UTF-8"
end

function ops.get_many(s, body)
    return json.object(encode_value(s:get(key_list(body.keys))))
end

function ops.delete(s, body)
    return s:delete(decode_value(body.key))
end

function ops.delete_many(s, body)
    return s:delete(key_list(body.keys))
end

function ops.delete_all(s)
    s:delete_all()
    return json.null
end

function ops.list(s, body)
    if body.opts == nil then
        return list_result(s:list())
    end
    local opts = {}
    for k, v in pairs(body.opts) do
        opts[k] = decode_value(v)
    end
    return list_result(s:list(opts))
end

-- Runs one op; returns true and its result, or false and the error message.
local function run(s, body)
    if type(body) ~= "table" then
        return false, "the body must be a JSON object"
    end
    local op = body.op
    if op == "batch" then
        local out = {}
        for i, sub in ipairs(body.ops or {}) do
            local ok, res = run(s, sub)
            out[i] = ok and { result = res } or { error = res }
        end
        return true, json.array(out)
    end
    local fn = type(op) == "string" and rawget(ops, op)
    if not fn then
        return false, "unknown op " .. tostring(op)
    end
    local ok, res = pcall(fn, s, body)
    if not ok then
        return false, tostring(res)
    end
    return true, res
end

function Store.request(room, req)
    if req.method == "GET" then
        return { json = { result = list_result(room.storage:list()) } }
    elseif req.method ~= "POST" then
        return { status = 405, json = { error = "use GET or POST" } }
    end
    local ok, res = run(room.storage, req.json)
    if not ok then
        return { status = 400, json = { error = res } }
    end
    return { json = { result = res } }
end

return Store
