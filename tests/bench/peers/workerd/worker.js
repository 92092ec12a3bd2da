// worker.js: the workerd peer of roomd for tests/bench/run.sh (see
// config.capnp). The worker routes /<ns>/<id> to the Durable Object named
// <id> (idFromName) of the namespace's class:
//
//   relay    WebSocket Hibernation API: the object accepts each socket with
//            state.acceptWebSocket; webSocketMessage sends every JSON object
//            (JSON.stringify'd once) to state.getWebSockets(), sender
//            included; anything else gets {"error": ...} to the sender.
//            GET -> {"connections": N}.
//   counter  GET -> {"value": N}; POST stores N+1 with storage.put and answers
//            {"value": N+1}; the output gate holds the answer until the write
//            is on disk. The first increment also sets an alarm (now +
//            COUNTER_TTL_MS, default a week) when none is pending; alarm()
//            deletes the room's storage, like the vote room's expiry.
//
// Errors are {"error": ...} with 404 (unknown path), 405 (method), 400 (id).
const ID_MAX = 256;
const WEEK_MS = 7 * 24 * 3600 * 1000;

function json(status, obj) {
    return new Response(JSON.stringify(obj), {
        status,
        headers: { 'Content-Type': 'application/json' },
    });
}

// route('/counter/abc') -> { ns: 'counter', id: 'abc' }, or null.
function route(pathname) {
    const m = /^\/([a-z][a-z0-9_-]{0,31})\/([^/]+)$/.exec(pathname);
    if (!m) return null;
    let id;
    try {
        id = decodeURIComponent(m[2]);
    } catch {
        return null;
    }
    if (new TextEncoder().encode(id).length > ID_MAX || /[\x00-\x1f\x7f]/.test(id)) return null;
    return { ns: m[1], id };
}

function parseObject(data) {
    if (typeof data !== 'string') return null;
    try {
        const v = JSON.parse(data);
        return v !== null && typeof v === 'object' && !Array.isArray(v) ? v : null;
    } catch {
        return null;
    }
}

export default {
    async fetch(request, env) {
        const { pathname } = new URL(request.url);
        if (pathname === '/healthz') return json(200, { ok: true });
        const r = route(pathname);
        const ns = r && { relay: env.RELAY, counter: env.COUNTER }[r.ns];
        if (!ns) return json(404, { error: 'no such room or namespace' });
        return ns.get(ns.idFromName(r.id)).fetch(request);
    },
};

export class Relay {
    constructor(state) {
        this.state = state;
    }

    async fetch(request) {
        if (request.headers.get('Upgrade') === 'websocket') return this.accept();
        if (request.method !== 'GET') return json(405, { error: 'use GET' });
        return json(200, { connections: this.state.getWebSockets().length });
    }

    accept() {
        const [client, server] = Object.values(new WebSocketPair());
        this.state.acceptWebSocket(server);
        return new Response(null, { status: 101, webSocket: client });
    }

    webSocketMessage(ws, data) {
        const msg = parseObject(data);
        if (!msg) {
            ws.send(JSON.stringify({ error: 'send a JSON object' }));
            return;
        }
        const text = JSON.stringify(msg);
        for (const peer of this.state.getWebSockets()) {
            try {
                peer.send(text);
            } catch {
                // closing already; its webSocketClose comes next
            }
        }
    }

    webSocketClose(ws, code) {
        try {
            ws.close(code === 1005 || code === 1006 ? 1000 : code, 'bye');
        } catch {
            // already closed
        }
    }
}

export class Counter {
    constructor(state, env) {
        this.state = state;
        this.ttl = Number(env.COUNTER_TTL_MS) || WEEK_MS;
        this.alarmSet = false;
        state.blockConcurrencyWhile(async () => {
            this.value = (await state.storage.get('value')) ?? 0;
            this.alarmSet = (await state.storage.getAlarm()) !== null;
        });
    }

    async fetch(request) {
        if (request.method === 'POST') return this.increment();
        if (request.method !== 'GET') return json(405, { error: 'use GET or POST' });
        return json(200, { value: this.value });
    }

    increment() {
        this.value += 1;
        this.state.storage.put('value', this.value);
        if (!this.alarmSet) {
            this.state.storage.setAlarm(Date.now() + this.ttl);
            this.alarmSet = true;
        }
        return json(200, { value: this.value });
    }

    async alarm() {
        await this.state.storage.deleteAll();
        this.value = 0;
        this.alarmSet = false;
    }
}
