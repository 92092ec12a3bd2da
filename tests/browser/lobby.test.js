// lobby.test.js: matchmaking in real browsers: two people wait in a lobby, the lobby room opens
// a game room with rooms.call and seats them there, both pages go to it on their own, and the
// game is theirs (X and O as seated, a move seen by both); a third person waits for the next.
import { test } from "node:test";
import assert from "node:assert/strict";
import { newPage, screenshot, uniqueRoom, useServerAndBrowser, waitText } from "./harness.js";

const env = useServerAndBrowser();

async function openLobby(lobby) {
    const page = await newPage(env.browser);
    await page.goto(`${env.server.url}/lobby/${encodeURIComponent(lobby)}`);
    return page;
}

test("two people in a lobby are seated in a game of their own", async () => {
    const lobby = uniqueRoom("lobby");
    const alice = await openLobby(lobby);
    await waitText(alice, "#info", "Waiting for an opponent…");
    await screenshot(alice, "lobby-waiting");
    const bob = await openLobby(lobby);
    const game = `${lobby}-1`;
    for (const page of [alice, bob]) {
        await page.waitForURL(`**/game/${encodeURIComponent(game)}`);
        await waitText(page, "#status", "live");
    }
    await waitText(alice, "#you", "playing X");
    await waitText(bob, "#you", "playing O");
    await waitText(alice, "#turn", "Your turn (X)");
    await alice.click("#cell4");
    await bob.waitForFunction(() => document.getElementById("cell4").textContent === "X");
    await waitText(bob, "#turn", "Your turn (O)");

    const carol = await openLobby(lobby); // the next pair's first player
    await waitText(carol, "#info", "Waiting for an opponent…");
    const res = await fetch(`${env.server.url}/lobby/${encodeURIComponent(lobby)}`);
    assert.deepEqual(await res.json(), { waiting: 1, games: 1 });
    for (const page of [alice, bob, carol]) assert.deepEqual(page.errors, []);
});
