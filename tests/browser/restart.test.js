// restart.test.js: roomd stops and starts again (same port, same data) while
// pages are open: every page sees the connection go, reconnects by itself,
// and shows the stored state; the game player keeps the seat.
import { test } from "node:test";
import assert from "node:assert/strict";
import { newPage, uniqueRoom, useServerAndBrowser, waitText } from "./harness.js";

const env = useServerAndBrowser();

async function open(path) {
    const page = await newPage(env.browser);
    await page.goto(env.server.url + path);
    return page;
}

const notLive = () => document.getElementById("status").dataset.state !== "open";

test("pages reconnect after a restart and show what was stored", async () => {
    const vote = await open(`/vote/${uniqueRoom("restart")}`);
    await waitText(vote, "#status", "live");
    await vote.click("#opt1");
    await waitText(vote, "#count1", "1");

    const chat = await open(`/chat/${uniqueRoom("restart")}?name=Dana`);
    await waitText(chat, "#status", "live");
    await chat.fill("#text", "said before the restart");
    await chat.click("#send");
    await chat.waitForFunction(() => document.getElementById("messages").textContent.includes("before the restart"));

    const game = await open(`/game/${uniqueRoom("restart")}`);
    await waitText(game, "#you", "playing X");
    const rival = await open(game.url().replace(env.server.url, ""));
    await waitText(rival, "#you", "playing O");
    await game.click("#cell4");
    await waitText(rival, "#cell4", "X");

    await env.server.stop();
    for (const page of [vote, chat, game]) await page.waitForFunction(notLive);
    await env.server.start();

    for (const page of [vote, chat, game, rival]) await waitText(page, "#status", "live");
    await waitText(vote, "#count1", "1");
    await chat.waitForFunction(() => document.getElementById("messages").textContent.includes("before the restart"));
    assert.equal(await chat.$$eval("#messages li:not(.event)", (l) => l.length), 1, "history shown twice");
    await waitText(game, "#you", "playing X");
    await waitText(game, "#cell4", "X");
    await waitText(rival, "#turn", "Your turn (O)");
    await rival.click("#cell0");
    await waitText(game, "#cell0", "O");
    for (const p of [vote, chat, game, rival]) assert.deepEqual(p.errors, []);
});
