#!/usr/bin/env python3
"""End to end: Debian's Prometheus scrapes `heapscope serve -- leaky_server` every second and
evaluates the shipped alert rules, their windows divided by 30 (scale_windows.py, the same
rule text); the test reads Prometheus's HTTP API.

  leaky    heapscope_heap_inuse_bytes rises by the demo's exact entry size per /leak (1 MiB
           and its NUL, within 4 KiB a request), and under 2 /leak a second
           HeapscopeLeakSuspect reaches `firing` within 90 polls a second apart, naming
           LeakyCache::store at the line marked in demo/cache.cpp and the container
           std::map<long, CacheEntry>, growing faster than any other suspect (the entries'
           tags, a leak too, may fire beside it).
  bounded  --cache bounded --max-entries 10 under the same load, for 150 polls: the cache
           fills (the series shows 10 entries exactly, and HeapscopeHeapGrowing goes pending on
           that step), and no alert fires; no leak suspect series is left at the end.

Usage: e2e_test.py CASE --heapscope PATH --server PATH --rules PATH [--prometheus PATH]
Everything listens on 127.0.0.1 (free ports); the agent, the server and Prometheus are
stopped in `finally`, on failure too. Every wait is a bounded count of polls; nothing
asserts a time.
"""
import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(os.path.dirname(HERE))
SCALE = 30  # the rules' windows divided by 30: for 15m -> 30s, [30m] -> [1m], for 1h -> 2m

# What one /leak keeps (demo/cache.h): a copy of the 1 MiB payload (std::string: 1 MiB + its
# terminating NUL) in a std::map node with the request's tag. The live heap must rise by that
# per request, within TOLERANCE bytes a request (the map node and the tag's string: about 140
# bytes here; 4 KiB is 0.4% of the entry, far below one entry more or less).
ENTRY_BYTES = (1 << 20) + 1
TOLERANCE = 4096
MEASURED_REQUESTS = 16
SETTLED = 16 << 10  # the idle server's heap moves less than this between scrapes

LOAD_PER_SECOND = 2     # /leak requests a second while waiting for the alert
ALERT_POLLS = 90        # polls of /api/v1/alerts, one a second: "firing within 90 s"
# The bounded run is watched under load for this many polls: longer than the leak's 90, and
# past the scaled HeapscopeHeapGrowing's `for` (1h / 30 = 2m) counted from the load's start,
# so the cache's filling step, which makes that rule pending, would have fired it by then had
# the rule not been built to ignore a one-off step.
BOUNDED_POLLS = 150
MAX_ENTRIES = 10        # --max-entries of the bounded cache
WINDOW_INTERVAL, WINDOW = 1, 10  # the agent's own window: a snapshot a second, the last 10
RULES = ("HeapscopeHeapGrowing", "HeapscopeLeakSuspect", "HeapscopeRSSNearLimit")

CONTAINER = "std::map<long, CacheEntry>"


class TestFailure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise TestFailure(what)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url, timeout=10):
    """(status, body) of a GET; (None, reason) when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")
    except (urllib.error.URLError, ConnectionError, socket.timeout) as e:
        return None, str(e)


def insert_line():
    path = os.path.join(SOURCE, "demo", "cache.cpp")
    for n, line in enumerate(open(path), 1):
        if "// the leak: never erased" in line:
            return n
    raise TestFailure(f"{path}: no line marked '// the leak: never erased'")


class Child:
    """A process in its own process group, its stdout and stderr collected by threads."""

    def __init__(self, name, argv, env=None):
        self.name = name
        self.argv = argv
        self.out, self.err = [], []
        self.cond = threading.Condition()
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env=env, start_new_session=True)
        for stream, sink in ((self.proc.stdout, self.out), (self.proc.stderr, self.err)):
            threading.Thread(target=self._read, args=(stream, sink), daemon=True).start()

    def _read(self, stream, sink):
        for line in stream:
            with self.cond:
                sink.append(line.rstrip("\n"))
                self.cond.notify_all()

    def wait_line(self, which, pattern, polls=200):
        """The first line of stdout ("out") or stderr ("err") matching pattern; polls of 0.1 s, bounded."""
        rx = re.compile(pattern)
        lines = self.out if which == "out" else self.err
        for _ in range(polls):
            with self.cond:
                for line in lines:
                    m = rx.search(line)
                    if m:
                        return m
                if self.proc.poll() is not None:
                    break
                self.cond.wait(0.1)
        raise TestFailure(f"{self.name}: no std{which} line matching {pattern!r} (exit {self.proc.poll()}); "
                          f"{self.tail()}")

    def tail(self):
        with self.cond:
            return f"stdout: {self.out[-8:]}, stderr: {self.err[-12:]}"

    def stop(self):
        """SIGTERM to the whole group, then SIGKILL if it has not gone within 10 s."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # what is left of the group (the served child)
        except ProcessLookupError:
            pass
        if self.proc.poll() is None:
            self.proc.wait(timeout=10)


