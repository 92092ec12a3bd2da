// server.js: the Node.js peer of roomd for tests/bench/run.sh, written the
// way a user would build the relay and counter rooms by hand with the npm
// packages ws and ioredis. One process; HTTP and WebSocket on 127.0.0.1:--port.
//
//   WS  /relay/<id>    every text message that parses as a JSON object is
//                      JSON.stringify'd once and sent to every connection of
//                      the room, sender included; anything else gets
//                      {"error": ...} sent to the sender alone.
//   GET /relay/<id>    {"connections": N}
//   GET /counter/<id>  {"value": N} (0 for a new room), read from Redis
//   POST /counter/<id> INCR in Redis; the reply arrives before the HTTP answer
//                      (write-through), which is {"value": N+1}
//
// A member more than CULL_BYTES behind is closed (bare_lws culls a reader
// 4,096 messages behind). No rate limits, no persistence of relay rooms.
//
// usage: node server.js [--port 8080] [--redis /path/to/redis.sock | HOST:PORT]
import http from 'node:http';
import Redis from 'ioredis';
import { WebSocketServer } from 'ws';

const CULL_BYTES = 4 << 20;
const ID_MAX = 256;
const rooms = new Map(); // relay room id -> Set of WebSockets

function parseArgs(argv) {
    const opts = { port: 8080, redis: '127.0.0.1:6379' };
    for (let i = 2; i + 1 < argv.length; i += 2) {
        if (argv[i] === '--port') opts.port = Number(argv[i + 1]);
        else if (argv[i] === '--redis') opts.redis = argv[i + 1];
        else throw new Error(`unknown option ${argv[i]}`);
    }
    return opts;
}

function redisClient(where) {
    if (where.startsWith('/')) return new Redis({ path: where });
    const [host, port] = where.split(':');
    return new Redis({ host, port: Number(port) });
}

// route('/counter/abc') -> { ns: 'counter', id: 'abc' }, or null when the
// path is not /<namespace>/<id> with a valid id.
function route(url) {
    const path = url.split('?')[0];
    const m = /^\/([a-z][a-z0-9_-]{0,31})\/([^/]+)$/.exec(path);
    if (!m) return null;
    let id;
    try {
        id = decodeURIComponent(m[2]);
    } catch {
        return null;
    }
    if (Buffer.byteLength(id) > ID_MAX || /[\x00-\x1f\x7f]/.test(id)) return null;
    return { ns: m[1], id };
}

function sendJson(res, status, obj) {
    const body = JSON.stringify(obj);
    res.writeHead(status, {
        'Content-Type': 'application/json',
        'Content-Length': Buffer.byteLength(body),
    });
    res.end(body);
}

async function counter(redis, req, res, id) {
    const key = `counter:${id}`;
    if (req.method === 'POST') return sendJson(res, 200, { value: await redis.incr(key) });
    if (req.method === 'GET') return sendJson(res, 200, { value: Number(await redis.get(key)) || 0 });
    return sendJson(res, 405, { error: 'use GET or POST' });
}

function relayInfo(req, res, id) {
    if (req.method !== 'GET') return sendJson(res, 405, { error: 'use GET' });
    const room = rooms.get(id);
    return sendJson(res, 200, { connections: room ? room.size : 0 });
}

function onRequest(redis, req, res) {
    req.resume(); // bodies are not used; drain them
    const r = route(req.url);
    if (req.url === '/healthz') return sendJson(res, 200, { ok: true });
    if (r && r.ns === 'relay') return relayInfo(req, res, r.id);
    if (r && r.ns === 'counter') {
        return counter(redis, req, res, r.id).catch(() =>
            sendJson(res, 503, { error: 'storage unavailable' }),
        );
    }
    return sendJson(res, 404, { error: 'no such room or namespace' });
}

function broadcast(room, text) {
    const buf = Buffer.from(text); // encoded once, shared by every send
    for (const peer of room) {
        if (peer.bufferedAmount > CULL_BYTES) peer.terminate();
        else peer.send(buf, { binary: false });
    }
}

function onMessage(ws, room, data, isBinary) {
    let msg;
    try {
        msg = isBinary ? null : JSON.parse(data.toString());
    } catch {
        msg = null;
    }
    if (msg === null || typeof msg !== 'object' || Array.isArray(msg)) {
        ws.send(JSON.stringify({ error: 'send a JSON object' }));
        return;
    }
    broadcast(room, JSON.stringify(msg));
}

function join(ws, id) {
    let room = rooms.get(id);
    if (!room) rooms.set(id, (room = new Set()));
    room.add(ws);
    ws.on('message', (data, isBinary) => onMessage(ws, room, data, isBinary));
    ws.on('error', () => ws.terminate());
    ws.on('close', () => {
        room.delete(ws);
        if (room.size === 0) rooms.delete(id);
    });
}

function onUpgrade(wss, req, socket, head) {
    const r = route(req.url);
    if (!r || r.ns !== 'relay') {
        socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
        return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => join(ws, r.id));
}

function main() {
    const opts = parseArgs(process.argv);
    const redis = redisClient(opts.redis);
    const wss = new WebSocketServer({
        noServer: true,
        clientTracking: false,
        perMessageDeflate: false,
        maxPayload: 1 << 20,
    });
    const server = http.createServer((req, res) => onRequest(redis, req, res));
    server.on('upgrade', (req, socket, head) => onUpgrade(wss, req, socket, head));
    server.listen(opts.port, '127.0.0.1', () =>
        console.error(`node peer: serving on 127.0.0.1:${opts.port}, redis ${opts.redis}`),
    );
    const stop = () => process.exit(0);
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
}

main();
