"""docs/types/, the editor help for room authors, against the real sandbox and API.

docs/types/roomd.lua (annotations for lua-language-server): every member it declares for
room, conn, room.storage, req, json and os exists in a running roomd with the declared kind
(probed by tests/lua/probe.lua); every member roomd exposes (rooms/room_lua.c,
rooms/storage.lua, the live json and os tables) and every handler and req field that
docs/lua-api.md lists is declared; docs/types/.luarc.json turns off each LuaLS library the
sandbox lacks. docs/types/.luacheckrc: luacheck with it flags exactly the globals and library
fields a room script cannot use (of LuaJIT's standard ones and roomd's), and passes the
shipped demo rooms."""

import atexit
import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from harness import ROOT, AsyncServerTestCase, unique, ws_recv_json

TYPES = os.path.join(ROOT, "docs", "types")
META = os.path.join(TYPES, "roomd.lua")
LUARC = os.path.join(TYPES, ".luarc.json")
LUACHECKRC = os.path.join(TYPES, ".luacheckrc")
PROBE = os.path.join(ROOT, "tests", "lua", "probe.lua")

# Library fields of standard LuaJIT that the sandbox leaves out (besides those it has).
REMOVED_FIELDS = {
    "string": ["dump"],
    "os": ["difftime", "execute", "exit", "getenv", "remove", "rename", "setlocale", "tmpname"],
    "json": ["parse", "stringify"],
}
# LuaLS's libraries (runtime.builtin) that are globals, and those reached only by require.
LUALS_GLOBAL_LIBS = ["coroutine", "debug", "io", "jit", "os", "package", "utf8", "bit32"]
LUALS_REQUIRE_LIBS = ["ffi", "jit.profile", "jit.util", "string.buffer", "table.clear",
                      "table.new"]


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def write_conf():
    fd, path = tempfile.mkstemp(prefix="roomd-probe-", suffix=".lua")
    with os.fdopen(fd, "w") as f:
        f.write('return { host = "127.0.0.1", port = 8080,\n'
                '  namespaces = { probe = { script = %s } } }\n' % json.dumps(PROBE))
    atexit.register(os.remove, path)
    return path


# ---------------------------------------------------------------- reading roomd.lua


def parse_meta(text):
    """{class or global table: {"fields": {name: (type, optional)}, "methods": {name: params}}},
    from ---@class/---@field lines, `function T:m(...)` / `function T.f(...)` definitions and
    `T.f = ...` assignments; T is the local or global a ---@class names, else itself."""
    classes, var_class, current = {}, {}, None

    def cls(name):
        return classes.setdefault(name, {"fields": {}, "methods": {}})

    for line in text.splitlines():
        m = re.match(r"---@class ([\w.]+)", line)
        if m:
            current = m.group(1)
            cls(current)
            continue
        m = re.match(r'---@field (\w+|\["\w+"\])(\??) (.+)', line)
        if m and current:
            name = m.group(1).strip('[]"')
            cls(current)["fields"][name] = (m.group(3).strip(), m.group(2) == "?")
            continue
        if line.startswith("---"):
            continue
        m = re.match(r"(?:local )?(\w+) = \{\}", line)
        if m and current:
            var_class[m.group(1)] = current
        current = None
        m = re.match(r"function (\w+)([:.])(\w+)\(([^)]*)\)", line)
        if m:
            owner = var_class.get(m.group(1), m.group(1))
            cls(owner)["methods"][m.group(3)] = [p.strip() for p in m.group(4).split(",") if p]
            continue
        m = re.match(r"(\w+)\.(\w+) = ", line)
        if m:
            cls(var_class.get(m.group(1), m.group(1)))["fields"][m.group(2)] = ("any", False)
            continue
        m = re.match(r"function (\w+)\(", line)
        if m:
            cls("_G")["methods"][m.group(1)] = []
    return classes


def lua_type_of(declared):
    """The Lua type() a declared annotation type implies, or None if it allows several."""
    if re.fullmatch(r"string|\"\w+\"", declared):
        return "string"
    if declared in ("integer", "number"):
        return "number"
    if declared == "boolean":
        return "boolean"
    if re.fullmatch(r"table(<.*>)?|[\w.]+\[\]|roomd\.(Room|Request)", declared):
        return "table"
    if declared == "roomd.Storage":  # an object roomd keeps, only usable in its room's turns
        return "userdata"
    return None


