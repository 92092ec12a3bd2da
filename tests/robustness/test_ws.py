"""Bad WebSocket frames (issue 11): every frame RFC 6455 says to refuse closes its connection
with the right code (1002 protocol error, 1007 bad UTF-8, 1009 too big) or, for frames that are
well formed but not JSON text, gets an {"error"} while the connection stays; none of them counts
as a message. The frames carry a valid vote for /vote/canary, so one taken changes the canary."""

import json
import struct

from battery import (BOUND, VOTE, Battery, frame, main, unique, wait_close, ws_frames_case)

CANARY = "/vote/canary"
MIB = 1 << 20


def closes(frames, codes):
    return ws_frames_case(CANARY, frames, expect_close=codes)


def errors(frames):
    return ws_frames_case(CANARY, frames, expect_error=True)


def length_header(n, opcode=0x1):
    """A masked frame head announcing n payload bytes (64-bit length form), then 4 bytes."""
    return bytes([0x80 | opcode, 0x80 | 127]) + struct.pack("!Q", n) + b"\x01\x02\x03\x04"


def ping_flood(read):
    """20,000 pings in one go, the pongs read (or not): the canaries answer meanwhile; a reader
    gets pongs and then the echo of a message sent after the pings."""
    def run(ctx):
        w = ctx.ws("/echo/" + unique("battery-ping-"))
        w.sock.sendall(frame(0x9, b"p") * 20000)
        ctx.check(during=True)
        if read:  # RFC 6455 5.5.3: a pong for the latest ping may stand for the earlier ones
            w.send_json({"after": "pings"})
            pongs = 0
            while True:
                f = w.recv_frame(timeout=BOUND * 2)
                ctx.test.assertIsNotNone(f, "closed after %d pongs" % pongs)
                pongs += f[0] == 0xA
                if f[0] == 0x1:
                    break
            ctx.test.assertGreater(pongs, 0)
            ctx.test.assertEqual(json.loads(f[1]), {"after": "pings"})
    return run


def message_flood(ctx):
    """25 times the message rate's burst in one go (the class runs with 1,000 a second): closed
    1008, or 1013 when the echoes the client does not read fill its send queue first."""
    w = ctx.ws("/echo/" + unique("battery-flood-"))
    w.sock.sendall(frame(0x1, b"{}") * 25000)
    code = wait_close(w, BOUND * 3)
    ctx.test.assertIn(code, (1008, 1013, "eof"), "closed with %s" % code)


def many_fragments(ctx):
    """A valid message in 5,000 one-byte fragments arrives whole."""
    w = ctx.ws("/echo/" + unique("battery-frag-"))
    msg = json.dumps({"x": "y" * 4990}).encode()
    frames = frame(0x1, msg[:1], fin=False) + b"".join(
        frame(0x0, msg[i:i + 1], fin=False) for i in range(1, len(msg) - 1))
    w.sock.sendall(frames + frame(0x0, msg[-1:]))
    f = w.recv_frame(timeout=BOUND * 2)
    ctx.test.assertEqual(f[0], 0x1)
    ctx.test.assertEqual(json.loads(f[1]), json.loads(msg))


def truncated_then_gone(ctx):
    """A frame cut short, then the client vanishes: the room sees a leave, nothing else."""
    w = ctx.ws(CANARY)
    w.recv_frame(timeout=BOUND)
    w.sock.sendall(frame(0x1, VOTE)[:-3])
    w.sock.close()


def truncated_then_idle(ctx):
    """A frame cut short and never finished: nothing happens, the canaries answer."""
    w = ctx.ws(CANARY)
    w.recv_frame(timeout=BOUND)
    w.sock.sendall(frame(0x1, VOTE)[:-3])
    ctx.check(during=True)


def join_leave_churn(ctx):
    """300 joins and leaves of one room, half of them vanishing without a close frame."""
    room = "/relay/" + unique("battery-churn-")
    for i in range(300):
        w = ctx.ws(room)
        if i % 2:
            w.send(0x8, struct.pack("!H", 1000))
        w.close()
    ctx.socks = []


