"""Static files: the landing page, missing files, path traversal (plain,
percent-encoded, through a symlink), and methods other than GET."""

import os
import tempfile
import unittest

from harness import ROOT, ServerTestCase, raw_http

CONFIG_TEXT = b"namespaces"  # appears in every config file: must never be served


def read(path):
    with open(path, "rb") as f:
        return f.read()


TRAVERSALS = (
    "/../conf/default.lua",
    "/%2e%2e/conf/default.lua",
    "/%2E%2E/conf/default.lua",
    "/..%2fconf/default.lua",
    "/%2e%2e%2fconf%2fdefault.lua",
    "/a/../../conf/default.lua",
    "/./../conf/default.lua",
    "/..%5cconf%5cdefault.lua",
    "/../../../../../../etc/passwd",
    "/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
)


class StaticTraversalMixin:

    def assertRefused(self, path):
        res = raw_http(self.port, ("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                                   % path).encode())
        self.assertNotIn(CONFIG_TEXT, res.body, "%s served a config file" % path)
        self.assertNotIn(b"root:", res.body, "%s served /etc/passwd" % path)
        self.assertJsonError(res, (400, 403, 404), path)

    def test_traversal_is_refused(self):
        for path in TRAVERSALS:
            with self.subTest(path=path):
                self.assertRefused(path)


class DemoWwwTest(StaticTraversalMixin, ServerTestCase):
    """static_root = ../demos/www from conf/test.lua."""

    def index(self):
        path = os.path.join(ROOT, "demos", "www", "index.html")
        self.assertTrue(os.path.isfile(path), "demos/www/index.html is missing")
        return read(path)

    def test_root_serves_landing_page(self):
        for path in ("/", "/index.html", "/?from=test"):
            res = self.server.get(path)
            self.assertEqual(res.status, 200, path)
            self.assertEqual(res.body, self.index(), path)
            self.assertTrue(res.headers.get("content-type", "").startswith("text/html"),
                            "%s content-type %r" % (path, res.headers.get("content-type")))

    def test_missing_file_is_404_json(self):
        for path in ("/no-such-file.html", "/nodir/nofile.js", "/index.html.bak"):
            with self.subTest(path=path):
                self.assertJsonError(self.server.get(path), 404, path)

    def test_other_methods_are_405(self):
        for method in ("POST", "DELETE", "PUT"):
            for path in ("/", "/index.html"):
                with self.subTest(method=method, path=path):
                    self.assertJsonError(self.server.http(method, path, body=b"x"), 405,
                                         "%s %s" % (method, path))
        self.assertEqual(self.server.get("/").status, 200)


class TempRootTest(StaticTraversalMixin, ServerTestCase):
    """static_root set with --set to a temporary folder holding symlinks that
    point outside it."""

    @classmethod
    def setUpClass(cls):
        cls.root_dir = tempfile.mkdtemp(prefix="roomd-www-")
        root = cls.root_dir
        os.makedirs(os.path.join(root, "sub"))
        with open(os.path.join(root, "index.html"), "wb") as f:
            f.write(b"<!doctype html><title>temp root</title>")
        with open(os.path.join(root, "sub", "inner.html"), "wb") as f:
            f.write(b"<p>inner</p>")
        with open(os.path.join(root, "page.txt"), "wb") as f:
            f.write(b"plain page\n")
        os.symlink(os.path.join(ROOT, "conf", "default.lua"), os.path.join(root, "leak.lua"))
        os.symlink(os.path.join(ROOT, "conf"), os.path.join(root, "leakdir"))
        os.symlink("../../..", os.path.join(root, "sub", "up"))
        cls.server_args = ("--set", "static_root=" + root)
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            for name in ("leak.lua", "leakdir", "sub/up", "sub/inner.html", "page.txt",
                         "index.html"):
                try:
                    os.unlink(os.path.join(cls.root_dir, name))
                except OSError:
                    pass
            for d in ("sub", ""):
                try:
                    os.rmdir(os.path.join(cls.root_dir, d))
                except OSError:
                    pass

    def test_serves_from_the_configured_root(self):
        res = self.server.get("/")
        self.assertEqual((res.status, res.body), (200, b"<!doctype html><title>temp root</title>"))
        res = self.server.get("/sub/inner.html")
        self.assertEqual((res.status, res.body), (200, b"<p>inner</p>"))
        self.assertTrue(res.headers.get("content-type", "").startswith("text/html"))
        res = self.server.get("/page.txt")
        self.assertEqual((res.status, res.body), (200, b"plain page\n"))

    def test_symlink_out_of_root_is_refused(self):
        for path in ("/leak.lua", "/leakdir/default.lua", "/leakdir/test.lua",
                     "/sub/up/etc/passwd", "/sub/up" + ROOT + "/conf/default.lua"):
            with self.subTest(path=path):
                self.assertRefused(path)
        self.assertEqual(self.server.get("/page.txt").status, 200)


if __name__ == "__main__":
    unittest.main()
