"""A real Prometheus server (Debian's prometheus package) scrapes roomd's admin listener with
the admin token, and its query API then answers roomd_connections with the number of WebSockets
the test holds open: in their namespace, and 0 in every other."""

import atexit
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest
import urllib.parse

from harness import (AsyncServerTestCase, async_wait_until, die_with_parent, free_port,
                     http_request, unique, within_budget)

TOKEN = "prometheus-test-token-0123456789"
os.environ["ROOMD_ADMIN_TOKEN"] = TOKEN
OPEN = 3  # WebSockets the test holds open while Prometheus scrapes


class Prometheus:
    """A prometheus on a free loopback port, its storage and log in a temporary folder,
    scraping roomd's admin listener at target every second."""

    def __init__(self, target):
        self.dir = tempfile.mkdtemp(prefix="roomd-prometheus-")
        self.port = free_port()
        self.config = os.path.join(self.dir, "prometheus.yml")
        with open(self.config, "w") as f:  # JSON is YAML
            json.dump({"global": {"scrape_interval": "1s", "scrape_timeout": "1s"},
                       "scrape_configs": [{
                           "job_name": "roomd",
                           "authorization": {"type": "Bearer", "credentials": TOKEN},
                           "static_configs": [{"targets": [target]}]}]}, f)
        self.proc = None

    def start(self, timeout=30):
        log = open(os.path.join(self.dir, "prometheus.log"), "wb")
        try:
            self.proc = subprocess.Popen(
                ["prometheus", "--config.file", self.config,
                 "--storage.tsdb.path", os.path.join(self.dir, "data"),
                 "--web.listen-address", "127.0.0.1:%d" % self.port],
                cwd=self.dir, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                preexec_fn=die_with_parent)
        finally:
            log.close()
        deadline = time.monotonic() + within_budget(timeout)
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("prometheus exited with %s:\n%s"
                                     % (self.proc.returncode, self.log_tail()))
            try:
                if http_request(self.port, "GET", "/-/ready", timeout=1).status == 200:
                    return self
            except (OSError, AssertionError):
                pass
            time.sleep(0.1)
        raise AssertionError("prometheus was not ready within %ss:\n%s" % (timeout, self.log_tail()))

    def query(self, expr):
        """The result vector of an instant query, as {labels as a sorted tuple: value}."""
        res = http_request(self.port, "GET", "/api/v1/query?query=" + urllib.parse.quote(expr))
        if res.status != 200 or res.json.get("status") != "success":
            raise AssertionError("query %r: %s %r" % (expr, res.status, res.body[:300]))
        return {tuple(sorted(r["metric"].items())): float(r["value"][1])
                for r in res.json["data"]["result"]}

    def log_tail(self, lines=30):
        try:
            with open(os.path.join(self.dir, "prometheus.log"), "rb") as f:
                return "\n".join(f.read().decode("utf-8", "replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        atexit.register(shutil.rmtree, self.dir, True)


class PrometheusTest(AsyncServerTestCase):
    test_timeout = 50

    @classmethod
    def setUpClass(cls):
        if not shutil.which("prometheus"):
            raise AssertionError("prometheus is not installed (scripts/deps.sh installs it)")
        cls.admin_port = free_port()
        cls.server_args = ("--admin-port", str(cls.admin_port))
        super().setUpClass()

    async def test_prometheus_reads_connections(self):
        path = "/echo/" + unique()
        socks = [await self.server.ws(path) for _ in range(OPEN)]
        prom = Prometheus("127.0.0.1:%d" % self.admin_port).start()
        try:
            seen = {}

            def scraped():
                seen.update(up=prom.query('up{job="roomd"}'),
                            connections=prom.query("roomd_connections"))
                by_ns = {dict(k)["ns"]: v for k, v in seen["connections"].items()}
                return (list(seen["up"].values()) == [1.0] and by_ns.get("echo") == OPEN and
                        all(v == 0 for ns, v in by_ns.items() if ns != "echo"))

            if not await async_wait_until(scraped, 30, interval=0.25):
                self.fail("Prometheus never answered roomd_connections{ns=\"echo\"} == %d: %r\n%s"
                          % (OPEN, seen, prom.log_tail()))
            self.assertGreater(len(seen["connections"]), 1, "one series per namespace")
        finally:
            prom.stop()
            for ws in socks:
                await ws.close()


if __name__ == "__main__":
    unittest.main()