def function_body(source, header):
    start = source.index(header)
    return source[start:source.index("\n}\n", start)]


def section(markdown, heading):
    start = markdown.index("\n" + heading + "\n")
    end = markdown.find("\n## ", start + 1)
    return markdown[start:end if end >= 0 else len(markdown)]


class EditorTypes(AsyncServerTestCase):
    server_conf = write_conf()

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.meta = parse_meta(read(META))

    def members(self, cls_name):
        c = self.meta.get(cls_name)
        self.assertIsNotNone(c, "docs/types/roomd.lua declares no class %s" % cls_name)
        return c

    def probe(self, path, **lists):
        query = "&".join("%s=%s" % (k, ",".join(v)) for k, v in lists.items())
        res = self.server.http("POST", "%s?%s" % (path, query), body=b'{"a": 1}',
                               headers={"Content-Type": "application/json"})
        self.assertEqual(res.status, 200, res.body[:300])
        return res.json

    def assert_kinds(self, what, cls_name, live):
        """Every field and method cls_name declares has the declared kind in live."""
        c = self.members(cls_name)
        for name in c["methods"]:
            self.assertEqual(live.get(name), "function", "%s:%s is declared, live it is %s"
                             % (what, name, live.get(name)))
        for name, (declared, optional) in c["fields"].items():
            got = live.get(name)
            may_be_nil = optional or declared.endswith("?") or declared == "any"
            if got == "nil" and may_be_nil:
                continue
            want = lua_type_of(declared)
            if want is None:
                self.assertNotEqual(got, "nil", "%s.%s is declared, live it is nil" % (what, name))
            else:
                self.assertEqual(got, want, "%s.%s is declared %s, live it is %s"
                                 % (what, name, declared, got))

    # -- declared members exist --------------------------------------------------------------

    def test_room_storage_and_req_members_exist(self):
        room, storage, req = (self.members(n) for n in ("roomd.Room", "roomd.Storage",
                                                        "roomd.Request"))
        live = self.probe("/probe/%s" % unique(),
                          room=list(room["fields"]) + list(room["methods"]),
                          storage=list(storage["methods"]),
                          req=list(req["fields"]))
        self.assert_kinds("room", "roomd.Room", live["room"])
        self.assert_kinds("room.storage", "roomd.Storage", live["storage"])
        self.assert_kinds("req", "roomd.Request", live["req"])
        self.assertEqual(live["req"]["json"], "table", "a JSON body gives req.json")

    async def test_conn_members_exist(self):
        conn = self.members("roomd.Conn")
        names = list(conn["fields"]) + list(conn["methods"])
        ws = await self.server.ws("/probe/%s?conn=%s" % (unique(), ",".join(names)))
        try:
            live = (await ws_recv_json(ws))["conn"]
        finally:
            await ws.close()
        self.assert_kinds("conn", "roomd.Conn", live)

    def test_json_os_and_now_ms_match_the_sandbox(self):
        live = self.probe("/probe/%s" % unique())
        for lib, cls_name in (("json", "roomd.json"), ("os", "os")):
            c = self.members(cls_name)
            self.assertEqual(sorted(list(c["fields"]) + list(c["methods"])), live["libs"][lib],
                             "docs/types/roomd.lua's %s and the sandbox's differ" % lib)
        self.assertIn("now_ms", self.meta["_G"]["methods"])
        self.assertIn("now_ms", live["globals"])

    # -- what roomd exposes is declared ------------------------------------------------------

    def test_every_room_conn_and_storage_member_is_declared(self):
        c_src = read(os.path.join(ROOT, "rooms", "room_lua.c"))
        lua_src = read(os.path.join(ROOT, "rooms", "storage.lua"))
        exposed = {
            "roomd.Room": (re.findall(r'\{"(\w+)", room_\w+\}', c_src),
                           re.findall(r'strcmp\(k, "(\w+)"\)',
                                      function_body(c_src, "static int room_index("))),
            "roomd.Conn": (re.findall(r'\{"(\w+)",\s*conn_\w+\}', c_src),
                           re.findall(r'strcmp\(k, "(\w+)"\)',
                                      function_body(c_src, "static int conn_index("))),
            "roomd.Storage": (re.findall(r"^\s*function Storage[.:](\w+)\(", lua_src, re.M), []),
        }
        for cls_name, (methods, fields) in exposed.items():
            self.assertTrue(methods, "found no %s methods in the sources" % cls_name)
            c = self.members(cls_name)
            self.assertEqual(sorted(c["methods"]), sorted(methods), cls_name + " methods")
            self.assertEqual(sorted(c["fields"]), sorted(fields), cls_name + " fields")
        options = {a or b for a, b in re.findall(r'opts(?:\.(\w+)|\["(\w+)"\])', lua_src)}
        self.assertEqual(sorted(self.members("roomd.ListOptions")["fields"]), sorted(options))
        response = re.findall(r'lua_getfield\(L, res, "(\w+)"\)', c_src)
        self.assertEqual(sorted(self.members("roomd.Response")["fields"]), sorted(response))

    def test_handlers_and_req_fields_match_the_contract(self):
        doc = read(os.path.join(ROOT, "docs", "lua-api.md"))
        handlers = dict(re.findall(r"^\| `(\w+)\(([^)]*)\)` \|", section(doc, "## Handlers"),
                                   re.M))
        self.assertIn("init", handlers)
        declared = {}
        for name, (fun, _) in self.members("roomd.Handlers")["fields"].items():
            params = re.match(r"fun\(([^)]*)\)", fun).group(1)
            declared[name] = ", ".join(p.split(":")[0].strip() for p in params.split(","))
        self.assertEqual(declared, handlers)
        req_fields = re.findall(r"^\| `(\w+)` \|", section(doc, "## `req`"), re.M)
        self.assertEqual(sorted(self.members("roomd.Request")["fields"]), sorted(req_fields))

    def test_luarc_turns_off_what_the_sandbox_lacks(self):
        live = self.probe("/probe/%s" % unique())
        luarc = json.loads(read(LUARC))
        self.assertEqual(luarc["runtime.version"], "LuaJIT")
        builtin = luarc["runtime.builtin"]
        for lib in LUALS_GLOBAL_LIBS:
            if lib not in live["globals"] or lib in self.meta:
                self.assertEqual(builtin.get(lib), "disable", lib)
        if "require" not in live["globals"]:
            for lib in LUALS_REQUIRE_LIBS:
                self.assertEqual(builtin.get(lib), "disable", lib)
        # As shipped, it suits a folder of room scripts at the top of the checkout.
        library = os.path.normpath(os.path.join(ROOT, "myrooms", luarc["workspace.library"][0]))
        self.assertEqual(library, os.path.normpath(TYPES), "workspace.library")

    # -- .luacheckrc ---------------------------------------------------------------------------

    def luacheck(self, *args):
        exe = shutil.which("luacheck")
        self.assertIsNotNone(exe, "luacheck is not installed (scripts/deps.sh installs it)")
        return subprocess.run([exe, "--config", LUACHECKRC, "--formatter", "plain",
                               "--no-color", *args], cwd=ROOT, capture_output=True, text=True,
                              timeout=60)

    def test_luacheckrc_flags_exactly_what_the_sandbox_lacks(self):
        live = self.probe("/probe/%s" % unique())
        candidates = re.findall(r"^    (\w+) = function\(\) return \1 end,$", read(PROBE), re.M)
        self.assertIn("print", candidates)
        exprs, expected = [], set()
        for name in candidates:
            exprs.append(name)
            if name not in live["globals"]:
                expected.add("accessing undefined variable '%s'" % name)
        for lib, fields in live["libs"].items():
            for field in fields + REMOVED_FIELDS.get(lib, []):
                exprs.append("%s.%s" % (lib, field))
                if field not in fields:
                    expected.add("accessing undefined field '%s' of global '%s'" % (field, lib))
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
            f.write("return {\n%s\n}\n" % ",\n".join(exprs))
        try:
            out = self.luacheck(f.name)
        finally:
            os.remove(f.name)
        flagged = {line.split(": ", 1)[1] for line in out.stdout.splitlines() if ": " in line}
        self.assertEqual(flagged, expected, out.stdout + out.stderr)

    def test_luacheckrc_passes_the_demo_rooms(self):
        out = self.luacheck("demos")
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)


if __name__ == "__main__":
    unittest.main()
