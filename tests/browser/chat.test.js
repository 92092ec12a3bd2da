// chat.test.js: the chat page in real browsers: live messages between two
// people, presence, the stored history shown to someone who joins later, and
// the size and rate limits told to the sender.
import { test } from "node:test";
import assert from "node:assert/strict";
import { horizontalOverflow, newPage, screenshot, uniqueRoom, useServerAndBrowser, waitText } from "./harness.js";

const env = useServerAndBrowser();

async function joinChat(room, name, opts) {
    const page = await newPage(env.browser, opts);
    await page.goto(`${env.server.url}/chat/${encodeURIComponent(room)}`);
    await page.fill("#name", name);
    await page.click("#name-form button");
    await waitText(page, "#status", "live");
    await waitText(page, "#you", name);
    assert.equal(await page.isVisible("#name-form"), false, "the name form stays after joining");
    return page;
}

async function say(page, text) {
    await page.fill("#text", text);
    await page.click("#send");
}

const lines = (page) => page.$$eval("#messages li:not(.event)", (els) => els.map((e) => e.textContent));
const present = (page) => page.$$eval("#present li", (els) => els.map((e) => e.textContent));

async function waitLine(page, text, timeout) {
    await page.waitForFunction(
        (want) => [...document.querySelectorAll("#messages li")].some((li) => li.textContent.includes(want)),
        text,
        { timeout },
    );
}

// Waits until the presence list shows names; on timeout, fails showing what it shows.
async function waitPresent(page, names) {
    const shows = (want) =>
        [...document.querySelectorAll("#present li")].map((l) => l.textContent).join() === want.join();
    await page
        .waitForFunction(shows, names, { timeout: 2000 })
        .catch(async () => assert.deepEqual(await present(page), names));
}

test("two people chat live; a third who joins later sees the history", async () => {
    const room = uniqueRoom("chat");
    const alice = await joinChat(room, "Alice");
    const bob = await joinChat(room, "Bob", { phone: true });
    await waitPresent(alice, ["Alice", "Bob"]);

    await say(alice, "hello from Alice");
    await waitLine(bob, "hello from Alice", 1000);
    await say(bob, "hi Alice, Bob here");
    await waitLine(alice, "hi Alice, Bob here", 1000);

    const carol = await joinChat(room, "Carol");
    await waitLine(carol, "hi Alice, Bob here", 1000);
    const seen = await lines(carol);
    assert.equal(seen.length, 2);
    assert.match(seen[0], /^Alicehello from Alice/);
    assert.match(seen[1], /^Bobhi Alice, Bob here/);
    await waitPresent(alice, ["Alice", "Bob", "Carol"]);
    await waitLine(alice, "Carol joined");

    assert.equal(await horizontalOverflow(bob), 0, "the phone page scrolls sideways");
    await screenshot(alice, "chat-desktop");
    await screenshot(bob, "chat-phone");

    await bob.context().close();
    await waitLine(alice, "Bob left");
    await waitPresent(alice, ["Alice", "Carol"]);
    for (const p of [alice, carol]) assert.deepEqual(p.errors, []);
});

test("too long and too fast messages get a clear error and reach nobody", async () => {
    const room = uniqueRoom("limits");
    const alice = await joinChat(room, "Alice");
    const bob = await joinChat(room, "Bob");

    await alice.$eval("#text", (el) => el.removeAttribute("maxlength")); // as a script could
    await say(alice, "x".repeat(501));
    await waitText(alice, "#error", "message too long: at most 500 characters");

    for (let i = 1; i <= 8; i++) await say(alice, `burst ${i}`);
    await waitText(alice, "#error", "slow down: at most 1 message a second");
    await waitLine(bob, "burst 5");
    await bob.waitForTimeout(300);
    const got = (await lines(bob)).filter((l) => l.includes("burst"));
    assert.ok(got.length >= 5 && got.length < 8, `bob got ${got.length} of the 8 burst messages`);
    assert.ok(!(await lines(bob)).some((l) => l.includes("xxxxx")), "the long message reached bob");
});

test("a name is required", async () => {
    const page = await newPage(env.browser);
    await page.goto(`${env.server.url}/chat/${uniqueRoom("noname")}?name=%20`);
    await waitText(page, "#status", "disconnected: pick a name");
});
