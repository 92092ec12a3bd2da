-- roomd's default config: what `build/roomd` serves with no arguments.
-- Paths are relative to this file's folder. Every value can be overridden
-- with `--set NAME=VALUE` (e.g. `--set limits.message_bytes=65536`); a name
-- whose first part is a namespace sets that namespace's setting
-- (`--set vote.ttl=1.5` sets namespaces.vote.settings.ttl).
-- A namespace may also have auto_reply = {ping = "<text>", pong = "<text>"}: a
-- WebSocket message equal to ping is answered with pong by roomd itself,
-- without a turn, so a hibernated room stays asleep.
return {
    host = "127.0.0.1",
    port = 8080,
    node = nil, -- default: the host name
    log_level = "info", -- error, warn, info or debug
    static_root = "../demos/www",
    -- Request headers beyond the ~100 common ones libwebsockets knows by name
    -- that rooms should see in req.headers (it cannot list unknown ones).
    custom_headers = {},
    watch = false, -- reload a room script when it changes on disk (--watch; SIGHUP always does)
    data_dir = "../data", -- the embedded redis-server's files (--data)
    redis = nil, -- an existing Redis instead: "redis://HOST:PORT[/DB]" or "unix:///path" (--redis)
    -- Many nodes on one Redis (--cluster; docs/cluster.md): a room lives on the node holding its
    -- lease; a dead node's rooms move after lease_ms.
    cluster = { enabled = false, lease_ms = 3000 },

    limits = {
        message_bytes = 1048576, -- largest WebSocket message in (close 1009)
        body_bytes = 1048576, -- largest HTTP request body (413)
        connections_per_room = 32768, -- joins past it get 503
        send_queue_bytes = 1048576, -- per socket; past it the socket is closed 1013
        send_queue_messages = 4096, -- frames per socket; past it, the same
        room_queue = 4096, -- events waiting for one room; past it 503
        json_depth = 64, -- deepest JSON nesting, both ways
        attachment_bytes = 2048, -- largest conn attachment, JSON-encoded
        vm_memory_bytes = 134217728, -- Lua heap per namespace
        room_idle_ms = 30000, -- a room with no connection and no event this long leaves memory
        hibernate_ms = 10000, -- a room with connections but no event this long drops its Lua state
        turn_cpu_ms = 1000, -- CPU time one turn may take; past it the turn fails (0: no bound, JIT on)
        messages_per_second = 20000, -- per connection (burst as many); past it: close 1008
        max_rooms = 1000000, -- rooms in memory at once; a new one past it: 503
        room_cpu_ms_per_minute = 0, -- turn time per room per minute; past it: 429 (0: no budget)
        jit_watchdog_ms = 10000, -- a turn of a jit = true namespace this long ends the process
    },

    -- Each namespace: its room script, optional settings (room.settings), and an
    -- optional page: the HTML file a browser gets when it opens a room URL
    -- (GET with text/html in Accept); other clients get the room's own answer.
    namespaces = {
        counter = { script = "../demos/counter/counter.lua" },
        vote = {
            script = "../demos/vote/vote.lua",
            page = "../demos/vote/vote.html",
            settings = { ttl = 604800 }, -- seconds until a room's votes expire
        },
        relay = { script = "../demos/relay/relay.lua" },
        auction = { -- docs/tutorial.md
            script = "../demos/auction/auction.lua",
            settings = { min_increment = 1 },
        },
        chat = {
            script = "../demos/chat/chat.lua",
            page = "../demos/chat/chat.html",
            -- With ROOMD_CHAT_SECRET set, a token's "name" claim names its holder
            -- (docs/operations.md; mint one with build/roomctl token).
            auth = os.getenv("ROOMD_CHAT_SECRET") and {
                required = false,
                jwt = { alg = "HS256", secret_env = "ROOMD_CHAT_SECRET" },
            } or nil,
        },
        game = { script = "../demos/game/game.lua", page = "../demos/game/game.html" },
        lobby = { script = "../demos/lobby/lobby.lua", page = "../demos/lobby/lobby.html" }, -- pairs players for game
    },
}