class Prometheus:
    def __init__(self, binary, workdir, rules, target):
        self.workdir = workdir
        config = os.path.join(workdir, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n"
                    "  scrape_interval: 1s\n"
                    "  scrape_timeout: 1s\n"
                    "  evaluation_interval: 1s\n"
                    f"rule_files:\n  - {rules}\n"
                    "scrape_configs:\n"
                    "  - job_name: heapscope\n"
                    "    static_configs:\n"
                    f"      - targets: ['{target}']\n")
        os.chmod(config, 0o600)
        self.child = None
        for _ in range(3):  # a free port can be taken between free_port() and the bind: retry
            self.port = free_port()
            self.child = Child("prometheus", [
                binary, f"--config.file={config}", f"--storage.tsdb.path={os.path.join(workdir, 'data')}",
                f"--web.listen-address=127.0.0.1:{self.port}", "--storage.tsdb.retention.time=1h",
                "--log.level=warn"])
            if self._ready():
                return
            self.child.stop()
        raise TestFailure(f"prometheus did not become ready; {self.child.tail()}")

    def _ready(self):
        for _ in range(300):
            if self.child.proc.poll() is not None:
                return False
            status, _ = http_get(f"http://127.0.0.1:{self.port}/-/ready", timeout=2)
            if status == 200:
                return True
            time.sleep(0.1)
        return False

    def api(self, path, **params):
        url = f"http://127.0.0.1:{self.port}/api/v1/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        status, body = http_get(url)
        check(status == 200, f"GET {url}: status {status}, body {body[:300]!r}")
        reply = json.loads(body)
        check(reply.get("status") == "success", f"GET {url}: {reply}")
        return reply["data"]

    def query(self, expr):
        """The instant vector of expr: [(labels, float value)]."""
        data = self.api("query", query=expr)
        check(data["resultType"] == "vector", f"query {expr!r}: result type {data['resultType']}")
        return [(r["metric"], float(r["value"][1])) for r in data["result"]]

    def alerts(self):
        return self.api("alerts")["alerts"]

    def stop(self):
        if self.child:
            self.child.stop()


class Load:
    """GET /leak LOAD_PER_SECOND times a second from a thread, at most `limit` requests."""

    def __init__(self, port, limit):
        self.port, self.limit = port, limit
        self.sent, self.errors = 0, []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        for _ in range(self.limit):
            if self.done.wait(1.0 / LOAD_PER_SECOND):
                return
            status, body = http_get(f"http://127.0.0.1:{self.port}/leak", timeout=20)
            if status != 200:
                self.errors.append(f"GET /leak: {status} {body[:200]}")
                return
            self.sent += 1

    def stop(self):
        self.done.set()
        self.thread.join(timeout=30)
        check(not self.errors, f"the load failed: {self.errors}")


