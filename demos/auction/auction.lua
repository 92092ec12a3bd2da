-- auction.lua: a live auction, the room docs/tutorial.md builds step by step.
--
-- POST /auction/<id> {"item": "...", "seconds": N} opens it (once); GET answers its state.
-- WebSocket /auction/<id>?name=<bidder>: the state on join, then {"bid": amount}. A bid that
-- is too low, late or not a number is refused to the bidder alone; a good one is stored and
-- everyone sees the new high bid. When the time is up the room's alarm closes the auction
-- and tells everyone who won. Everything is in storage under "auction", so it survives a
-- restart, and the alarm fires even if nobody is connected.
local Auction = {}

local function state(room)
    local a = room.auction
    if not a then
        return { open = false }
    end
    return {
        item = a.item,
        ends_at = a.ends_at,
        high = a.high or json.null,
        closed = a.closed,
        open = not a.closed,
    }
end

function Auction.init(room)
    room.auction = room.storage:get("auction")
end

function Auction.request(room, req)
    if req.method == "GET" then
        return { json = state(room) }
    elseif req.method ~= "POST" then
        return { status = 405, json = { error = "use GET or POST" } }
    end
    local body = req.json or {}
    local seconds = tonumber(body.seconds)
    if room.auction then
        return { status = 409, json = { error = "this auction is already open" } }
    elseif type(body.item) ~= "string" or not seconds or seconds <= 0 then
        return { status = 400, json = { error = 'send {"item": "...", "seconds": N}' } }
    end
    room.auction = { item = body.item, ends_at = now_ms() + seconds * 1000, closed = false }
    room.storage:put("auction", room.auction)
    room.storage:set_alarm(room.auction.ends_at)
    return { status = 201, json = state(room) }
end

function Auction.join(room, conn, req)
    local name = req.query.name
    if type(name) ~= "string" or name == "" or #name > 40 then
        return false, "join with ?name=<your name>"
    end
    conn:set_attachment({ name = name })
    conn:send({ type = "state", state = state(room) })
end

-- Why a bid cannot be taken, or nil when it can.
local function refusal(room, amount)
    local a = room.auction
    if not a then
        return "no auction is open here"
    elseif a.closed then
        return "the auction is closed"
    elseif type(amount) ~= "number" or amount ~= math.floor(amount) or amount <= 0 then
        return "a bid is a whole number above 0"
    elseif a.high and amount < a.high.amount + room.settings.min_increment then
        return "bid at least " .. (a.high.amount + room.settings.min_increment)
    end
    return nil
end

function Auction.message(room, conn, msg)
    local why = refusal(room, type(msg) == "table" and msg.bid or nil)
    if why then
        return conn:send({ type = "refused", error = why })
    end
    local a = room.auction
    a.high = { amount = msg.bid, bidder = conn.attachment.name }
    room.storage:put("auction", a)
    room:broadcast({ type = "bid", high = a.high })
end

function Auction.alarm(room)
    local a = room.auction
    if not a or a.closed then
        return
    end
    a.closed = true
    room.storage:put("auction", a)
    room:broadcast({ type = "closed", winner = a.high or json.null })
end

return Auction
