"""Reading roomd's GET /metrics (server/metrics.h) in the integration tests: one scrape of the
admin listener, parsed into samples that a test looks up by name and labels."""

import re
import time

from harness import http_request

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')

# The families docs/operations.md lists: every one must be on the page.
FAMILIES = (
    "roomd_rooms", "roomd_rooms_activated_total", "roomd_rooms_evicted_total",
    "roomd_rooms_hibernated_total", "roomd_connections", "roomd_connections_opened_total",
    "roomd_connections_closed_total", "roomd_ws_messages_in_total", "roomd_ws_messages_out_total",
    "roomd_ws_bytes_in_total", "roomd_ws_bytes_out_total", "roomd_http_requests_total",
    "roomd_turns_total", "roomd_turn_errors_total", "roomd_turn_duration_seconds",
    "roomd_queue_full_drops_total", "roomd_rate_limit_closes_total",
    "roomd_slow_consumer_closes_total", "roomd_storage_commits_total",
    "roomd_storage_commit_failures_total", "roomd_storage_commit_duration_seconds",
    "roomd_redis_connected", "roomd_redis_reconnects_total", "roomd_alarms_fired_total",
    "roomd_alarms_retried_total", "roomd_lua_heap_bytes", "roomd_reloads_total",
    "process_cpu_seconds_total", "process_resident_memory_bytes", "process_virtual_memory_bytes",
    "process_open_fds", "process_max_fds", "process_start_time_seconds",
)

# Every label a sample may carry: bounded sets only, never a room id.
LABELS = {"ns", "state", "code_class", "kind", "result", "le"}


class Page:
    """One scrape: .text, .families (name -> type) and the samples."""

    def __init__(self, text):
        self.text = text
        self.families = {}
        self.samples = {}
        for line in text.splitlines():
            if line.startswith("# TYPE "):
                _, _, name, kind = line.split(" ", 3)
                self.families[name] = kind
                continue
            if not line or line.startswith("#"):
                continue
            m = SAMPLE.match(line)
            if not m:
                raise AssertionError("not a sample line: %r" % line)
            labels = tuple(sorted(LABEL.findall(m.group(2) or "")))
            self.samples[(m.group(1), labels)] = float(m.group(3))

    def get(self, name, **labels):
        """The value of the sample name{labels}; AssertionError when there is none."""
        key = (name, tuple(sorted(labels.items())))
        if key not in self.samples:
            raise AssertionError("no sample %s%r on the page" % (name, labels))
        return self.samples[key]

    def activity(self):
        """The counters a test's own events move, summed over their labels: two pages with the
        same activity saw nothing happen between them."""
        return tuple(sum(v for (n, _), v in self.samples.items() if n == name)
                     for name in ACTIVITY)

    def label_names(self):
        return {k for _, labels in self.samples for k, _ in labels}


# What settled() watches: a room's turns, a socket's life, a stored write.
ACTIVITY = ("roomd_turns_total", "roomd_connections_opened_total",
            "roomd_connections_closed_total", "roomd_storage_commits_total",
            "roomd_http_requests_total")


def settled(admin_port, token, quiet=0.3, timeout=10):
    """A page taken once the server has been still for `quiet` seconds (an earlier test's
    leave turns and closes run after that test ends): the `before` of an exact count."""
    deadline = time.monotonic() + timeout
    page = scrape(admin_port, token)[1]
    since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.05)
        now = scrape(admin_port, token)[1]
        if now.activity() != page.activity():
            since = time.monotonic()
        elif time.monotonic() - since >= quiet:
            return now
        page = now
    raise AssertionError("the server did not settle within %ss" % timeout)


def scrape(admin_port, token):
    """GET /metrics with the admin token; the raw answer and its Page."""
    res = http_request(admin_port, "GET", "/metrics",
                       headers={"Authorization": "Bearer " + token}, timeout=10)
    if res.status != 200:
        raise AssertionError("GET /metrics: %s %r" % (res.status, res.body[:200]))
    return res, Page(res.body.decode("utf-8"))
