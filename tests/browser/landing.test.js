// landing.test.js: the landing page lists the demos and opens a room by name.
import { test } from "node:test";
import assert from "node:assert/strict";
import { horizontalOverflow, newPage, screenshot, useServerAndBrowser, waitText } from "./harness.js";

const env = useServerAndBrowser();

test("the landing page opens a demo room by name", async () => {
    const page = await newPage(env.browser, { phone: true });
    await page.goto(env.server.url + "/");
    const demos = await page.$$eval(".demos h2 a", (links) => links.map((a) => a.getAttribute("href")));
    assert.deepEqual(demos, ["/vote/lobby", "/chat/lobby", "/game/lobby", "/lobby/main"]);
    assert.equal(await horizontalOverflow(page), 0, "the phone page scrolls sideways");
    await screenshot(page, "landing-phone");

    await page.selectOption("#demo", "game");
    await page.fill("#room-name", "room with spaces");
    await page.click("#open button");
    await page.waitForURL(env.server.url + "/game/room%20with%20spaces");
    await waitText(page, "#room", "room with spaces");
    await waitText(page, "#status", "live");
    assert.deepEqual(page.errors, []);
});
