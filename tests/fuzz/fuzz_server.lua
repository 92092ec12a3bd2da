-- The config of the fuzz_server harness (tests/fuzz/fuzz_server.c): the shipped rooms and the
-- test rooms that answer every kind of request, memory only (the harness runs no Redis), rooms
-- evicted soon so that a long run's inputs do not pile up, and a short CPU limit per turn.
-- Paths are relative to this file's folder.
return {
    node = "fuzz",
    log_level = "error",
    static_root = "../../demos/www",
    custom_headers = { "x-test-header" },
    limits = {
        room_idle_ms = 1000,
        hibernate_ms = 1000,
        turn_cpu_ms = 100,
        max_rooms = 10000,
        vm_memory_bytes = 67108864,
    },
    namespaces = {
        counter = { script = "../../demos/counter/counter.lua" },
        vote = { script = "../../demos/vote/vote.lua", settings = { ttl = 60 } },
        auction = { script = "../../demos/auction/auction.lua", settings = { min_increment = 5 } },
        relay = { script = "../../demos/relay/relay.lua" },
        echo = { script = "../lua/echo.lua", settings = { greeting = "hello" } },
        faulty = { script = "../lua/faulty.lua" },
        store = { script = "../lua/store.lua" },
        gate = {
            script = "../lua/gate.lua",
            auto_reply = { ping = '{"type":"ping"}', pong = '{"type":"pong"}' },
        },
    },
}
