// game.test.js: tic-tac-toe in real browsers: two players and a spectator, the
// room refusing illegal moves, a win, a rematch, and a reloaded player page
// taking its seat back.
import { test } from "node:test";
import assert from "node:assert/strict";
import { horizontalOverflow, newPage, screenshot, uniqueRoom, useServerAndBrowser, waitText } from "./harness.js";

const env = useServerAndBrowser();

async function openGame(room, opts) {
    const page = await newPage(env.browser, opts);
    await page.goto(`${env.server.url}/game/${encodeURIComponent(room)}`);
    await waitText(page, "#status", "live");
    return page;
}

const board = (page) => page.$$eval("#board button", (cells) => cells.map((c) => c.textContent));

async function move(page, cell) {
    await page.click(`#cell${cell}`);
}

async function waitBoard(page, want) {
    await page
        .waitForFunction((w) => [...document.querySelectorAll("#board button")].map((c) => c.textContent).join() === w, want.join(), {
            timeout: 2000,
        })
        .catch(async () => assert.deepEqual(await board(page), want));
}

test("a full game: illegal moves refused, a reload keeps the seat, a win, a rematch", async () => {
    const room = uniqueRoom("game");
    const alice = await openGame(room);
    await waitText(alice, "#you", "playing X");
    const bob = await openGame(room, { phone: true });
    await waitText(bob, "#you", "playing O");
    const carol = await openGame(room);
    await waitText(carol, "#you", "watching");
    await waitText(alice, "#turn", "Your turn (X)");
    await waitText(bob, "#turn", "X to play");
    await waitText(alice, "#spectators", "1");

    await move(bob, 4); // not O's turn
    await waitText(bob, "#error", "it is not your turn");
    await move(alice, 0);
    const afterFirst = ["X", "", "", "", "", "", "", "", ""];
    await waitBoard(bob, afterFirst);
    await move(bob, 0); // taken
    await waitText(bob, "#error", "that cell is taken");
    await move(carol, 5);
    await waitText(carol, "#error", "spectators cannot move");
    await waitBoard(alice, afterFirst);
    await waitBoard(carol, afterFirst);

    await bob.reload();
    await waitText(bob, "#status", "live");
    await waitText(bob, "#you", "playing O");
    await waitBoard(bob, afterFirst);
    await waitText(bob, "#turn", "Your turn (O)");

    for (const [page, cell] of [[bob, 3], [alice, 1], [bob, 4], [alice, 2]]) {
        await move(page, cell);
        await page.waitForFunction((c) => document.getElementById("cell" + c).textContent !== "", cell);
    }
    await waitText(alice, "#turn", "You win!");
    await waitText(bob, "#turn", "X wins!");
    await waitText(carol, "#turn", "X wins!");
    const winning = await carol.$$eval("#board button.win", (cells) => cells.map((c) => c.id));
    assert.deepEqual(winning, ["cell0", "cell1", "cell2"]);
    await waitText(carol, "#score-X", "1");
    await move(bob, 8);
    await waitText(bob, "#error", "the game is over: start a rematch");
    assert.equal(await carol.isVisible("#rematch"), false, "a spectator is offered a rematch");
    assert.equal(await horizontalOverflow(bob), 0, "the phone page scrolls sideways");
    await screenshot(alice, "game-desktop");
    await screenshot(bob, "game-phone");

    await bob.click("#rematch");
    await waitBoard(alice, ["", "", "", "", "", "", "", "", ""]);
    await waitText(bob, "#turn", "Your turn (O)"); // the other player starts the rematch
    await waitText(alice, "#turn", "O to play");
    for (const p of [alice, bob, carol]) assert.deepEqual(p.errors, []);

    const stored = await (await fetch(`${env.server.url}/game/${encodeURIComponent(room)}`)).json();
    assert.deepEqual(stored.score, { X: 1, O: 0, draw: 0 });
    assert.equal(JSON.stringify(stored).includes(await alice.evaluate(() => localStorage.getItem("roomd-player"))), false,
        "a player's token is shown to others");
});
