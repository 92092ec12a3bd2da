"""Identity at the door (server/auth.h, server/token.h): a namespace that requires a JSON Web
Token refuses every request and WebSocket upgrade without a valid one with 401 and
WWW-Authenticate, before any room is created, loaded or woken (rooms in memory unchanged, no
init in the log); the reason is logged, never the token. A valid token's claims reach the room
as req.auth and conn.auth, and conn.auth survives hibernation and a reload. Tokens come from
the Authorization header or ?token=, the header first. HS256 tokens are made here with hmac; RS256 ones with the openssl command and
tests/keys/rs256.key."""

import base64
import hashlib
import hmac
import json
import os
import signal
import subprocess
import time
import unittest

from harness import (ROOT, AsyncServerTestCase, http_request, unique,
                     ws_connect, ws_expect_close, ws_recv_json, ws_refused_status, ws_send_json)

SECRET = "test-secret-of-more-than-thirty-two-bytes"
os.environ["ROOMD_TEST_JWT_SECRET"] = SECRET
ISS, AUD = "https://id.test", "roomd-test"


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token(claims, alg="HS256", key=SECRET):
    head = b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    body = b64(json.dumps(claims).encode())
    signing = ("%s.%s" % (head, body)).encode()
    if alg == "none":
        return "%s.%s." % (head, body)
    if alg == "HS256":
        sig = hmac.new(key.encode(), signing, hashlib.sha256).digest()
    else:
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key], input=signing,
                             stdout=subprocess.PIPE, check=True).stdout
    return "%s.%s.%s" % (head, body, b64(sig))


def good(**extra):
    claims = {"iss": ISS, "aud": AUD, "sub": "u1", "name": "Ada", "exp": int(time.time()) + 600}
    claims.update(extra)
    return token(claims)