def start_agent(args, service, server_args):
    """heapscope serve --listen 127.0.0.1:0 -- leaky_server --port 0 --monitor 0 SERVER_ARGS.

    (agent, agent port, server port, server pid): the agent's port from its stderr line
    `listening on http://127.0.0.1:PORT/`, the server's from its stdout line, the pid from both
    (the agent's `serving process PID` and the server's `(cache=..., pid PID)` must agree)."""
    agent = Child("heapscope serve", [
        args.heapscope, "serve", "--listen", "127.0.0.1:0", "--service", service,
        "--window-interval", str(WINDOW_INTERVAL), "--window", str(WINDOW),
        "--", args.server, "--port", "0", "--monitor", "0", *server_args])
    try:
        port = int(agent.wait_line("err", r"listening on http://127\.0\.0\.1:(\d+)/").group(1))
        served = int(agent.wait_line("err", r"serving process (\d+)").group(1))
        m = agent.wait_line("out", r"listening on http://127\.0\.0\.1:(\d+) \(.*\bpid (\d+)\)")
        server_port, server_pid = int(m.group(1)), int(m.group(2))
        check(served == server_pid, f"the agent serves pid {served}, the server says it is pid {server_pid}")
        for _ in range(200):
            status, body = http_get(f"http://127.0.0.1:{port}/metrics", timeout=5)
            if status == 200 and f'heapscope_heap_inuse_bytes{{service="{service}",pid="{server_pid}"}}' in body:
                return agent, port, server_port, server_pid
            check(agent.proc.poll() is None, f"heapscope serve exited ({agent.proc.poll()}); {agent.tail()}")
            time.sleep(0.1)
        raise TestFailure(f"heapscope serve on 127.0.0.1:{port} served no heapscope_heap_inuse_bytes for "
                          f"pid {server_pid}; last /metrics: {status} {body[:300]!r}; {agent.tail()}")
    except BaseException:
        agent.stop()
        raise


def series_value(prom, expr, what):
    rows = prom.query(expr)
    check(len(rows) == 1, f"{what}: query {expr!r} gave {len(rows)} series, expected 1: {rows}")
    return rows[0][1]


def settled_heap(prom, selector, at_least=None, polls=60):
    """heapscope_heap_inuse_bytes once its last 3+ scrapes agree within SETTLED bytes (and it is >= at_least)."""
    last = None
    for _ in range(polls):
        series = f"heapscope_heap_inuse_bytes{selector}"
        rows = prom.query(f"{series} and (max_over_time({series}[3500ms]) - min_over_time({series}[3500ms])) < {SETTLED} "
                          f"and count_over_time({series}[3500ms]) >= 3")
        if rows:
            check(len(rows) == 1, f"{series}: {len(rows)} series, expected 1: {rows}")
            last = rows[0][1]
            if at_least is None or last >= at_least:
                return last
        time.sleep(0.5)
    raise TestFailure(f"heapscope_heap_inuse_bytes{selector} did not settle"
                      + (f" at or above {at_least:.0f} (last {last})" if at_least is not None else ""))


def check_rules_evaluated(prom):
    """The shipped rule file is loaded, its three alerts evaluated without error."""
    rules = [r for g in prom.api("rules")["groups"] for r in g["rules"]]
    names = sorted(r["name"] for r in rules)
    check(names == sorted(RULES), f"Prometheus loaded the rules {names}, expected {sorted(RULES)}")
    bad = [(r["name"], r.get("health"), r.get("lastError")) for r in rules if r.get("health") != "ok"]
    check(not bad, f"rules not evaluated cleanly: {bad}")


def active_alerts(prom, service):
    return [a for a in prom.alerts() if a["labels"].get("service") == service]


