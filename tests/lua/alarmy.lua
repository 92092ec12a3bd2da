-- alarmy.lua: drives a room's alarm from HTTP (tests/integration/test_alarms.py and
-- test_eviction.py).
--
-- POST /alarmy/<id> with a JSON body {"op": OP, ...}:
--   {"op": "set", "in_ms": N}       room.storage:set_alarm(now_ms() + N)   -> {"alarm": T}
--   {"op": "get"}                   room.storage:get_alarm()               -> {"alarm": T or null}
--   {"op": "delete"}                room.storage:delete_alarm()            -> {"alarm": null}
--   {"op": "fail_times", "n": K}    the next K alarm runs raise an error (the count is
--                                   stored, so it survives eviction and restarts)  -> {"fail_left": K}
--   {"op": "delete_all"}            room.storage:delete_all() (also deletes the alarm)
-- GET /alarmy/<id> answers
--   {"fired": F,            stored: alarm runs that succeeded
--    "retries": [n, ...],   stored: info.retry_count of every alarm run, failed or not
--    "attempts_ms": [t, ...], stored: now_ms() of every alarm run
--    "alarm": T or null,    room.storage:get_alarm()
--    "inits": I,            in memory: init calls of this activation (1)
--    "hits": H,             in memory: requests this activation has handled
--    "activations": A}      stored: init calls ever (one per activation)
-- The alarm handler appends info.retry_count and now_ms() to the stored lists, then either
-- raises (while the stored fail count is above 0, which it decrements first: the writes of a
-- failed turn are stored too) or adds one to the stored fired count.
local Alarmy = {}

local function list(room, key)
    return room.storage:get(key) or {}
end

local function show(room)
    return {
        fired = room.storage:get("fired") or 0,
        retries = json.array(list(room, "retries")),
        attempts_ms = json.array(list(room, "attempts_ms")),
        alarm = room.storage:get_alarm() or json.null,
        inits = room.inits,
        hits = room.hits,
        activations = room.storage:get("activations") or 0,
    }
end

function Alarmy.init(room)
    room.inits = (room.inits or 0) + 1
    room.hits = 0
    room.storage:put("activations", (room.storage:get("activations") or 0) + 1)
end

local function bad(why)
    return { status = 400, json = { error = why } }
end

function Alarmy.request(room, req)
    room.hits = room.hits + 1
    if req.rest ~= "" then
        return { status = 404, json = { error = "alarmy rooms have no sub-paths" } }
    end
    if req.method == "GET" then
        return { json = show(room) }
    elseif req.method ~= "POST" then
        return { status = 405, json = { error = "use GET or POST" } }
    end
    local body = req.json
    if not json.is_object(body) then
        return bad('send {"op": ...}')
    end
    local op, storage = body.op, room.storage
    if op == "set" then
        if type(body.in_ms) ~= "number" then
            return bad("set needs in_ms")
        end
        storage:set_alarm(now_ms() + body.in_ms)
    elseif op == "get" then
        return { json = { alarm = storage:get_alarm() or json.null } }
    elseif op == "delete" then
        storage:delete_alarm()
    elseif op == "fail_times" then
        if type(body.n) ~= "number" or body.n < 0 then
            return bad("fail_times needs n >= 0")
        end
        storage:put("fail_left", body.n)
        return { json = { fail_left = body.n } }
    elseif op == "delete_all" then
        storage:delete_all()
    else
        return bad("unknown op " .. tostring(op))
    end
    return { json = { alarm = storage:get_alarm() or json.null } }
end

function Alarmy.alarm(room, info)
    local storage = room.storage
    local retries, times = list(room, "retries"), list(room, "attempts_ms")
    retries[#retries + 1] = info.retry_count
    times[#times + 1] = now_ms()
    storage:put({ retries = retries, attempts_ms = times })
    local left = storage:get("fail_left") or 0
    if left > 0 then
        storage:put("fail_left", left - 1)
        error(("alarmy: failing on purpose (%d runs left to fail)"):format(left))
    end
    storage:put("fired", (storage:get("fired") or 0) + 1)
end

return Alarmy
