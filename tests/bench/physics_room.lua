-- physics_room.lua: a compute-heavy room (tests/bench/jit.sh): GET /<ns>/<id>?steps=S moves
-- 1,000 bodies S steps (gravity, walls, pairwise-free damping) and answers {ms =, energy =}.
-- Served twice by jit.sh, by a namespace with the per-turn CPU bound (LuaJIT's interpreter)
-- and by one with jit = true (compiled).
local Physics = {}

local N = 1000

local function bodies()
    local x, y, vx, vy = {}, {}, {}, {}
    local seed = 12345
    for i = 1, N do
        seed = (seed * 1103515245 + 12345) % 2147483648
        x[i] = seed % 1000
        y[i] = (seed / 1000) % 1000
        vx[i] = (seed % 7) - 3
        vy[i] = (seed % 11) - 5
    end
    return x, y, vx, vy
end

function Physics.request(_, req)
    local steps = tonumber(req.query.steps) or 100
    local start = now_ms()
    local x, y, vx, vy = bodies()
    for _ = 1, steps do
        for i = 1, N do
            vy[i] = vy[i] + 0.1
            vx[i], vy[i] = vx[i] * 0.999, vy[i] * 0.999
            x[i], y[i] = x[i] + vx[i], y[i] + vy[i]
            if x[i] < 0 or x[i] > 1000 then
                vx[i] = -vx[i]
                x[i] = x[i] < 0 and 0 or 1000
            end
            if y[i] < 0 or y[i] > 1000 then
                vy[i] = -vy[i]
                y[i] = y[i] < 0 and 0 or 1000
            end
        end
    end
    local energy = 0
    for i = 1, N do
        energy = energy + vx[i] * vx[i] + vy[i] * vy[i]
    end
    return { json = { ms = now_ms() - start, energy = math.floor(energy) } }
end

return Physics
