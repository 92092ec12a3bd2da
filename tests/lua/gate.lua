-- gate.lua: joins, tags, attachments and closes (tests/integration/test_gate.py).
-- join: ?deny=1 refuses; ?tag=T tags the connection; ?name=N goes in the attachment.
-- Messages (one key each):
--   {"to_tag": T, "text": S}  broadcast {"tag": T, "text": S} to tag T; answer {"sent": n}
--   {"others": S}             broadcast {"others": S} to all but the sender
--   {"count": T}              answer {"count": #connections(T)} (T "" for all)
--   {"get": true}             answer {"id", "tags", "attachment"}
--   {"set": V}                try set_attachment(V); answer {"set": ok}
--   {"tags": [..]}            try conn:tag on each; answer {"tags": conn.tags}
--   {"close": {code, reason}} send {"closing": true}, then conn:close(code, reason)
-- leave broadcasts {"left": id, "code": c, "reason": r} to those still in the room.
local Gate = {}

local function copy_array(t)
    local out = {}
    for i, v in ipairs(t or {}) do
        out[i] = v
    end
    return json.array(out)
end

local function describe(conn)
    local attachment = conn.attachment
    if attachment == nil then
        attachment = json.null
    end
    return {id = conn.id, tags = copy_array(conn.tags), attachment = attachment}
end

function Gate.join(room, conn, req)
    if req.query.deny == "1" then
        return false, "denied by the gate test"
    end
    if req.query.tag and req.query.tag ~= "" then
        conn:tag(req.query.tag)
    end
    conn:set_attachment({name = req.query.name or "anon", room = room.id})
    return true
end

function Gate.request(room, req)
    local tag = req.query.tag
    return {json = {
        connections = #room:connections(),
        tagged = tag and #room:connections(tag) or json.null,
    }}
end

local function try_tags(conn, names)
    for _, name in ipairs(names) do
        pcall(conn.tag, conn, name)
    end
    conn:send({tags = copy_array(conn.tags)})
end

local function try_set(conn, value)
    local ok, res, err = pcall(conn.set_attachment, conn, value)
    conn:send({set = ok and not (res == nil and err ~= nil) and res ~= false})
end

local function close(conn, spec)
    conn:send({closing = true})
    if spec.code then
        conn:close(spec.code, spec.reason)
    else
        conn:close()
    end
end

function Gate.message(room, conn, msg)
    if type(msg) ~= "table" then
        return conn:send({error = "gate: object expected"})
    end
    if msg.to_tag then
        local n = room:broadcast({tag = msg.to_tag, text = msg.text}, msg.to_tag)
        conn:send({sent = n})
    elseif msg.others then
        room:broadcast({others = msg.others}, conn)
    elseif msg.count then
        local tag = msg.count ~= "" and msg.count or nil
        conn:send({count = #room:connections(tag)})
    elseif msg.get then
        conn:send(describe(conn))
    elseif msg.set ~= nil then
        try_set(conn, msg.set)
    elseif msg.tags then
        try_tags(conn, msg.tags)
    elseif msg.close then
        close(conn, msg.close)
    else
        conn:send({error = "gate: unknown message"})
    end
end

function Gate.leave(room, conn, code, reason)
    room:broadcast({left = conn.id, code = code or json.null, reason = reason or json.null})
end

return Gate
