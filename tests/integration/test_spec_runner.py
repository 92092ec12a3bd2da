"""`roomd test` (docs/testing-rooms.md): a spec that fails exits non-zero, names the spec's
file and line for a failed assertion, a runtime error and a bad call, and ends with the plain
summary line; a passing spec exits 0; a room script error shows as the room's 500 and in the
log, not as a crash; the run leaves no redis-server and no temporary folder behind; usage
errors exit 2."""

import glob
import os
import shutil
import subprocess
import tempfile
import unittest

from harness import BIN, ROOT, sanitizer_reports

TIMEOUT = 120

FAILING = """\
describe("failing", function()
    it("passes", function()
        expect(t.room("counter", "a"):post().json.value).to_equal(1)
    end)
    it("compares", function()
        local res = t.room("counter", "a"):post()
        expect(res.json.value).to_equal(2)
    end)
    it("raises", function()
        local x
        return x.y
    end)
    it("calls badly", function()
        t.room("nope", "a")
    end)
end)
"""

PASSING = """\
describe("ok", function()
    it("counts", function()
        local room = t.room("counter", "a")
        room:post()
        room:restart()
        expect(room:get().json).to_equal({value = 1})
    end)
end)
"""


class SpecRunnerTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="roomd-spec-")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def write(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def run_specs(self, *args):
        env = dict(os.environ, TMPDIR=self.tmp)
        p = subprocess.run([BIN, "test", *args], cwd=ROOT, env=env, capture_output=True,
                           text=True, timeout=TIMEOUT)
        self.assertEqual(sanitizer_reports(p.stderr), [], p.stderr)
        return p

    def test_failing_spec_names_file_and_line(self):
        path = self.write("failing_spec.lua", FAILING)
        p = self.run_specs(path)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("  ok   failing > passes", p.stdout)
        self.assertIn("%s:7: expected 2, got 1" % path, p.stdout)
        self.assertIn("%s:11: attempt to index local 'x'" % path, p.stdout)
        self.assertIn("%s:14: no namespace 'nope' in the config" % path, p.stdout)
        self.assertEqual(p.stdout.splitlines()[-1], "1 passed, 3 failed")

    def test_passing_spec_exits_zero(self):
        p = self.run_specs(self.write("passing_spec.lua", PASSING))
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(p.stdout.splitlines()[-1], "1 passed, 0 failed")

    def test_leaves_nothing_behind(self):
        self.run_specs(self.write("passing_spec.lua", PASSING))
        self.assertEqual(glob.glob(os.path.join(self.tmp, "roomd-test-*")), [])
        ps = subprocess.run(["pgrep", "-f", self.tmp], capture_output=True, text=True)
        self.assertEqual(ps.stdout.strip(), "")

    def test_spec_that_does_not_load(self):
        path = self.write("broken_spec.lua", "describe('x', function()\n")
        p = self.run_specs(path)
        self.assertEqual(p.returncode, 1)
        self.assertIn(path + ":", p.stdout)
        self.assertEqual(p.stdout.splitlines()[-1], "0 passed, 1 failed")

    def test_usage_errors(self):
        self.assertEqual(self.run_specs().returncode, 2)
        self.assertEqual(self.run_specs("--bogus", "x").returncode, 2)


if __name__ == "__main__":
    unittest.main()