def case_leaky(args, workdir, rules):
    line = insert_line()
    agent = prom = load = None
    try:
        agent, port, server_port, server_pid = start_agent(args, "leaky", ["--cache", "leaky"])
        prom = Prometheus(args.prometheus, workdir, rules, f"127.0.0.1:{port}")
        sel = f'{{service="leaky",pid="{server_pid}"}}'
        # Warm the server's threads first, so the measurement sees only what /leak keeps.
        for _ in range(24):
            http_get(f"http://127.0.0.1:{server_port}/status")
        up = None
        for _ in range(100):
            up = prom.query(f"heapscope_target_up{sel}")
            if up:
                break
            time.sleep(0.2)
        check(up and up[0][1] == 1, f"heapscope_target_up{sel}: {up}, expected one series = 1")

        # 1. The live heap per /leak, from Prometheus's series.
        before = settled_heap(prom, sel)
        for i in range(MEASURED_REQUESTS):
            status, body = http_get(f"http://127.0.0.1:{server_port}/leak", timeout=20)
            check(status == 200, f"GET /leak #{i + 1}: {status} {body[:200]!r}")
        after = settled_heap(prom, sel, at_least=before + MEASURED_REQUESTS * (ENTRY_BYTES - TOLERANCE))
        per_request = (after - before) / MEASURED_REQUESTS
        print(f"heapscope_heap_inuse_bytes: {before:.0f} -> {after:.0f} over {MEASURED_REQUESTS} /leak: "
              f"{per_request:.0f} bytes per request (entry {ENTRY_BYTES})")
        check(abs(per_request - ENTRY_BYTES) <= TOLERANCE,
              f"heapscope_heap_inuse_bytes rose {per_request:.0f} bytes per /leak, expected {ENTRY_BYTES} "
              f"within {TOLERANCE} bytes")

        # 2. Steady load until the shipped leak alert fires.
        load = Load(server_port, limit=ALERT_POLLS * LOAD_PER_SECOND + 10)
        # Every entry also keeps its tag (a std::string allocated in random_tag): a second,
        # small leak the agent may name too. The cache's insert must be among the firing
        # suspects, and the one growing fastest.
        def is_store(alert):
            return re.fullmatch(rf".*\bLeakyCache::store (?:.*/)?cache\.cpp:{line}", alert["labels"].get("origin", ""))

        firing, polls = [], 0
        for polls in range(1, ALERT_POLLS + 1):
            time.sleep(1)
            firing = [a for a in active_alerts(prom, "leaky")
                      if a["labels"]["alertname"] == "HeapscopeLeakSuspect" and a["state"] == "firing"]
            if any(is_store(a) for a in firing):
                break
            check(not load.errors, f"the load failed: {load.errors}")
        suspects = prom.query(f"heapscope_leak_suspect_bytes_per_second{sel}")
        store = [a for a in firing if is_store(a)]
        check(store, f"HeapscopeLeakSuspect did not fire for LeakyCache::store at cache.cpp:{line} within "
                     f"{ALERT_POLLS} polls ({load.sent} /leak sent); alerts {active_alerts(prom, 'leaky')}; "
                     f"suspect series {suspects}")
        load.stop()
        check_rules_evaluated(prom)
        check(len(store) == 1, f"{len(store)} alerts for the cache's insert, expected one: {store}")
        alert = store[0]
        print(f"HeapscopeLeakSuspect firing after {polls} polls, {load.sent} /leak: {alert['labels']} at "
              f"{float(alert['value']):.0f} bytes/s; all firing: "
              f"{[(a['labels'].get('origin'), a['value']) for a in firing]}")
        others = [a for a in firing if a is not alert and float(a["value"]) >= float(alert["value"])]
        check(not others, f"suspects growing as fast as the cache's insert ({alert['value']} bytes/s): {others}")
        labels = alert["labels"]
        origin = labels["origin"]
        check(labels.get("container") == CONTAINER, f"the alert's container is {labels.get('container')!r}, "
                                                    f"expected {CONTAINER!r}")
        check(labels.get("pid") == str(server_pid) and labels.get("severity") == "warning",
              f"the alert's labels {labels}, expected pid {server_pid}, severity warning")
        summary = alert["annotations"].get("summary")
        want = f"leaky (pid {server_pid}): leak suspect {origin} filling {CONTAINER}"
        check(summary == want, f"the alert's summary is {summary!r}, expected {want!r}")
        return polls
    finally:
        for thing in (load, prom, agent):
            if thing:
                try:
                    thing.stop()
                except Exception as e:  # keep stopping the rest
                    print(f"while stopping: {e}", file=sys.stderr)


