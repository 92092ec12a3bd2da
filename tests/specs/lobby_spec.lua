-- lobby_spec.lua: demos/lobby/lobby.lua, matchmaking into game rooms with rooms.call.
local function wait(lobby, player, name)
    return lobby:connect({ query = { player = player, name = name } })
end

describe("lobby", function()
    it("tells the first player to wait", function()
        local ann = wait(t.room("lobby", "l"), "pa", "Ann")
        expect(ann:receive()).to_equal({ type = "waiting", position = 1 })
    end)

    it("seats two players in a new game room and sends both there", function()
        local lobby = t.room("lobby", "l")
        local ann = wait(lobby, "pa", "Ann")
        ann:received()
        local bob = wait(lobby, "pb", "Bob")
        expect(ann:receive()).to_equal({ type = "match", game = "l-1", seat = "X", against = "Bob" })
        expect(bob:receive()).to_equal({ type = "match", game = "l-1", seat = "O", against = "Ann" })
        local game = t.room("game", "l-1"):get().json
        expect(game.players.X.name).to_equal("Ann")
        expect(game.players.O.name).to_equal("Bob")
        expect(lobby:get().json).to_equal({ waiting = 0, games = 1 })
    end)

    it("never hands out a game id twice, across a restart", function()
        local lobby = t.room("lobby", "l")
        wait(lobby, "p1", "A")
        wait(lobby, "p2", "B")
        lobby:restart()
        wait(lobby, "p3", "C")
        local d = wait(lobby, "p4", "D")
        expect(d:receive().game).to_equal("l-2")
    end)

    it("refuses a player without a token", function()
        local conn = t.room("lobby", "l"):connect({ query = {} })
        expect(conn:closed()).to_be_truthy()
    end)
end)
