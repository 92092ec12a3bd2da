// chat_auth.test.js: the chat page with tokens (docs/operations.md): with
// ROOMD_CHAT_SECRET set, a page opened with ?token= joins under the token's
// "name" claim, which the others see; a page with a forged token is refused
// at the door and never joins.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { newPage, screenshot, uniqueRoom, useServerAndBrowser, waitText } from "./harness.js";

const SECRET = "browser-test-secret-of-32-bytes-at-least";
process.env.ROOMD_CHAT_SECRET = SECRET;
const env = useServerAndBrowser();

const b64 = (s) => Buffer.from(s).toString("base64url");

function token(claims, secret = SECRET) {
    const body = `${b64(JSON.stringify({ alg: "HS256", typ: "JWT" }))}.${b64(JSON.stringify(claims))}`;
    return `${body}.${createHmac("sha256", secret).update(body).digest("base64url")}`;
}

const exp = () => Math.floor(Date.now() / 1000) + 600;

test("a token's name claim names its holder, and the others see it", async () => {
    const room = uniqueRoom("auth");
    const grace = await newPage(env.browser);
    await grace.goto(`${env.server.url}/chat/${room}?token=${token({ sub: "g", name: "Grace H", exp: exp() })}`);
    await waitText(grace, "#status", "live");
    await waitText(grace, "#you", "Grace H");
    const alan = await newPage(env.browser);
    await alan.goto(`${env.server.url}/chat/${room}?token=${token({ sub: "a", name: "Alan T", exp: exp() })}`);
    await waitText(alan, "#you", "Alan T");
    await grace.waitForFunction(
        () => [...document.querySelectorAll("#present li")].map((l) => l.textContent).join() === "Alan T,Grace H",
        null,
        { timeout: 10000 },
    );
    await screenshot(grace, "chat-token");
    await grace.close();
    await alan.close();
});

test("a forged token is refused and the page never joins", async () => {
    const room = uniqueRoom("auth");
    const page = await newPage(env.browser);
    await page.goto(`${env.server.url}/chat/${room}?token=${token({ name: "Mallory", exp: exp() }, "x".repeat(40))}`);
    await page.waitForFunction(() => document.querySelector("#status").dataset.state !== "connecting", null, {
        timeout: 10000,
    });
    assert.notEqual(await page.textContent("#you"), "Mallory");
    const res = await fetch(`${env.server.url}/chat/${room}`, {
        headers: { authorization: `Bearer ${token({ name: "Mallory" }, "x".repeat(40))}` },
    });
    assert.equal(res.status, 401);
    assert.match(res.headers.get("www-authenticate"), /invalid_token/);
    assert.match(env.server.log, /refused at the door/);
    await page.close();
});
