// roomd.js: a small browser client for roomd rooms (an ES module, no build step).
//
//   import { RoomSocket } from "/roomd.js";
//   const room = new RoomSocket("/vote/berlin", {
//       query: { name: "ada" },              // added to the URL (optional)
//       onmessage: (msg) => { ... },         // every JSON message from the room
//       onstate: (state, detail) => { ... }, // "connecting", "open", "waiting", "closed"
//   });
//   room.send({ option: 0 });                // false when not connected
//   room.close();
//
// It reconnects by itself: after a lost connection it waits (exponential backoff
// from 250 ms to 10 s, with jitter so a restarted server is not hit by every
// page at once) and tries again, for as long as the page is open. It stops for
// good only when the page calls close() or the room refuses the connection
// (close codes 1000, 1003, 1008, 1009: retrying would be refused again); then
// the state is "closed" and detail.reason says why.

const FINAL_CODES = new Set([1000, 1003, 1008, 1009]);

export function roomUrl(path, query = {}) {
    const url = new URL(path, window.location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    for (const [key, value] of Object.entries(query)) {
        if (value !== undefined && value !== null) url.searchParams.set(key, value);
    }
    return url.toString();
}

// The wait before retry number `attempt` (0-based): half fixed, half random.
export function backoffDelay(attempt, minMs = 250, maxMs = 10000) {
    const ceiling = Math.min(maxMs, minMs * 2 ** attempt);
    return ceiling / 2 + Math.random() * (ceiling / 2);
}

export class RoomSocket {
    constructor(path, { query = {}, onmessage = () => {}, onstate = () => {}, minDelayMs = 250, maxDelayMs = 10000 } = {}) {
        this.url = roomUrl(path, query);
        this.onmessage = onmessage;
        this.onstate = onstate;
        this.minDelayMs = minDelayMs;
        this.maxDelayMs = maxDelayMs;
        this.attempt = 0;
        this.state = "";
        this.ws = null;
        this.timer = null;
        this.onOnline = () => this.retryNow();
        window.addEventListener("online", this.onOnline);
        this.connect();
    }

    send(msg) {
        if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
        this.ws.send(JSON.stringify(msg));
        return true;
    }

    close() {
        window.removeEventListener("online", this.onOnline);
        clearTimeout(this.timer);
        const ws = this.ws;
        this.ws = null;
        if (ws) ws.close(1000);
        this.setState("closed", { reason: "closed by the page" });
    }

    connect() {
        this.setState("connecting", { attempt: this.attempt });
        const ws = new WebSocket(this.url);
        this.ws = ws;
        ws.onopen = () => {
            this.attempt = 0;
            this.setState("open", {});
        };
        ws.onmessage = (event) => this.deliver(event.data);
        ws.onclose = (event) => {
            if (this.ws === ws) this.lost(event.code, event.reason);
        };
    }

    deliver(text) {
        let msg;
        try {
            msg = JSON.parse(text);
        } catch {
            console.warn("roomd: a message that is not JSON", text);
            return;
        }
        this.onmessage(msg);
    }

    lost(code, reason) {
        this.ws = null;
        if (FINAL_CODES.has(code)) {
            this.setState("closed", { code, reason: reason || `closed (${code})` });
            return;
        }
        const delay = backoffDelay(this.attempt++, this.minDelayMs, this.maxDelayMs);
        this.setState("waiting", { code, reason, delayMs: Math.round(delay) });
        this.timer = setTimeout(() => this.connect(), delay);
    }

    // Skips the wait (the browser came back online, or the user asked).
    retryNow() {
        if (this.state !== "waiting") return;
        clearTimeout(this.timer);
        this.connect();
    }

    setState(state, detail) {
        this.state = state;
        this.onstate(state, detail);
    }
}

// A line for people: what the state means.
export function describeState(state, detail = {}) {
    switch (state) {
        case "connecting":
            return detail.attempt ? `reconnecting (try ${detail.attempt + 1})…` : "connecting…";
        case "open":
            return "live";
        case "waiting":
            return `connection lost; retrying in ${(detail.delayMs / 1000).toFixed(1)} s`;
        default:
            return detail.reason ? `disconnected: ${detail.reason}` : "disconnected";
    }
}