class Ws(Battery):
    klass = "ws"
    # The flood must pass the message rate whatever the server's speed (under ASan it reads
    # fewer than the default 20,000 a second, and a bucket that refills faster than it drains
    # never empties): a limit well below any speed it reads at.
    server_kwargs = {"args": ("--set", "limits.messages_per_second=1000")}
    cases = [
        ("rsv1", closes(frame(0x1, VOTE, rsv=4), (1002,))),
        ("rsv2", closes(frame(0x1, VOTE, rsv=2), (1002,))),
        ("rsv3", closes(frame(0x1, VOTE, rsv=1), (1002,))),
        ("opcode_3", closes(frame(0x3, VOTE), (1002,))),
        ("opcode_7", closes(frame(0x7, VOTE), (1002,))),
        ("opcode_b", closes(frame(0xB, VOTE), (1002,))),
        ("opcode_f", closes(frame(0xF, VOTE), (1002,))),
        ("continuation_first", closes(frame(0x0, VOTE), (1002,))),
        ("text_inside_fragmented", closes(frame(0x1, VOTE[:4], fin=False) + frame(0x1, VOTE[4:]),
                                          (1002,))),
        ("fragmented_ping", closes(frame(0x9, b"p", fin=False) + frame(0x1, VOTE), (1002,))),
        ("fragmented_close", closes(frame(0x8, struct.pack("!H", 1000), fin=False) +
                                    frame(0x1, VOTE), (1002,))),
        ("oversize_ping", closes(frame(0x9, b"p" * 126) + frame(0x1, VOTE), (1002, "eof"))),
        ("oversize_close", closes(frame(0x8, struct.pack("!H", 1000) + b"r" * 124) +
                                  frame(0x1, VOTE), (1002, "eof"))),
        ("bad_utf8", closes(frame(0x1, b'{"option":1,"x":"\xff"}'), (1007,))),
        ("bad_utf8_split", closes(frame(0x1, b'{"option":1,"x":"\xe2\x82', fin=False) +
                                  frame(0x0, b'"}'), (1007,))),
        ("overlong_utf8", closes(frame(0x1, b'{"option":1,"x":"\xc0\xaf"}'), (1007,))),
        ("surrogate_utf8", closes(frame(0x1, b'{"option":1,"x":"\xed\xa0\x80"}'), (1007,))),
        ("above_unicode", closes(frame(0x1, b'{"option":1,"x":"\xf4\x90\x80\x80"}'), (1007,))),
        ("length_msb_set", closes(length_header(1 << 63), (1002, 1009, "eof"))),
        ("length_huge", closes(length_header(1 << 62) + b"x" * (MIB + 4096), (1009, "eof"))),
        ("oversize_message", closes(frame(0x1, b'{"option":1,"x":"' + b"x" * MIB + b'"}'),
                                    (1009,))),
        ("oversize_fragments", closes(frame(0x1, b'{"option":1,"x":"', fin=False) + b"".join(
            frame(0x0, b"x" * 65536, fin=False) for _ in range(17)) + frame(0x0, b'"}'), (1009,))),
        ("length_16_for_short", errors(bytes([0x81, 0xFE]) + struct.pack("!H", 5) + b"\0" * 4 +
                                       b"abcde")),
        ("binary_vote", errors(frame(0x2, VOTE))),
        ("empty_text", errors(frame(0x1, b""))),
        ("not_json", errors(frame(0x1, b"option=1"))),
        ("unmasked_vote", closes(frame(0x1, VOTE, mask=False), (1002,))),
        ("many_fragments", many_fragments),
        ("ping_flood_read", ping_flood(True)),
        ("ping_flood_unread", ping_flood(False)),
        ("message_flood", message_flood),
        ("truncated_then_gone", truncated_then_gone),
        ("truncated_then_idle", truncated_then_idle),
        ("join_leave_churn", join_leave_churn),
    ]


if __name__ == "__main__":
    main()
