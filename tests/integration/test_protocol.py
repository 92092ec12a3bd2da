"""Protocol strictness at the door (server/ws.c, server/http.c, rooms/room_lua.c): a WebSocket
upgrade of another version than 13 gets 426 with Sec-WebSocket-Version: 13 (RFC 6455 4.4); a
close frame with a code no peer may send is answered 1002, not echoed; a Content-Length that is
not a number (or has more digits than fit) is refused 413 instead of read as an empty body; a
room's answer cannot set the headers that frame it on the connection (the handler fails: 500).
What libwebsockets' own parser would take or answer in HTML is refused first by server/wire.c:
an unknown or lowercase method gets a JSON 501, CONNECT 405, bytes that are no request line 400,
whitespace before a header's colon 400; an unmasked client frame closes the WebSocket 1002,
a close frame with a 1-byte body too, and a data frame after the peer's close is not a
message."""

import struct
import unittest

from harness import (RawWebSocket, ServerTestCase, encode_frame, raw_http, unique)


class ProtocolTest(ServerTestCase):
    def test_other_websocket_versions_get_426(self):
        req = ("GET /relay/%s HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n"
               % unique()).encode()
        res = raw_http(self.port, req)
        self.assertJsonError(res, 426)
        self.assertEqual(res.headers.get("sec-websocket-version"), "13")

    def test_a_close_code_no_peer_may_send_is_not_echoed(self):
        for code in (5000, 999, 1005, 2999):
            ws = RawWebSocket(self.port, "/relay/%s" % unique())
            ws.send(0x8, struct.pack("!H", code) + b"bye")
            frame = ws.recv_frame()
            if frame is not None:
                opcode, payload = frame
                self.assertEqual(opcode, 0x8)
                self.assertEqual(struct.unpack("!H", payload[:2])[0], 1002, code)
            ws.sock.close()
        ws = RawWebSocket(self.port, "/relay/%s" % unique())  # a valid code is echoed
        ws.send(0x8, struct.pack("!H", 4000))
        opcode, payload = ws.recv_frame()
        self.assertEqual((opcode, struct.unpack("!H", payload[:2])[0]), (0x8, 4000))
        ws.sock.close()

    def test_a_content_length_that_is_not_a_number_is_refused(self):
        for value in ("9" * 40, "12abc", "-5"):
            req = ("POST /counter/%s HTTP/1.1\r\nHost: a\r\nContent-Length: %s\r\n\r\n{}"
                   % (unique(), value)).encode()
            self.assertJsonError(raw_http(self.port, req), (400, 413), value)

    def test_a_room_cannot_set_framing_headers(self):
        res = self.server.get("/echo/%s/framing" % unique())
        self.assertJsonError(res, 500)
        self.assertIn("is roomd's to set", self.server.log_text())

    def test_methods_roomd_does_not_serve_get_json_errors(self):
        rid = unique()
        for method, status in ((b"FROB", 501), (b"post", 501), (b"Get", 501), (b"TRACE", 501),
                               (b"CONNECT", 405), (b"\x16\x03\x01", 400)):
            req = method + b" /counter/%s HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n" % (
                rid.encode())
            res = raw_http(self.port, req)
            self.assertJsonError(res, status, method)
            self.assertEqual(res.headers.get("connection"), "close")
        self.assertEqual(self.server.get("/counter/" + rid).json, {"value": 0})

    def test_whitespace_before_a_header_colon_is_400(self):
        rid = unique()
        for header in (b"Content-Length : 0", b"Content-Length\t: 0", b"Host x: a"):
            req = b"POST /counter/%s HTTP/1.1\r\n%s\r\n\r\n" % (rid.encode(), header)
            self.assertJsonError(raw_http(self.port, req), 400, header)
        self.assertEqual(self.server.get("/counter/" + rid).json, {"value": 0})

    def close_code_after(self, data):
        ws = RawWebSocket(self.port, "/vote/%s" % unique())
        ws.recv_frame()  # the state sent on join
        ws.sock.sendall(data)
        for _ in range(10):
            frame = ws.recv_frame()
            if frame is None:
                ws.sock.close()
                return None
            if frame[0] == 0x8:
                ws.sock.close()
                return struct.unpack("!H", frame[1][:2])[0]
        self.fail("no close frame")

    def test_an_unmasked_client_frame_closes_1002(self):
        vote = b'{"option": 1}'
        self.assertEqual(self.close_code_after(encode_frame(0x1, vote, mask=False)), 1002)
        self.assertEqual(self.close_code_after(encode_frame(0x1, vote) +
                                               encode_frame(0x1, vote, mask=False)), 1002)

    def test_a_close_frame_with_one_byte_closes_1002_and_nothing_after_a_close_counts(self):
        self.assertEqual(self.close_code_after(encode_frame(0x8, b"\x03")), 1002)
        rid = unique()
        ws = RawWebSocket(self.port, "/vote/%s" % rid)
        ws.recv_frame()
        ws.sock.sendall(encode_frame(0x8, struct.pack("!H", 1000)) +
                        encode_frame(0x1, b'{"option": 1}'))
        while ws.recv_frame() is not None:
            pass
        ws.sock.close()
        self.assertEqual(self.server.get("/vote/" + rid).json["votes"], [0, 0])


if __name__ == "__main__":
    unittest.main()
