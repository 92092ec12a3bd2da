#!lua name=roomd
-- roomd's Redis function library for --cluster (rooms/lease.c loads it with
-- FUNCTION LOAD REPLACE at start). A room's lease key holds "<node> <epoch>"
-- with an expiry; only its holder may store for the room, and every
-- checkpoint goes through roomd_commit, which checks the lease first (the
-- fence). All keys of one call share the room's hash tag, except the alarm
-- index (docs/cluster.md says what Redis Cluster would need).

-- The epoch a lease value carries, or 0.
local function epoch_of(value)
    return tonumber(string.match(value or '', ' (%d+)$')) or 0
end

-- KEYS: lease kv meta alarms alarm_data want; ARGV: node lease_ms.
-- Takes the lease (free, or already this node's) and reads the room:
-- {'ok', epoch, kv pairs, {alarm, retries, epoch}, alarm pairs, extras pairs},
-- or {'held', holder} when another node holds it or waits for it (want).
local function acquire(keys, args)
    local node = args[1]
    local lease = redis.call('GET', keys[1])
    if lease and string.sub(lease, 1, #node + 1) ~= node .. ' ' then
        return {'held', lease}
    end
    local want = redis.call('GET', keys[6])
    if not lease and want and want ~= node then
        return {'wanted', want}
    end
    local epoch = tonumber(redis.call('HGET', keys[3], 'epoch') or '0')
    epoch = math.max(epoch, epoch_of(lease)) + 1
    redis.call('SET', keys[1], node .. ' ' .. epoch, 'PX', args[2])
    if want == node then
        redis.call('DEL', keys[6])
    end
    return {'ok', epoch, redis.call('HGETALL', keys[2]),
            redis.call('HMGET', keys[3], 'alarm', 'retries', 'epoch'),
            redis.call('ZRANGE', keys[4], 0, -1, 'WITHSCORES'),
            redis.call('HGETALL', keys[5])}
end

local allowed = {HSET = true, HDEL = true, DEL = true, ZADD = true, ZREM = true}

-- KEYS: lease, then the keys the writes name; ARGV: the lease value this
-- activation holds ("" for an admin write: no node may hold the room), then
-- each write as: count, command, key index, count arguments. Refused with
-- FENCED, before any write, unless the lease is as given. Returns each
-- write's reply.
local function commit(keys, args)
    local lease = redis.call('GET', keys[1])
    if (args[1] == '' and lease) or (args[1] ~= '' and lease ~= args[1]) then
        return redis.error_reply('FENCED the room lease is not held by this activation')
    end
    local i, out = 2, {}
    while i <= #args do
        local n, cmd, key = tonumber(args[i]), args[i + 1], keys[tonumber(args[i + 2])]
        if not n or not allowed[cmd] or not key then
            return redis.error_reply('ERR roomd_commit: malformed write at ' .. i)
        end
        out[#out + 1] = redis.call(cmd, key, unpack(args, i + 3, i + 2 + n))
        i = i + 3 + n
    end
    return out
end

-- KEYS: leases; ARGV: lease_ms, then the value each should hold. Extends
-- every lease that still holds its value; returns the positions of those
-- that do not (lost).
local function renew(keys, args)
    local lost = {}
    for i, key in ipairs(keys) do
        if redis.call('GET', key) == args[i + 1] then
            redis.call('PEXPIRE', key, args[1])
        else
            lost[#lost + 1] = i
        end
    end
    return lost
end

-- KEYS: leases; ARGV: the value each should hold. Deletes those that do.
local function release(keys, args)
    local n = 0
    for i, key in ipairs(keys) do
        if redis.call('GET', key) == args[i] then
            n = n + redis.call('DEL', key)
        end
    end
    return n
end

redis.register_function('roomd_acquire', acquire)
redis.register_function('roomd_commit', commit)
redis.register_function('roomd_renew', renew)
redis.register_function('roomd_release', release)
