"""Protocol strictness at the door (server/ws.c, server/http.c, rooms/room_lua.c): a WebSocket
upgrade of another version than 13 gets 426 with Sec-WebSocket-Version: 13 (RFC 6455 4.4); a
close frame with a code no peer may send is answered 1002, not echoed; a Content-Length that is
not a number (or has more digits than fit) is refused 413 instead of read as an empty body; a
room's answer cannot set the headers that frame it on the connection (the handler fails: 500)."""

import struct
import unittest

from harness import (RawWebSocket, ServerTestCase, raw_http, unique)


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


if __name__ == "__main__":
    unittest.main()
