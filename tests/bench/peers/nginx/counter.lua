-- counter.lua: the counter room of roomd written for lua-nginx-module, the
-- nginx + Lua peer of tests/bench/run.sh. Routes /counter/<id>; GET reads the
-- room's number from a lua_shared_dict (0 for a new room), POST increments it;
-- both answer {"value":N} with a Content-Length. The dict is shared memory of
-- this nginx only: nothing is durable, so only GET compares with roomd
-- (whose GET is also served from memory once the room is active).
local counters = ngx.shared.counters
local ID_MAX = 256

local function answer(status, body)
    ngx.status = status
    ngx.header.content_type = "application/json"
    ngx.header.content_length = #body
    ngx.print(body)
end

local id = ngx.var.uri:match("^/counter/([^/]+)$")
if not id or #id > ID_MAX then
    return answer(404, '{"error":"no such room or namespace"}')
end
local method = ngx.req.get_method()
local value
if method == "GET" then
    value = counters:get(id) or 0
elseif method == "POST" then
    value = counters:incr(id, 1, 0)
else
    return answer(405, '{"error":"use GET or POST"}')
end
answer(200, '{"value":' .. value .. '}')
