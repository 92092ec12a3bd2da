// vote.test.js: the vote page in real browsers: live counts between two
// people in one room, nothing in another room, the node shown, expiry visible.
import { test } from "node:test";
import assert from "node:assert/strict";
import { horizontalOverflow, newPage, screenshot, uniqueRoom, useServerAndBrowser, waitText } from "./harness.js";

const TTL_S = 3;
const env = useServerAndBrowser([`vote.ttl=${TTL_S}`]);

async function openVote(room, opts) {
    const page = await newPage(env.browser, opts);
    await page.goto(`${env.server.url}/vote/${encodeURIComponent(room)}`);
    await waitText(page, "#status", "live");
    return page;
}

test("a vote in one browser shows in another within a second, not in another room", async () => {
    const room = uniqueRoom("vote");
    const alice = await openVote(room);
    const bob = await openVote(room, { phone: true });
    const carol = await openVote(uniqueRoom("elsewhere"));
    const question = await alice.textContent("#question");
    assert.notEqual(question, "…");
    assert.equal(await bob.textContent("#question"), question);
    assert.equal(await alice.textContent("#node"), "browser-test");

    await alice.click("#opt0");
    await waitText(bob, "#count0", "1", 1000);
    await bob.click("#opt1");
    await waitText(alice, "#count1", "1", 1000);
    await waitText(alice, "#count0", "1");

    await carol.waitForTimeout(300); // give a wrong broadcast time to arrive
    assert.equal(await carol.textContent("#count0"), "0");
    assert.equal(await carol.textContent("#count1"), "0");

    const stored = await (await fetch(`${env.server.url}/vote/${encodeURIComponent(room)}`)).json();
    assert.deepEqual(stored.votes, [1, 1]);
    assert.equal(await horizontalOverflow(bob), 0, "the phone page scrolls sideways");
    await screenshot(alice, "vote-desktop");
    await screenshot(bob, "vote-phone");
    for (const p of [alice, bob, carol]) assert.deepEqual(p.errors, []);
});

test("the counts reset on every open page when the votes expire", async () => {
    const room = uniqueRoom("expiry");
    const alice = await openVote(room);
    const bob = await openVote(room);
    await alice.click("#opt1");
    await waitText(bob, "#count1", "1", 1000);
    // The alarm fires TTL_S after the vote (polled every 200 ms): allow a few seconds more.
    await waitText(bob, "#count1", "0", TTL_S * 1000 + 5000);
    await waitText(alice, "#count1", "0", 1000);
});
