-- runaway.lua: handlers that never return or eat memory (tests/integration/test_containment.py).
-- POST /runaway/<id>/<what>: "spin" loops forever; "spin_pcall" loops forever inside pcall,
-- again and again; "math" runs a numeric loop that would be JIT-compiled; "bomb" grows a
-- table until memory runs out. Any other rest counts a hit. GET answers {"hits": n}.
local Runaway = {}

local function spin()
    local x = 0
    while true do
        x = x + 1
    end
end

local function spin_pcall()
    while true do
        pcall(spin)
    end
end

local function numeric()
    local sum = 0
    for i = 1, 1e15 do
        sum = sum + i % 7
    end
    return sum
end

local function bomb()
    local t = {}
    for i = 1, 1e12 do
        t[i] = ("x"):rep(1048576) .. i
    end
    return t
end

local ACTIONS = { spin = spin, spin_pcall = spin_pcall, math = numeric, bomb = bomb }

function Runaway.init(room)
    room.hits = 0
end

function Runaway.request(room, req)
    local action = ACTIONS[req.rest]
    if action then
        room.hits = room.hits + 1000 -- must not survive the failed turn
        action()
    elseif req.method == "POST" then
        room.hits = room.hits + 1
    end
    return { json = { hits = room.hits } }
end

return Runaway