def case_bounded(args, workdir, rules):
    agent = prom = load = None
    try:
        agent, port, server_port, server_pid = start_agent(
            args, "bounded", ["--cache", "bounded", "--max-entries", str(MAX_ENTRIES)])
        prom = Prometheus(args.prometheus, workdir, rules, f"127.0.0.1:{port}")
        sel = f'{{service="bounded",pid="{server_pid}"}}'
        for _ in range(24):
            http_get(f"http://127.0.0.1:{server_port}/status")
        before = settled_heap(prom, sel)
        load = Load(server_port, limit=BOUNDED_POLLS * LOAD_PER_SECOND + 10)
        seen = set()  # (alertname, state) seen during the run
        for polls in range(1, BOUNDED_POLLS + 1):
            time.sleep(1)
            alerts = active_alerts(prom, "bounded")
            seen.update((a["labels"]["alertname"], a["state"]) for a in alerts)
            firing = [a for a in alerts if a["state"] == "firing"]
            check(not firing, f"poll {polls}: alerts firing for the bounded cache: {firing}")
            check(not load.errors, f"the load failed: {load.errors}")
        load.stop()
        check(load.sent >= BOUNDED_POLLS, f"only {load.sent} /leak sent in {BOUNDED_POLLS} polls, "
                                          f"expected at least {BOUNDED_POLLS}")
        check_rules_evaluated(prom)
        # Not vacuous: the rules saw the cache fill (the heap-growing rule went pending on the
        # step, and its `for` kept it from firing), the agent was scraped all along, and the
        # series shows exactly the full cache.
        check(("HeapscopeHeapGrowing", "pending") in seen,
              f"HeapscopeHeapGrowing never went pending on the cache's filling step: seen {sorted(seen)}")
        full = settled_heap(prom, sel, at_least=before + MAX_ENTRIES * (ENTRY_BYTES - TOLERANCE))
        check(full <= before + MAX_ENTRIES * (ENTRY_BYTES + TOLERANCE),
              f"the bounded cache's heap rose {full - before:.0f} bytes after {load.sent} /leak, expected "
              f"{MAX_ENTRIES} entries of {ENTRY_BYTES} within {TOLERANCE} bytes each")
        samples = series_value(prom, f"count_over_time(heapscope_heap_inuse_bytes{sel}[{BOUNDED_POLLS}s])",
                               "scrapes of the bounded agent")
        check(samples >= BOUNDED_POLLS / 2, f"only {samples:.0f} scrapes of the agent in {BOUNDED_POLLS} polls")
        leftover = [a for a in active_alerts(prom, "bounded") if a["labels"]["alertname"] == "HeapscopeLeakSuspect"]
        check(not leftover, f"HeapscopeLeakSuspect active for the bounded cache: {leftover}")
        suspects = prom.query(f"heapscope_leak_suspect_bytes_per_second{sel}")
        check(not suspects, f"leak suspect series for the bounded cache: {suspects}")
        print(f"bounded: {load.sent} /leak, heap {before:.0f} -> {full:.0f}, {BOUNDED_POLLS} polls, "
              f"{samples:.0f} scrapes, seen {sorted(seen)}, nothing fired")
    finally:
        for thing in (load, prom, agent):
            if thing:
                try:
                    thing.stop()
                except Exception as e:
                    print(f"while stopping: {e}", file=sys.stderr)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("case", choices=["leaky", "bounded"])
    p.add_argument("--heapscope", required=True)
    p.add_argument("--server", required=True)
    p.add_argument("--rules", required=True)
    p.add_argument("--prometheus", default="prometheus")
    args = p.parse_args()
    # ctest's timeout or a Ctrl-C: leave through the `finally`s, which stop what was started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("FAIL: terminated"))
    with tempfile.TemporaryDirectory(prefix="heapscope-alerts-") as workdir:
        rules = os.path.join(workdir, "heapscope.rules.yml")
        with open(args.rules) as src, open(rules, "w") as dst:
            r = subprocess.run([sys.executable, os.path.join(HERE, "scale_windows.py"), str(SCALE)],
                               stdin=src, stdout=dst, stderr=subprocess.PIPE, text=True, timeout=30)
        os.chmod(rules, 0o600)
        if r.returncode != 0:
            sys.exit(f"FAIL: scale_windows.py {SCALE} < {args.rules}: {r.stderr}")
        try:
            if args.case == "leaky":
                case_leaky(args, workdir, rules)
            else:
                case_bounded(args, workdir, rules)
        except TestFailure as e:
            sys.exit(f"FAIL: {e}")
    print(f"ok {args.case}")


if __name__ == "__main__":
    main()