class AuthTest(AsyncServerTestCase):
    server_conf = "conf/test_auth.lua"
    test_timeout = 40

    def get(self, path, tok=None, headers=None):
        headers = dict(headers or {})
        if tok is not None:
            headers["Authorization"] = "Bearer " + tok
        return http_request(self.port, "GET", path, headers=headers)

    def rooms_in_memory(self):
        return self.get("/healthz").json["rooms"]

    def assertRefused(self, res, what):
        self.assertJsonError(res, 401, what)
        self.assertEqual(res.headers.get("www-authenticate"), 'Bearer error="invalid_token"', what)

    async def test_bad_tokens_are_refused_before_any_room(self):
        now = int(time.time())
        pub = open(os.path.join(ROOT, "tests", "keys", "rs256.pub")).read()
        cases = {
            "missing": ("secure", None),
            "malformed": ("secure", "not-a-token"),
            "bad signature": ("secure", good()[:-4] + "AAAA"),
            "other secret": ("secure", token({"iss": ISS, "aud": AUD}, key="x" * 40)),
            "expired": ("secure", good(exp=now - 60)),
            "not yet valid": ("secure", good(nbf=now + 60)),
            "wrong issuer": ("secure", good(iss="https://evil.test")),
            "wrong audience": ("secure", good(aud="someone-else")),
            "alg none": ("secure", token({"iss": ISS, "aud": AUD}, alg="none")),
            "HS256 with the public key": ("signed", token({"sub": "m"}, key=pub)),
        }
        before = self.rooms_in_memory()
        for what, (ns, tok) in cases.items():
            room = unique("bad-")
            self.assertRefused(self.get("/%s/%s" % (ns, room), tok), what)
            path = "/%s/%s%s" % (ns, room, "?token=" + tok if tok else "")
            self.assertEqual(await ws_refused_status(self.port, path), 401, what)
        self.assertEqual(self.rooms_in_memory(), before, "no room was created")
        log = self.server.log_text()
        self.assertNotIn("[room secure:bad-", log)
        self.assertNotIn("[room signed:bad-", log)
        self.assertIn("refused at the door", log)
        for _, tok in cases.values():
            if tok and len(tok) > 20:
                self.assertNotIn(tok, log, "a token reached the log")

    async def test_claims_reach_the_room(self):
        res = self.get("/secure/%s" % unique(), good())
        self.assertEqual(res.status, 200, res.body)
        self.assertEqual(res.json["auth"]["name"], "Ada")
        self.assertEqual(res.json["auth"]["iss"], ISS)
        res = http_request(self.port, "GET", "/secure/%s?token=%s" % (unique(), good(sub="q")))
        self.assertEqual(res.json["auth"]["sub"], "q", "from ?token=")
        self.assertIsNone(self.get("/open/%s" % unique()).json["auth"], "no auth configured")
        self.assertIsNone(self.get("/optional/%s" % unique()).json["auth"], "no token, none needed")
        self.assertEqual(self.get("/optional/%s" % unique(), good()).json["auth"]["sub"], "u1")
        self.assertRefused(self.get("/optional/%s" % unique(), "junk"), "a bad optional token")
        rs = token({"sub": "rs", "exp": int(time.time()) + 60}, alg="RS256",
                   key=os.path.join(ROOT, "tests", "keys", "rs256.key"))
        self.assertEqual(self.get("/signed/%s" % unique(), rs).json["auth"]["sub"], "rs")

    async def test_the_header_wins_over_the_query(self):
        room = unique()
        res = http_request(self.port, "GET", "/secure/%s?token=junk" % room,
                           headers={"Authorization": "Bearer " + good(sub="header")})
        self.assertEqual(res.json["auth"]["sub"], "header")
        res = http_request(self.port, "GET", "/secure/%s?token=%s" % (room, good()),
                           headers={"Authorization": "Bearer junk"})
        self.assertRefused(res, "a bad header is not rescued by the query")
        res = http_request(self.port, "GET", "/secure/%s" % room,
                           headers={"Authorization": "Basic dXNlcjpwYXNz"})
        self.assertRefused(res, "not a bearer token")

    async def test_conn_auth_survives_hibernation_and_reload(self):
        room = unique()
        ws = await ws_connect(self.port, "/secure/%s?token=%s" % (room, good(name="Grace")))
        try:
            await ws_send_json(ws, {})
            first = await ws_recv_json(ws)
            self.assertEqual(first["auth"]["name"], "Grace")
            self.assertEqual(first["join"], "Grace", "req.auth in join")
            # hibernate_ms is 300 in this config: the room sleeps unless spoken to
            self.assertTrue(await self.server.wait_for_log_lines(
                r"\[room secure:%s\] hibernated" % room, timeout=10))
            await ws_send_json(ws, {})
            woke = await ws_recv_json(ws)
            self.assertEqual(woke["auth"], first["auth"], "after hibernation")
            self.assertEqual(woke["inits"], first["inits"] + 1)
            self.server.send_signal(signal.SIGHUP)
            self.assertTrue(await self.server.wait_for_log_lines(r"\[ns secure\] reloaded",
                                                                 timeout=10))
            await ws_send_json(ws, {})
            reloaded = await ws_recv_json(ws)
            self.assertEqual(reloaded["auth"], first["auth"], "after a reload")
        finally:
            await ws.close()

    async def test_header_on_upgrade_and_join_by_claim(self):
        ws = await ws_connect(self.port, "/secure/%s" % unique(),
                              extra_headers={"Authorization": "Bearer " + good(name="Hdr")})
        try:
            await ws_send_json(ws, {})
            self.assertEqual((await ws_recv_json(ws))["auth"]["name"], "Hdr")
        finally:
            await ws.close()
        claims = {"iss": ISS, "aud": AUD, "sub": "nameless", "exp": int(time.time()) + 60}
        ws = await ws_connect(self.port, "/secure/%s?token=%s" % (unique(), token(claims)))
        code, reason = await ws_expect_close(ws)
        self.assertEqual(code, 1008)
        self.assertIn("name", reason)


if __name__ == "__main__":
    unittest.main()
