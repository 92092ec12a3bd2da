-- lobby.lua: matchmaking. Players wait in /lobby/<id>; as soon as two wait, the lobby opens a
-- fresh tic-tac-toe room /game/<id>-<n> with rooms.call, which seats the two (each by the
-- player token it joined with, as game.lua knows players), and tells both where to go.
-- A player joins with ?player=<token>&name=<name>. Who waits is kept on the connections
-- (their attachments), so it survives the room's hibernation; games opened so far are counted
-- in storage, so a restarted lobby never hands out a game id twice.
--
-- Sent to a waiting player: {type = "waiting", position = n};
-- to a matched one: {type = "match", game = "<game room id>", seat = "X" | "O", against = name}.
local Lobby = {}

local function waiting(room, joining)
    local list = {}
    for _, c in ipairs(room:connections()) do
        if c ~= joining and c.attachment and c.attachment.waiting then
            list[#list + 1] = c
        end
    end
    list[#list + 1] = joining
    return list
end

local function clean_name(name)
    name = type(name) == "string" and name:match("^%s*(.-)%s*$") or ""
    if name == "" or #name > 64 or name:find("%c") then
        return nil
    end
    return name
end

-- Seats a and b in a new game room; false and why when the game room refuses.
local function open_game(room, a, b)
    local n = (room.storage:get("games") or 0) + 1
    local game = room.id .. "-" .. n
    local seats = {
        X = { token = a.attachment.player, name = a.attachment.name },
        O = { token = b.attachment.player, name = b.attachment.name },
    }
    local ok, err = pcall(rooms.call, "game", game, { seats = seats })
    if not ok then
        return false, err
    end
    room.storage:put("games", n)
    for seat, c in pairs({ X = a, O = b }) do
        c:set_attachment({ player = c.attachment.player, name = c.attachment.name })
        local other = seat == "X" and b or a
        c:send({ type = "match", game = game, seat = seat, against = other.attachment.name })
    end
    return true
end

function Lobby.join(room, conn, req)
    local token = req.query.player
    if not token or not token:match("^[%w_-]+$") or #token > 64 then
        return false, "join with ?player=<1 to 64 letters, digits, '-' or '_'>"
    end
    local name = clean_name(req.query.name) or "Player"
    conn:set_attachment({ player = token, name = name, waiting = true })
    local list = waiting(room, conn)
    if #list >= 2 then
        local ok, err = open_game(room, list[1], list[2])
        if not ok then
            return false, "cannot open a game now: " .. tostring(err)
        end
        return
    end
    conn:send({ type = "waiting", position = #list })
end

function Lobby.request(room, req)
    if req.rest ~= "" or req.method ~= "GET" then
        return { status = 404, json = { error = "GET /lobby/<id>" } }
    end
    local n = 0
    for _, c in ipairs(room:connections()) do
        if c.attachment and c.attachment.waiting then
            n = n + 1
        end
    end
    return { json = { waiting = n, games = room.storage:get("games") or 0 } }
end

return Lobby
