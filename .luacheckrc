-- luacheck settings for room scripts, configs and test rooms.
std = "luajit"
max_line_length = 120

-- Room scripts run in roomd's sandbox, which provides `json`, `now_ms`, `rooms`, `http` and `log`.
files["demos"] = { read_globals = { "json", "now_ms", "rooms", "http", "log" } }
files["tests/lua"] = { read_globals = { "json", "now_ms", "rooms", "http", "log" } }
files["tests/cluster"] = { read_globals = { "json", "now_ms", "rooms", "http", "log" } }

-- Specs run by `roomd test` (docs/testing-rooms.md) see the test globals; spec/prelude.lua defines them.
files["tests/specs"] = { read_globals = { "describe", "it", "before_each", "expect", "t", "json" } }

-- wrk scripts define request() for wrk and read its `wrk` table.
files["tests/bench"] = { globals = { "request" }, read_globals = { "wrk" } }
files["tests/bench/calls_room.lua"] = { read_globals = { "now_ms", "rooms" } }
files["tests/bench/physics_room.lua"] = { read_globals = { "now_ms" } }
-- The nginx peer's handler runs in lua-nginx-module, which provides `ngx` (and sets its fields).
files["tests/bench/peers/nginx"] = { globals = { "ngx" } }
