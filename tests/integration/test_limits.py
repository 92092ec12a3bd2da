"""Limits (docs/lua-api.md "Limits", conf/test.lua): a WebSocket message over
message_bytes closes with 1009 (also when it comes in fragments), an HTTP body
over body_bytes gets 413, a room at connections_per_room refuses with 503,
JSON nested too deep is refused; and --set limits.* takes effect."""

import asyncio
import json
import unittest

from harness import (AsyncServerTestCase, RawWebSocket, encode_frame, raw_http, unique,
                     ws_expect_close, ws_expect_silence, ws_recv_json, ws_refused_status,
                     ws_send_json)

MIB = 1 << 20


def padded_object(total):
    """A JSON object text of exactly total bytes."""
    head = '{"count": "", "pad": "'
    return head + "x" * (total - len(head) - 2) + '"}'


def nested(depth):
    return "[" * depth + "]" * depth


def post_raw(port, path, body, ctype="text/plain"):
    head = ("POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nContent-Length: %d\r\n"
            "Connection: close\r\n\r\n" % (path, ctype, len(body))).encode()
    return raw_http(port, head + body, timeout=10)


class DefaultLimitsTest(AsyncServerTestCase):
    """message_bytes = body_bytes = send_queue_bytes = 1 MiB (conf/test.lua)."""

    test_timeout = 45

    async def test_message_at_the_limit_is_accepted(self):
        ws = await self.server.ws("/gate/" + unique())
        try:
            text = padded_object(MIB)
            self.assertEqual(len(text.encode()), MIB)
            await ws.send(text)
            self.assertEqual(await ws_recv_json(ws, 10), {"count": 1})
        finally:
            await ws.close()

    async def test_message_over_the_limit_closes_1009(self):
        room = unique()
        big = await self.server.ws("/relay/" + room)
        other = await self.server.ws("/relay/" + room)
        try:
            await big.send(padded_object(MIB + 1))
            code, _ = await ws_expect_close(big, 10)
            self.assertEqual(code, 1009)
            await ws_expect_silence(other, 0.3)
            await ws_send_json(other, {"after": "big"})
            self.assertEqual(await ws_recv_json(other), {"after": "big"})
        finally:
            await big.close()
            await other.close()

    async def test_fragmented_message_is_reassembled_and_limited(self):
        room = unique()
        ok = await asyncio.to_thread(RawWebSocket, self.port, "/relay/" + room)
        try:
            text = b'{"frag": "' + b"z" * 1000 + b'", "n": 1}'
            ok.sock.sendall(encode_frame(0x1, text[:300], fin=False)
                            + encode_frame(0x0, text[300:700], fin=False)
                            + encode_frame(0x0, text[700:], fin=True))
            frame = await asyncio.to_thread(ok.recv_frame, 5.0)
            self.assertIsNotNone(frame, "connection ended after a fragmented message")
            self.assertEqual(frame[0], 0x1)
            self.assertEqual(json.loads(frame[1]), json.loads(text))
        finally:
            ok.close()

        big = await asyncio.to_thread(RawWebSocket, self.port, "/relay/" + room)
        try:
            half = b"w" * (MIB // 2 + 16)
            data = (encode_frame(0x1, b'{"pad": "' + half, fin=False)
                    + encode_frame(0x0, half + b'"}', fin=True))
            try:
                big.sock.sendall(data)
            except (BrokenPipeError, ConnectionResetError):
                pass
            _, code, ended = await asyncio.to_thread(big.drain, 10.0)
            self.assertTrue(ended, "a fragmented message over the limit did not close the socket")
            if code is not None:
                self.assertEqual(code, 1009)
        finally:
            big.close()

    async def test_body_at_the_limit_is_accepted(self):
        body = b"b" * MIB
        res = await asyncio.to_thread(post_raw, self.port, "/echo/" + unique(), body)
        self.assertEqual(res.status, 200, res.body[:300])
        self.assertEqual(len(res.json["body"]), MIB)

    async def test_body_over_the_limit_is_413(self):
        for path in ("/echo/" + unique(), "/counter/" + unique(), "/vote/" + unique()):
            with self.subTest(path=path):
                res = await asyncio.to_thread(post_raw, self.port, path, b"b" * (MIB + 1))
                self.assertJsonError(res, 413, path)
        self.assertEqual(self.server.get("/healthz").status, 200)

    async def test_json_too_deep_is_refused(self):
        res = self.server.post("/echo/" + unique(), nested(10).encode(),
                               headers={"Content-Type": "application/json"})
        self.assertEqual(res.status, 200)
        self.assertEqual(res.json["json"], json.loads(nested(10)))
        res = self.server.post("/echo/" + unique(), nested(200).encode(),
                               headers={"Content-Type": "application/json"})
        self.assertJsonError(res, 400, "body nested 200 deep")
        res = self.server.post("/echo/" + unique(), nested(100000).encode(),
                               headers={"Content-Type": "application/json"})
        self.assertJsonError(res, 400, "body nested 100000 deep")

    async def test_deep_message_is_not_relayed(self):
        room = unique()
        a = await self.server.ws("/relay/" + room)
        b = await self.server.ws("/relay/" + room)
        try:
            await a.send('{"deep": %s}' % nested(200))
            await ws_expect_silence(b, 0.5)
            await ws_send_json(b, {"still": "here"})
            self.assertEqual(await ws_recv_json(b), {"still": "here"})
        finally:
            await a.close()
            await b.close()


class SetLimitsTest(AsyncServerTestCase):
    """Small limits given on the command line with --set."""

    server_args = ("--set", "limits.connections_per_room=3", "--set", "limits.body_bytes=100",
                   "--set", "limits.message_bytes=1000")

    async def test_room_full_is_503(self):
        room = unique()
        members = [await self.server.ws("/relay/" + room) for _ in range(3)]
        try:
            self.assertEqual(await ws_refused_status(self.port, "/relay/" + room), 503)
            other = await self.server.ws("/relay/" + unique())
            await other.close()
            await members.pop().close()
            joined = None
            for _ in range(50):
                try:
                    joined = await self.server.ws("/relay/" + room)
                    break
                except Exception:  # the leave may not have been handled yet
                    await asyncio.sleep(0.1)
            self.assertIsNotNone(joined, "a slot freed by a leave was not given again")
            members.append(joined)
            await ws_send_json(joined, {"in": True})
            for ws in members:
                self.assertEqual(await ws_recv_json(ws), {"in": True})
        finally:
            await asyncio.gather(*(ws.close() for ws in members), return_exceptions=True)

    async def test_set_body_bytes(self):
        res = await asyncio.to_thread(post_raw, self.port, "/echo/" + unique(), b"x" * 100)
        self.assertEqual(res.status, 200)
        res = await asyncio.to_thread(post_raw, self.port, "/echo/" + unique(), b"x" * 101)
        self.assertJsonError(res, 413)

    async def test_set_message_bytes(self):
        ws = await self.server.ws("/gate/" + unique())
        try:
            await ws.send(padded_object(1000))
            self.assertEqual(await ws_recv_json(ws), {"count": 1})
            await ws.send(padded_object(1001))
            code, _ = await ws_expect_close(ws, 10)
            self.assertEqual(code, 1009)
        finally:
            await ws.close()


if __name__ == "__main__":
    unittest.main()
