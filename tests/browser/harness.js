// harness.js: what the browser tests share. Starts a real roomd (the
// repository's default config, its embedded Redis, a fresh data folder) on a
// free loopback port, restarts it on the same port and data, and launches
// Debian's Chromium headless through playwright-core. Every wait is bounded.
import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before } from "node:test";
import { chromium } from "playwright-core";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const ROOMD = process.env.ROOMD_BIN || join(ROOT, "build/roomd");
const CHROMIUM = process.env.CHROMIUM_BIN || "/usr/bin/chromium";
export const SCREENSHOTS = process.env.SCREENSHOT_DIR || join(ROOT, "tests/browser/screenshots");
export const TIMEOUT_MS = 10000; // longest wait for anything a page should show

function freePort() {
    return new Promise((ok, fail) => {
        const srv = createServer();
        srv.once("error", fail);
        srv.listen(0, "127.0.0.1", () => {
            const { port } = srv.address();
            srv.close(() => ok(port));
        });
    });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export class Roomd {
    // sets: --set values; node: --node; args: further flags (e.g. --cluster --redis URL).
    constructor(sets = [], { node = "browser-test", args = [] } = {}) {
        this.sets = sets;
        this.node = node;
        this.args = args;
        this.data = mkdtempSync(join(tmpdir(), "roomd-browser-"));
        this.log = "";
        this.proc = null;
    }

    async start() {
        this.port ??= await freePort();
        this.url = `http://127.0.0.1:${this.port}`;
        const args = ["--port", String(this.port), "--data", this.data, "--node", this.node];
        for (const s of this.sets) args.push("--set", s);
        args.push(...this.args);
        this.proc = spawn(ROOMD, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
        this.exited = new Promise((r) => this.proc.once("exit", (code, sig) => r({ code, sig })));
        for (const stream of [this.proc.stdout, this.proc.stderr]) stream.on("data", (d) => (this.log += d));
        await this.waitHealthy();
        return this;
    }

    async waitHealthy() {
        for (const deadline = Date.now() + TIMEOUT_MS; Date.now() < deadline; ) {
            if (this.proc.exitCode !== null) break;
            try {
                if ((await fetch(this.url + "/healthz")).ok) return;
            } catch {
                // not listening yet
            }
            await sleep(50);
        }
        throw new Error(`roomd did not come up on ${this.url}:\n${this.log}`);
    }

    // SIGTERM, then waits for exit 0 (docs/cli-contract.md's graceful stop).
    async stop() {
        if (!this.proc || this.proc.exitCode !== null) return;
        this.proc.kill("SIGTERM");
        const timer = setTimeout(() => this.proc.kill("SIGKILL"), TIMEOUT_MS);
        const { code, sig } = await this.exited;
        clearTimeout(timer);
        if (code !== 0) throw new Error(`roomd exited with ${code ?? sig}:\n${this.log}`);
    }

    async restart() {
        await this.stop();
        await this.start();
    }

    async cleanup() {
        await this.stop();
        rmSync(this.data, { recursive: true, force: true });
    }
}

export async function launchBrowser() {
    return chromium.launch({
        executablePath: CHROMIUM,
        headless: true,
        args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
    });
}

// A fresh context (its own cookies and localStorage: another person) with a
// phone-sized or desktop-sized viewport; page errors fail the test.
export async function newPage(browser, { phone = false } = {}) {
    const context = await browser.newContext({
        viewport: phone ? { width: 390, height: 780 } : { width: 1100, height: 800 },
        isMobile: phone,
        hasTouch: phone,
    });
    const page = await context.newPage();
    page.setDefaultTimeout(TIMEOUT_MS);
    page.errors = [];
    page.on("pageerror", (e) => page.errors.push(e));
    return page;
}

export async function screenshot(page, name) {
    mkdirSync(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: join(SCREENSHOTS, name + ".png"), fullPage: true });
}

// A room name no other test or run uses.
export function uniqueRoom(prefix) {
    return `${prefix}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
}

// How many pixels the page sticks out of its viewport sideways (0: it fits a phone).
export async function horizontalOverflow(page) {
    return page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
}

// Waits until the element matching selector shows exactly text.
export async function waitText(page, selector, text, timeout = TIMEOUT_MS) {
    await page.waitForFunction(
        ([sel, want]) => document.querySelector(sel)?.textContent.trim() === want,
        [selector, text],
        { timeout },
    );
}

// Starts roomd (with --set for each of sets) and Chromium before the file's tests and stops
// both after them; the returned object's server and browser are set once they are up.
export function useServerAndBrowser(sets = []) {
    const env = {};
    before(async () => {
        env.server = await new Roomd(sets).start();
        env.browser = await launchBrowser();
    });
    after(async () => {
        await env.browser?.close();
        await env.server?.cleanup();
    });
    return env;
}
