// cluster.test.js: a page whose room moves to another node (cluster mode,
// docs/cluster.md). Two roomd nodes share one Redis; the page is open on n1
// when a vote reaches n2: n2 asks n1 for the room, n1 closes the page's
// WebSocket with 1012, roomd.js reconnects by itself (to n1, which takes the
// room back from storage), and the page shows the vote cast at n2.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Roomd, launchBrowser, newPage, uniqueRoom, waitText } from "./harness.js";

const env = {};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A redis-server of the test's own on a unix socket (no port), gone with the test.
async function startRedis() {
    const dir = mkdtempSync(join(tmpdir(), "roomd-browser-redis-"));
    const sock = join(dir, "redis.sock");
    const proc = spawn("redis-server", ["--port", "0", "--unixsocket", sock, "--dir", dir,
        "--save", "", "--appendonly", "no"], { stdio: "ignore" });
    for (const deadline = Date.now() + 10000; !existsSync(sock); await sleep(20))
        if (Date.now() > deadline) throw new Error("redis-server did not start");
    return { dir, url: "unix://" + sock, proc };
}

before(async () => {
    env.redis = await startRedis();
    const args = ["--cluster", "--redis", env.redis.url];
    env.n1 = await new Roomd(["cluster.lease_ms=1000"], { node: "n1", args }).start();
    env.n2 = await new Roomd(["cluster.lease_ms=1000"], { node: "n2", args }).start();
    env.browser = await launchBrowser();
});

after(async () => {
    await env.browser?.close();
    await env.n1?.cleanup();
    await env.n2?.cleanup();
    env.redis?.proc.kill("SIGKILL");
    if (env.redis) rmSync(env.redis.dir, { recursive: true, force: true });
});

test("a page follows its room when the room moves between nodes", async () => {
    const room = uniqueRoom("moving");
    const page = await newPage(env.browser);
    await page.goto(`${env.n1.url}/vote/${encodeURIComponent(room)}`);
    await waitText(page, "#status", "live");
    assert.equal(await page.textContent("#node"), "n1");
    await page.click("#opt1");
    await waitText(page, "#count1", "1", 2000);

    // A vote at n2 moves the room there: n1 hands it over and closes the page's socket (1012).
    const res = await fetch(`${env.n2.url}/vote/${encodeURIComponent(room)}`, {
        method: "POST",
        body: JSON.stringify({ option: 0 }),
    });
    const body = await res.json();
    assert.equal(res.status, 200);
    assert.deepEqual([body.node, body.votes], ["n2", [1, 1]]);

    // roomd.js reconnects without being asked; the room comes back to n1 with both votes.
    await waitText(page, "#count0", "1", 5000);
    await waitText(page, "#status", "live", 5000);
    assert.equal(await page.textContent("#count1"), "1");
    assert.equal(await page.textContent("#node"), "n1");
    assert.match(env.n1.log, /handed over to another node/);
    assert.deepEqual(page.errors, []);
});
