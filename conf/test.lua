-- roomd's config for the integration tests (tests/integration/): the shipped
-- demo rooms plus the test rooms of tests/lua/. Paths are relative to this
-- file's folder. The harness passes --port, --node and --data; a test may
-- override any value with --set NAME=VALUE (e.g. an absolute static_root).
return {
    host = "127.0.0.1",
    port = 8080,
    node = "test-node",
    log_level = "info",
    static_root = "../demos/www",
    custom_headers = { "x-test-header" },

    limits = {
        message_bytes = 1048576, -- test_limits: 1 MiB + 1 closes with 1009
        body_bytes = 1048576, -- test_limits: 1 MiB + 1 gets 413
        connections_per_room = 2048, -- test_fanout joins 1,000 to one room
        send_queue_bytes = 1048576, -- test_slow_consumer: culls a reader past 1 MiB
        send_queue_messages = 4096,
        room_queue = 4096,
        json_depth = 64,
        attachment_bytes = 2048, -- test_gate: a larger attachment is refused
        vm_memory_bytes = 134217728,
        room_idle_ms = 30000,
        hibernate_ms = 60000, -- tests of in-memory state must not see rooms hibernate
    },

    namespaces = {
        counter = { script = "../demos/counter/counter.lua" },
        vote = {
            script = "../demos/vote/vote.lua",
            settings = { ttl = 604800 },
        },
        auction = { script = "../demos/auction/auction.lua", settings = { min_increment = 5 } },
        relay = { script = "../demos/relay/relay.lua" },

        echo = {
            script = "../tests/lua/echo.lua",
            settings = { greeting = "hello", answer = 42, list = { 1, 2, 3 }, nested = { flag = true } },
        },
        faulty = { script = "../tests/lua/faulty.lua" },
        gate = {
            script = "../tests/lua/gate.lua",
            auto_reply = { ping = '{"type":"ping"}', pong = '{"type":"pong"}' }, -- test_hibernation
        },
        flood = { script = "../tests/lua/flood.lua" },
        store = { script = "../tests/lua/store.lua" }, -- test_storage_api, test_durability
        alarmy = { script = "../tests/lua/alarmy.lua" }, -- test_alarms, test_eviction
        alarms = { script = "../tests/lua/alarms.lua" }, -- test_named_alarms
        runaway = { script = "../tests/lua/runaway.lua" }, -- test_containment
        hostile = { script = "../tests/lua/hostile.lua" }, -- test_hostile: scripts that attack roomd
        calls = { script = "../tests/lua/calls.lua" }, -- test_calls: rooms calling rooms
        calls2 = { script = "../tests/lua/calls.lua" },
        logger = { script = "../tests/lua/logger.lua" }, -- test_logs
        budgeted = { script = "../tests/lua/echo.lua", budget = { cpu_ms_per_minute = 100 } }, -- test_usage
    },
}
