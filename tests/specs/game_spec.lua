-- game_spec.lua: demos/game/game.lua, tic-tac-toe with the rules in the room.
local function seat(room, player, name)
    local conn = room:connect({ query = { player = player, name = name } })
    local welcome = conn:receive()
    conn:received()
    return conn, welcome.seat
end

-- Plays the cells (0-based) in turn, X first, and gives the last state X saw.
local function play(x, o, cells)
    for i, cell in ipairs(cells) do
        local mover = i % 2 == 1 and x or o
        mover:send({ type = "move", cell = cell })
    end
    local states = x:received()
    o:received()
    return states[#states]
end

describe("game", function()
    local room, x, o
    before_each(function()
        room = t.room("game", "g")
        x = seat(room, "px", "Xena")
        o = seat(room, "po", "Otto")
    end)

    it("seats the first two players and lets the third watch", function()
        local _, third = seat(room, "pz")
        expect(third).to_equal(json.null)
        local state = room:get().json
        expect(state.players.X).to_equal({ name = "Xena", online = true })
        expect(state.players.O).to_equal({ name = "Otto", online = true })
        expect(state.spectators).to_equal(1)
    end)

    it("detects a win on a row and keeps score", function()
        local state = play(x, o, { 0, 3, 1, 4, 2 })
        expect(state.winner).to_equal("X")
        expect(state.line).to_equal({ 0, 1, 2 })
        expect(state.score).to_equal({ X = 1, O = 0, draw = 0 })
    end)

    it("detects a draw", function()
        local state = play(x, o, { 0, 1, 2, 4, 3, 5, 7, 6, 8 })
        expect(state.winner).to_equal("draw")
    end)

    it("refuses moves out of turn, on taken cells and off the board", function()
        o:send({ type = "move", cell = 0 })
        expect(o:receive()).to_equal({ type = "error", error = "it is not your turn" })
        x:send({ type = "move", cell = 4 })
        o:received()
        o:send({ type = "move", cell = 4 })
        expect(o:receive().error).to_equal("that cell is taken")
        o:send({ type = "move", cell = 9 })
        expect(o:receive().error).to_match("^cell must be")
        expect(room:get().json.board).to_equal({ "", "", "", "", "X", "", "", "", "" })
    end)

    it("gives a player who comes back the same seat, also after a restart", function()
        x:send({ type = "move", cell = 0 })
        x:close()
        room:restart()
        local again, s = seat(room, "px")
        expect(s).to_equal("X")
        expect(room:get().json.board[1]).to_equal("X")
        again:send({ type = "move", cell = 1 })
        expect(again:receive().error).to_equal("it is not your turn")
    end)

    it("starts a rematch with the other player first", function()
        play(x, o, { 0, 3, 1, 4, 2 })
        o:send({ type = "rematch" })
        local state = o:receive()
        expect(state.board).to_equal({ "", "", "", "", "", "", "", "", "" })
        expect(state.turn).to_equal("O")
        expect(room.storage:get("game").score.X).to_equal(1)
    end)
end)
