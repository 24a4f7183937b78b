#!/usr/bin/env python3
"""Integration tests of demo/leaky_server: each endpoint, each cache mode, each
leak cause and its fixed twin, the monitor line and the clean shutdown.

Usage: demo_test.py CASE --server PATH [--profiler LIBHEAPSCOPE.so]
Each case starts its own server on 127.0.0.1 with --port 0 (the server picks a
free port and prints it), talks to it over loopback with urllib, and stops it.
Every wait is bounded; no assertion is about time.
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
import urllib.request

MIB = 1 << 20
KIB = 1 << 10
ENTRY = MIB  # what /leak stores


def records_kept(seed):
    """Records session SEED keeps: demo/session_pool.cpp's batch, one in 64."""
    m64 = (1 << 64) - 1
    x, total, count = (seed * 0x9e3779b97f4a7c15) & m64, 0, 0
    while total < 8 * MIB:
        x = (x * 6364136223846793005 + 1442695040888963407) & m64
        total += 32 + (x >> 33) % 992
        count += 1
    return count // 64


class TestFailure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise TestFailure(what)


class Server:
    """A leaky_server child; stdout is collected line by line."""

    def __init__(self, binary, *args, env=None):
        self.lines = []
        self.cond = threading.Condition()
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.proc = subprocess.Popen([binary, "--port", "0", *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=full_env)
        self.stderr = []
        self.open_streams = 2
        self.readers = [threading.Thread(target=self._read, args=(self.proc.stdout, self.lines), daemon=True),
                        threading.Thread(target=self._read, args=(self.proc.stderr, self.stderr), daemon=True)]
        for t in self.readers:
            t.start()
        try:
            m = self.wait_line(r"listening on http://127\.0\.0\.1:(\d+)", timeout=20)
        except TestFailure:
            self.proc.kill()
            self.proc.wait()
            raise
        self.port = int(m.group(1))

    def _read(self, stream, sink):
        for line in stream:
            with self.cond:
                sink.append(line.rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.open_streams -= 1
            self.cond.notify_all()

    def wait_line(self, pattern, timeout=20, start=0):
        """The first stdout line from index `start` matching pattern (re.search)."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for line in self.lines[start:]:
                    m = rx.search(line)
                    if m:
                        return m
                left = deadline - time.monotonic()
                if left <= 0 or self.open_streams == 0:  # timed out, or the server is gone
                    raise TestFailure(f"no stdout line matching {pattern!r} within {timeout}s; "
                                      f"stdout: {self.lines[-10:]}, stderr: {self.stderr[-10:]}")
                self.cond.wait(min(left, 0.2))

    def get(self, path, expect=200):
        url = f"http://127.0.0.1:{self.port}{path}"
        try:
            with urllib.request.urlopen(url, timeout=20) as r:
                status, body, ctype = r.status, r.read().decode(), r.headers.get("Content-Type", "")
        except urllib.error.HTTPError as e:
            status, body, ctype = e.code, e.read().decode(), e.headers.get("Content-Type", "")
        check(status == expect, f"GET {path}: status {status}, expected {expect}; body {body!r}")
        if ctype.startswith("application/json"):
            return json.loads(body)
        return body

    def status(self):
        return self.get("/status")

    def warm_up(self):
        # Let every pool thread serve a request first (per-thread arenas, TLS),
        # so later heap figures measure the endpoints, not the server warming up.
        for _ in range(24):
            self.status()

    def poll_status(self, pred, what, timeout=20):
        deadline = time.monotonic() + timeout
        while True:
            s = self.status()
            if pred(s):
                return s
            if time.monotonic() > deadline:
                raise TestFailure(f"{what}: not reached within {timeout}s; last /status {s}")
            time.sleep(0.1)

    def stop(self, sig=signal.SIGINT):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise TestFailure(f"server did not exit within 20s of {sig.name}")
        for t in self.readers:  # drain stdout and stderr
            t.join(timeout=20)
        return rc


def growth(before, after, key="heap_used_bytes"):
    return after[key] - before[key]


# ---- cases -----------------------------------------------------------------

def case_endpoints(a):
    s = Server(a.server, "--monitor", "0")
    try:
        index = s.get("/")
        for route in ("/leak", "/status", "/snapshot", "/listener", "/listener-fixed", "/closure",
                      "/closure-fixed", "/timer", "/timer-fixed", "/fragment", "/fragment-fixed"):
            check(route in index, f"GET / does not list {route}: {index!r}")
        st = s.status()
        for key in ("rss_bytes", "heap_used_bytes", "heap_total_bytes", "external_bytes", "cache_entries", "uptime_s",
                    "requests", "listeners", "closures", "timers_active", "timer_ticks", "sessions", "recent_records"):
            check(isinstance(st.get(key), (int, float)) and not isinstance(st.get(key), bool),
                  f"/status {key} is not a number: {st.get(key)!r}")
        check(st["cache_mode"] == "leaky", f"/status cache_mode {st['cache_mode']!r}, expected 'leaky' (the default)")
        check(st["rss_bytes"] > 0 and st["heap_total_bytes"] >= st["heap_used_bytes"] > 0, f"/status figures: {st}")
        # external: the resident pages that are not anonymous (the server's own code at least).
        check(0 < st["external_bytes"] < st["rss_bytes"], f"/status external_bytes {st['external_bytes']}: {st}")
        check(st["heapscope_active"] is False and st["tracked_live_bytes"] is None,
              f"without heapscope, /status must say so: {st}")
        check(st["requests"] == 2, f"/status requests {st['requests']}, expected 2 (/ and /status)")
        snap = s.get("/snapshot", expect=503)
        check("not loaded" in snap.get("error", ""), f"/snapshot without heapscope: {snap}")
        leak = s.get("/leak")
        check(leak == {"stored_bytes": ENTRY, "cache_entries": 1, "cache_mode": "leaky"}, f"/leak answered {leak}")
        s.get("/no-such-route", expect=404)
    finally:
        check(s.stop() == 0, "exit status after SIGINT is not 0")


def case_options(a):
    bad = [(["--cache", "nope"], "'nope'"), (["--port", "70000"], "'70000'"), (["--ttl", "x"], "'x'"),
           (["--max-entries", "0"], "'0'"), (["--bogus"], "'--bogus'"), (["--monitor"], "--monitor")]
    for args, named in bad:
        p = subprocess.run([a.server, *args], capture_output=True, text=True, timeout=20)
        check(p.returncode == 2, f"leaky_server {args}: exit {p.returncode}, expected 2")
        check(named in p.stderr and "usage:" in p.stderr, f"leaky_server {args}: stderr does not name {named}: {p.stderr!r}")
    p = subprocess.run([a.server, "--help"], capture_output=True, text=True, timeout=20)
    check(p.returncode == 0 and "--cache" in p.stdout, f"--help: exit {p.returncode}, stdout {p.stdout!r}")
    # A port already taken (by a socket without SO_REUSEPORT): exit 1 with a message naming it.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        p = subprocess.run([a.server, "--port", str(port)], capture_output=True, text=True, timeout=20)
        check(p.returncode == 1 and f":{port}" in p.stderr, f"busy port {port}: exit {p.returncode}, stderr {p.stderr!r}")


def case_leaky(a):
    s = Server(a.server, "--cache", "leaky", "--monitor", "0")
    try:
        s.warm_up()
        before = s.status()
        n = 20
        for i in range(1, n + 1):
            r = s.get("/leak")
            check(r["cache_entries"] == i, f"/leak #{i}: cache_entries {r['cache_entries']}, expected {i}")
        after = s.status()
        check(after["cache_entries"] == n and after["cache_evicted"] == 0, f"/status after {n} /leak: {after}")
        g = growth(before, after)
        # Each entry: a 1 MiB string (+ malloc's page rounding), a map node, a tag.
        check(n * ENTRY <= g <= n * ENTRY + 2 * MIB,
              f"heap_used grew {g} bytes over {n} /leak, expected {n} MiB to {n} MiB + 2 MiB")
        rg = growth(before, after, "rss_bytes")
        check(rg >= n * ENTRY * 0.9, f"rss grew {rg} bytes over {n} /leak, expected at least {int(n * ENTRY * 0.9)}")
    finally:
        check(s.stop() == 0, "exit status after SIGINT is not 0")


def case_bounded(a):
    limit = 5
    s = Server(a.server, "--cache", "bounded", "--max-entries", str(limit), "--monitor", "0")
    try:
        s.warm_up()
        before = s.status()
        for i in range(1, 11):
            r = s.get("/leak")
            check(r["cache_entries"] == min(i, limit), f"/leak #{i}: cache_entries {r['cache_entries']}, "
                                                       f"expected {min(i, limit)}")
        mid = s.status()
        for i in range(11, 41):
            r = s.get("/leak")
            check(r["cache_entries"] == limit, f"/leak #{i}: cache_entries {r['cache_entries']}, expected {limit}")
        after = s.status()
        check(after["cache_entries"] == limit and after["cache_evicted"] == 40 - limit,
              f"/status after 40 /leak: {after}, expected {limit} entries and {40 - limit} evicted")
        g_total = growth(before, after)
        check(g_total <= limit * ENTRY + 2 * MIB, f"heap_used grew {g_total} bytes, expected at most "
                                                  f"{limit} entries + 2 MiB")
        g_flat = growth(mid, after)
        check(abs(g_flat) <= MIB, f"heap_used moved {g_flat} bytes over 30 /leak at the limit, expected flat (<= 1 MiB)")
    finally:
        check(s.stop() == 0, "exit status after SIGINT is not 0")


def case_ttl(a):
    s = Server(a.server, "--cache", "ttl", "--ttl", "1", "--monitor", "0")
    try:
        s.warm_up()
        before = s.status()
        n = 10
        for i in range(n):
            r = s.get("/leak")
            check(r["cache_entries"] >= 1, f"/leak #{i + 1}: cache_entries {r['cache_entries']}, expected >= 1")
        after = s.poll_status(lambda st: st["cache_entries"] == 0, "ttl cache empty after --ttl 1")
        check(after["cache_evicted"] == n, f"/status cache_evicted {after['cache_evicted']}, expected {n}")
        # The last payloads can still be on their way out (a response buffer of the request that
        # returned them) in the /status that first shows the cache empty: the heap comes back
        # within the poll, or the TTL did not free them.
        try:
            after = s.poll_status(lambda st: st["cache_entries"] == 0 and growth(before, st) <= MIB,
                                  "heap back within 1 MiB of the start after the TTL emptied the cache")
        except TestFailure:
            pass  # the check below says by how much
        g = growth(before, after)
        check(g <= MIB, f"heap_used is {g} bytes above the start once the TTL emptied the cache, expected <= 1 MiB")
    finally:
        check(s.stop() == 0, "exit status after SIGINT is not 0")


def case_weak(a):
    s = Server(a.server, "--cache", "weak", "--monitor", "0")
    try:
        s.warm_up()
        before = s.status()
        n = 20
        for i in range(n):
            s.get("/leak")
        right_after = s.status()
        check(right_after["cache_live_entries"] == 0,
              f"weak: {right_after['cache_live_entries']} entries still alive after their requests ended")
        g = growth(before, right_after)
        check(g <= MIB, f"weak: heap_used grew {g} bytes over {n} /leak, expected flat (<= 1 MiB)")
        after = s.poll_status(lambda st: st["cache_entries"] == 0, "weak cache pruned by the sweep")
        check(after["cache_evicted"] == n, f"weak: cache_evicted {after['cache_evicted']}, expected {n}")
    finally:
        check(s.stop() == 0, "exit status after SIGINT is not 0")


def case_weak_no_prune(a):
    s = Server(a.server, "--cache", "weak", "--no-prune", "--monitor", "0")
    try:
        s.warm_up()
        before = s.status()
        n = 20
        for i in range(1, n + 1):
            r = s.get("/leak")
            check(r["cache_entries"] == i, f"/leak #{i}: cache_entries {r['cache_entries']}, expected {i}")
        after = s.status()
        check(after["cache_entries"] == n and after["cache_live_entries"] == 0 and after["cache_evicted"] == 0,
              f"weak --no-prune after {n} /leak: {after}, expected {n} expired slots kept")
        g = growth(before, after)
        # The payloads are gone; only map nodes and make_shared blocks stay (~200 bytes each).
        check(g <= MIB, f"weak --no-prune: heap_used grew {g} bytes, expected the 1 MiB payloads freed")
    finally:
        check(s.stop() == 0, "exit status after SIGINT is not 0")


def case_listener(a):
    s = Server(a.server, "--monitor", "0")
    try:
        s.warm_up()
        n = 20
        before = s.status()
        for i in range(1, n + 1):
            r = s.get("/listener")
            check(r == {"listeners": i, "listeners_ran": i}, f"/listener #{i}: {r}")
        mid = s.status()
        check(mid["listeners"] == n, f"/status listeners {mid['listeners']}, expected {n}")
        # Every emit runs every listener still registered: 1 + 2 + ... + n.
        check(mid["listener_calls"] == n * (n + 1) // 2, f"listener_calls {mid['listener_calls']}, "
                                                          f"expected {n * (n + 1) // 2}")
        g = growth(before, mid)
        check(n * 64 * KIB <= g <= n * 64 * KIB + MIB, f"/listener x{n}: heap_used grew {g}, expected ~{n} x 64 KiB")
        for i in range(n):
            r = s.get("/listener-fixed")
            check(r == {"listeners": n, "listeners_ran": n + 1}, f"/listener-fixed #{i + 1}: {r}")
        after = s.status()
        check(after["listeners"] == n, f"/listener-fixed left {after['listeners'] - n} listeners behind")
        check(after["listener_calls"] == mid["listener_calls"] + n * (n + 1),
              f"listener_calls {after['listener_calls']}, expected {mid['listener_calls'] + n * (n + 1)}")
        g = growth(mid, after)
        check(g <= 256 * KIB, f"/listener-fixed x{n}: heap_used grew {g}, expected flat (<= 256 KiB)")
    finally:
        rc = s.stop()
        check(rc == 0, f"exit status after SIGINT {rc}")
        check(any(f"({n} listeners," in l for l in s.lines), f"shutdown line does not count {n} listeners: {s.lines[-3:]}")


def case_closure(a):
    s = Server(a.server, "--monitor", "0")
    try:
        s.warm_up()
        n = 20
        before = s.status()
        for i in range(1, n + 1):
            r = s.get("/closure")
            check(r == {"closures": i}, f"/closure #{i}: {r}")
        mid = s.status()
        check(mid["closure_captured_bytes"] == n * 256 * KIB,
              f"closure_captured_bytes {mid['closure_captured_bytes']}, expected {n * 256 * KIB}")
        g = growth(before, mid)
        check(n * 256 * KIB <= g <= n * 256 * KIB + MIB, f"/closure x{n}: heap_used grew {g}, expected ~{n} x 256 KiB")
        for i in range(1, n + 1):
            r = s.get("/closure-fixed")
            check(r == {"closures": n + i}, f"/closure-fixed #{i}: {r}")
        after = s.status()
        check(after["closure_captured_bytes"] == n * 256 * KIB + n * 8,
              f"closure_captured_bytes {after['closure_captured_bytes']}, expected {n * 256 * KIB + n * 8}")
        g = growth(mid, after)
        check(g <= 128 * KIB, f"/closure-fixed x{n}: heap_used grew {g}, expected flat (<= 128 KiB)")
    finally:
        check(s.stop() == 0, "exit status after SIGINT is not 0")


def case_timer(a):
    s = Server(a.server, "--monitor", "0")
    try:
        s.warm_up()
        n = 10
        before = s.status()
        for i in range(1, n + 1):
            r = s.get("/timer")
            check(r == {"timers_active": i}, f"/timer #{i}: {r}")
        mid = s.status()
        g = growth(before, mid)
        check(n * 128 * KIB <= g <= n * 128 * KIB + MIB, f"/timer x{n}: heap_used grew {g}, expected ~{n} x 128 KiB")
        # The leaked timers keep running.
        s.poll_status(lambda st: st["timer_ticks"] >= 3 * n, f"{n} leaked timers ticking")
        mid = s.status()
        for i in range(n):
            r = s.get("/timer-fixed")
            check(r == {"timers_active": n}, f"/timer-fixed #{i + 1}: {r}")
        after = s.status()
        check(after["timers_active"] == n, f"/timer-fixed left {after['timers_active'] - n} timers running")
        g = growth(mid, after)
        check(g <= 128 * KIB, f"/timer-fixed x{n}: heap_used grew {g}, expected flat (<= 128 KiB)")
    finally:
        check(s.stop() == 0, "exit status after SIGINT is not 0")


def case_fragment(a):
    # Memory the allocator keeps: each /fragment opens an idle session thread whose
    # arena keeps 8 MiB of freed pages. RSS and heap_total climb; the records kept
    # stay bounded by the ring (4096), so the heap in use grows far less.
    s = Server(a.server, "--monitor", "0")
    try:
        s.warm_up()
        n = 8
        before = s.status()
        kept = 0
        for i in range(1, n + 1):
            r = s.get("/fragment")
            kept += records_kept(i)
            check(r == {"sessions": i, "recent_records": min(4096, kept)},
                  f"/fragment #{i}: {r}, expected {i} sessions and {min(4096, kept)} records")
        mid = s.status()
        held = growth(before, mid, "heap_total_bytes") - growth(before, mid)
        rss = growth(before, mid, "rss_bytes")
        check(held >= n * 6 * MIB, f"/fragment x{n}: heap_total - heap_used grew {held}, expected >= {n * 6} MiB")
        check(rss >= n * 6 * MIB, f"/fragment x{n}: rss grew {rss}, expected >= {n * 6} MiB")
        # Records kept: <= 4096 of at most 1023 bytes, plus the sessions' thread caches.
        check(growth(before, mid) <= 4096 * 1024 + n * 512 * KIB,
              f"/fragment x{n}: heap_used grew {growth(before, mid)}, expected bounded by the ring")
        for i in range(1, n + 1):
            r = s.get("/fragment-fixed")
            kept += records_kept(n + i)
            check(r == {"sessions": n + i, "recent_records": min(4096, kept)}, f"/fragment-fixed #{i}: {r}")
        after = s.status()
        rss = growth(mid, after, "rss_bytes")
        check(rss <= n * 2 * MIB, f"/fragment-fixed x{n}: rss grew {rss}, expected < {n * 2} MiB (malloc_trim)")
    finally:
        check(s.stop() == 0, "exit status after SIGINT is not 0")


def case_monitor(a):
    s = Server(a.server, "--monitor", "1")
    try:
        for _ in range(3):
            s.get("/leak")
        rx = (r"^\[monitor\] rss=(\d+\.\d) MiB heap_total=(\d+\.\d) MiB heap_used=(\d+\.\d) MiB "
              r"external=(\d+\.\d) MiB cache_entries=3$")
        m = s.wait_line(rx, timeout=20)
        check(float(m.group(3)) >= 3.0, f"monitor heap_used {m.group(3)} MiB with 3 entries cached")
        check(float(m.group(2)) >= float(m.group(3)), f"monitor heap_total < heap_used: {m.group(0)}")
    finally:
        check(s.stop() == 0, "exit status after SIGINT is not 0")


def case_sigint(a):
    s = Server(a.server, "--monitor", "0")
    try:
        for _ in range(7):
            s.get("/leak")
        s.get("/listener")
        s.get("/closure")
        s.get("/timer")
        s.get("/fragment")
        s.get("/fragment-fixed")
    finally:
        rc = s.stop(signal.SIGINT)
    check(rc == 0, f"exit status after SIGINT {rc}, expected 0")
    want = "[shutdown] SIGINT: cleaned up 7 entries (1 listeners, 1 closures, 1 timers, 2 sessions)"
    check(want in s.lines, f"no line {want!r} in stdout: {s.lines[-3:]}")


def case_sigterm(a):
    s = Server(a.server, "--cache", "bounded", "--max-entries", "3", "--monitor", "0")
    try:
        for _ in range(5):
            s.get("/leak")
    finally:
        rc = s.stop(signal.SIGTERM)
    check(rc == 0, f"exit status after SIGTERM {rc}, expected 0")
    want = "[shutdown] SIGTERM: cleaned up 3 entries (0 listeners, 0 closures, 0 timers, 0 sessions)"
    check(want in s.lines, f"no line {want!r} in stdout: {s.lines[-3:]}")


def case_snapshot(a):
    check(a.profiler and os.path.exists(a.profiler), f"--profiler {a.profiler!r}: no such library")
    with tempfile.TemporaryDirectory() as tmp:
        prefix = os.path.join(tmp, "demo")
        s = Server(a.server, "--monitor", "0",
                   env={"LD_PRELOAD": a.profiler, "HEAPSCOPE_OUT": prefix, "HEAPSCOPE_AT_EXIT": "0"})
        try:
            for _ in range(3):
                s.get("/leak")
            st = s.status()
            check(st["heapscope_active"] is True, f"/status under LD_PRELOAD={a.profiler}: {st}")
            check(st["tracked_live_bytes"] >= 3 * ENTRY and st["tracked_live_blocks"] > 0,
                  f"tracked_live_bytes {st['tracked_live_bytes']} with 3 entries cached, expected >= 3 MiB")
            r = s.get("/snapshot")
            path = r.get("path", "")
            check(path.startswith(prefix + ".") and path.endswith(".hsnap") and os.path.getsize(path) > 0,
                  f"/snapshot answered {r}, expected a non-empty {prefix}.PID.SEQ.hsnap")
        finally:
            check(s.stop() == 0, "exit status after SIGINT is not 0")


CASES = {name[5:].replace("_", "-"): fn for name, fn in globals().items() if name.startswith("case_")}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("case", choices=sorted(CASES))
    p.add_argument("--server", required=True)
    p.add_argument("--profiler")
    a = p.parse_args()
    try:
        CASES[a.case](a)
    except TestFailure as e:
        print(f"FAIL {a.case}: {e}", file=sys.stderr)
        return 1
    print(f"ok {a.case}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
