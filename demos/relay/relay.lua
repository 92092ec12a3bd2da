-- relay.lua: the benchmark room. Every JSON object a member sends goes to
-- every member, the sender included; GET tells how many are connected.
local Relay = {}

function Relay.request(room, req)
    if req.rest ~= "" then
        return { status = 404, json = { error = "relay rooms have no sub-paths" } }
    elseif req.method ~= "GET" then
        return { status = 405, json = { error = "use GET" } }
    end
    return { status = 200, json = { connections = #room:connections() } }
end

function Relay.join(_, _, req)
    if req.rest ~= "" then
        return false, "relay rooms have no sub-paths"
    end
end

function Relay.message(room, conn, msg)
    if not json.is_object(msg) then
        conn:send({ error = "send a JSON object" })
        return
    end
    room:broadcast(msg)
end

return Relay
