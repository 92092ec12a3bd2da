-- alarms.lua: drives a room's named alarms from HTTP (tests/integration/test_named_alarms.py).
--
-- POST /alarms/<id> with a JSON body {"op": OP, ...}; every answer is {"ok": true, ...} or, when
-- the storage call raised, {"error": message} (status 200: the message is what is tested):
--   {"op": "set", "name": N, "at": T or "in_ms": D, "payload": P, "every_ms": E}
--        room.storage:set_alarm(N, T, P, {every_ms = E}); no name: set_alarm(T) (the alarm "")
--   {"op": "set_many", "prefix": S, "n": K, "at": T, "step_ms": D, "order": [i, ...]}
--        K alarms S..i at T + i * D with payload i, set in the given order (default 1..K)
--   {"op": "get", "name": N}      -> {"time": T or null, "payload": P or null}
--   {"op": "delete", "name": N}   -> {"existed": bool}
--   {"op": "list"}                -> {"alarms": room.storage:list_alarms()}
--   {"op": "fail", "name": N, "n": K}  the next K runs of alarm N raise (stored count)
-- GET /alarms/<id> -> {"runs": [{name, payload, retry_count, at_ms, ok}, ...]} (stored, every
-- run of the alarm handler in order, failed ones with ok = false).
local Alarms = {}

local function answer(ok, result)
    if not ok then
        return { json = { error = tostring(result) } }
    end
    result = result or {}
    result.ok = true
    return { json = result }
end

local function set(storage, body)
    local at = body.at or (now_ms() + (body.in_ms or 0))
    local payload = body.payload
    if payload == json.null then
        payload = nil
    end
    local opts = body.every_ms and { every_ms = body.every_ms } or nil
    if body.name == nil then
        storage:set_alarm(at)
    else
        storage:set_alarm(body.name, at, payload, opts)
    end
end

local function set_many(storage, body)
    local order = body.order or {}
    if #order == 0 then
        for i = 1, body.n do
            order[i] = i
        end
    end
    for _, i in ipairs(order) do
        storage:set_alarm(body.prefix .. i, body.at + i * (body.step_ms or 0), i)
    end
end

local function list(storage)
    local out = storage:list_alarms()
    for _, a in ipairs(out) do
        a.payload = a.payload == nil and json.null or a.payload
        a.every_ms = a.every_ms or json.null
    end
    return { alarms = json.array(out) }
end

local ops = {
    set = function(storage, body)
        set(storage, body)
    end,
    set_many = function(storage, body)
        set_many(storage, body)
    end,
    get = function(storage, body)
        local t, p = storage:get_alarm(body.name)
        return { time = t or json.null, payload = p == nil and json.null or p }
    end,
    delete = function(storage, body)
        return { existed = storage:delete_alarm(body.name) }
    end,
    list = list,
    fail = function(storage, body)
        storage:put("fail:" .. body.name, body.n)
    end,
}

function Alarms.request(room, req)
    local storage = room.storage
    if req.method == "GET" then
        return { json = { runs = json.array(storage:get("runs") or {}) } }
    end
    local body = req.json
    local op = json.is_object(body) and ops[body.op]
    if not op then
        return { status = 400, json = { error = "unknown op" } }
    end
    return answer(pcall(op, storage, body))
end

function Alarms.alarm(room, info)
    local storage = room.storage
    local runs = storage:get("runs") or {}
    local run = { name = info.name, payload = info.payload, retry_count = info.retry_count,
        at_ms = now_ms(), ok = true }
    runs[#runs + 1] = run
    local fail_key = "fail:" .. info.name
    local left = storage:get(fail_key) or 0
    if left > 0 then
        run.ok = false
        storage:put({ runs = runs, [fail_key] = left - 1 })
        error(("alarms: %s failing on purpose (%d runs left to fail)"):format(info.name, left))
    end
    storage:put("runs", runs)
end

return Alarms
