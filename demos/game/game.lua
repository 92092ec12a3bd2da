-- game.lua: tic-tac-toe with the rules in the room. The first two players to
-- join take the seats X and O; everyone after them watches. A player is known
-- by the token it joins with (?player=<token>&name=<name>), so a player who
-- reconnects with the same token gets the same seat back. The game (board,
-- seats, score) is stored under the key "game" after every change.
--
-- Sent to a member who joins: {type = "welcome", seat = "X" | "O" | null};
-- to everyone after every change: {type = "state", ...} (see view());
-- to a sender alone: {type = "error", error} when a move is refused.
-- A lobby's rooms.call may seat two players before they come (Game.call).
local Game = {}

local LINES = {
    { 1, 2, 3 }, { 4, 5, 6 }, { 7, 8, 9 }, -- rows
    { 1, 4, 7 }, { 2, 5, 8 }, { 3, 6, 9 }, -- columns
    { 1, 5, 9 }, { 3, 5, 7 }, -- diagonals
}
local OTHER = { X = "O", O = "X" }

local function new_board()
    return { "", "", "", "", "", "", "", "", "" }
end

local function new_game()
    return { board = new_board(), first = "X", turn = "X", seats = {}, score = { X = 0, O = 0, draw = 0 } }
end

-- "X" or "O" with the winning line, "draw", or nil while the game goes on.
local function outcome(board)
    for _, l in ipairs(LINES) do
        local a = board[l[1]]
        if a ~= "" and a == board[l[2]] and a == board[l[3]] then
            return a, l
        end
    end
    for i = 1, 9 do
        if board[i] == "" then
            return nil
        end
    end
    return "draw"
end

local function seat_of(conn)
    return conn.attachment and conn.attachment.seat
end

-- The room's members, with `joining` (not among room:connections() until
-- join returns) and without `leaving` (on its way out).
local function members(room, joining, leaving)
    local list = { joining }
    for _, c in ipairs(room:connections()) do
        if c ~= leaving and c ~= joining then
            list[#list + 1] = c
        end
    end
    return list
end

-- What everyone may see (no tokens).
local function view(room, joining, leaving)
    local g, online, watching = room.game, {}, 0
    for _, c in ipairs(members(room, joining, leaving)) do
        local seat = seat_of(c)
        if seat then
            online[seat] = true
        else
            watching = watching + 1
        end
    end
    local players = {}
    for _, seat in ipairs({ "X", "O" }) do
        local s = g.seats[seat]
        players[seat] = s and { name = s.name, online = online[seat] == true } or json.null
    end
    local line = json.null
    if g.line then
        line = json.array({ g.line[1] - 1, g.line[2] - 1, g.line[3] - 1 })
    end
    return {
        type = "state",
        room = room.id,
        board = json.array(g.board),
        turn = g.winner and json.null or g.turn,
        winner = g.winner or json.null,
        line = line,
        players = players,
        spectators = watching,
        score = g.score,
    }
end

local function save_and_show(room, joining)
    room.storage:put("game", room.game)
    local state = view(room, joining)
    room:broadcast(state)
    if joining then -- not reached by broadcast until join returns
        joining:send(state)
    end
end

function Game.init(room)
    room.game = room.storage:get("game") or new_game()
end

function Game.request(room, req)
    if req.rest ~= "" then
        return { status = 404, json = { error = "game rooms have no sub-paths" } }
    elseif req.method ~= "GET" then
        return { status = 405, json = { error = "use GET, or join with a WebSocket to play" } }
    end
    return { json = view(room) }
end

-- The seat for token: the one it holds, else a free one, else none (a spectator).
local function take_seat(room, token, name)
    local seats = room.game.seats
    if not token then
        return nil
    end
    for _, seat in ipairs({ "X", "O" }) do
        if seats[seat] and seats[seat].token == token then
            seats[seat].name = name or seats[seat].name
            return seat
        end
    end
    for _, seat in ipairs({ "X", "O" }) do
        if not seats[seat] then
            seats[seat] = { token = token, name = name or ("Player " .. seat) }
            return seat
        end
    end
end

local function clean_name(name)
    name = type(name) == "string" and name:match("^%s*(.-)%s*$") or ""
    if name == "" or #name > 64 or name:find("%c") then
        return nil
    end
    return name
end

function Game.join(room, conn, req)
    if req.rest ~= "" then
        return false, "game rooms have no sub-paths"
    end
    local token = req.query.player
    if token and not token:match("^[%w_-]+$") or token and #token > 64 then
        return false, "player must be 1 to 64 letters, digits, '-' or '_'"
    end
    local seat = take_seat(room, token, clean_name(req.query.name))
    conn:set_attachment({ seat = seat })
    conn:send({ type = "welcome", seat = seat or json.null })
    save_and_show(room, conn)
end

-- A lobby (demos/lobby) seats two players before they come: {seats = {X = {token =, name =},
-- O = {...}}}. A seat already held by another player is not given away.
function Game.call(room, value, from)
    if from.ns ~= "lobby" or type(value) ~= "table" or type(value.seats) ~= "table" then
        error("only a lobby seats players, with {seats = {X = ..., O = ...}}")
    end
    local seats = room.game.seats
    for _, seat in ipairs({ "X", "O" }) do
        local p = value.seats[seat]
        if type(p) ~= "table" or type(p.token) ~= "string" then
            error("seat " .. seat .. " needs a player token")
        elseif seats[seat] and seats[seat].token ~= p.token then
            error("seat " .. seat .. " is taken")
        end
    end
    for _, seat in ipairs({ "X", "O" }) do
        local p = value.seats[seat]
        seats[seat] = { token = p.token, name = clean_name(p.name) or ("Player " .. seat) }
    end
    save_and_show(room)
    return { game = room.id }
end

-- Why seat may not play cell (0-based) now, or nil when it may.
local function refuse_move(g, seat, cell)
    if not seat then
        return "spectators cannot move"
    elseif not (g.seats.X and g.seats.O) then
        return "wait for a second player"
    elseif g.winner then
        return "the game is over: start a rematch"
    elseif g.turn ~= seat then
        return "it is not your turn"
    elseif type(cell) ~= "number" or cell % 1 ~= 0 or cell < 0 or cell > 8 then
        return "cell must be a whole number from 0 to 8"
    elseif g.board[cell + 1] ~= "" then
        return "that cell is taken"
    end
end

local function move(room, conn, cell)
    local g, seat = room.game, seat_of(conn)
    local why = refuse_move(g, seat, cell)
    if why then
        return conn:send({ type = "error", error = why })
    end
    g.board[cell + 1] = seat
    local result, line = outcome(g.board)
    g.winner, g.line = result, line
    if result then
        g.score[result] = g.score[result] + 1
    else
        g.turn = OTHER[seat]
    end
    save_and_show(room)
end

local function rematch(room, conn)
    local g = room.game
    if not seat_of(conn) then
        return conn:send({ type = "error", error = "only the players can start a rematch" })
    elseif not g.winner then
        return conn:send({ type = "error", error = "finish this game first" })
    end
    g.board, g.winner, g.line = new_board(), nil, nil
    g.first = OTHER[g.first]
    g.turn = g.first
    save_and_show(room)
end

function Game.message(room, conn, msg)
    local kind = json.is_object(msg) and msg.type
    if kind == "move" then
        move(room, conn, msg.cell)
    elseif kind == "rematch" then
        rematch(room, conn)
    else
        conn:send({ type = "error", error = 'send {"type": "move", "cell": 0..8} or {"type": "rematch"}' })
    end
end

function Game.leave(room, conn)
    room:broadcast(view(room, nil, conn))
end

return Game
