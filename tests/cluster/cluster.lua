-- roomd's config for the cluster tests (tests/cluster/): the rooms they drive
-- through HAProxy. Paths are relative to this file's folder. The harness
-- (cluster.py) passes --cluster, --node, --port, --admin-port and --redis, and
-- cluster.lease_ms with --set.
return {
    host = "127.0.0.1",
    log_level = "info",
    static_root = "../../demos/www",
    cluster = { enabled = false, lease_ms = 3000 },

    limits = {
        connections_per_room = 2048,
        room_idle_ms = 30000,
        hibernate_ms = 60000,
    },

    namespaces = {
        counter = { script = "../../demos/counter/counter.lua" },
        vote = { script = "../../demos/vote/vote.lua", settings = { ttl = 604800 } },
        relay = { script = "../../demos/relay/relay.lua" },
        ledger = { script = "ledger.lua" }, -- POST appends {seq, node, epoch}
    },
}
