#!/usr/bin/env python3
"""tests/serve: `heapscope serve -- leaky_server` on 127.0.0.1 free ports.

Usage: serve_test.py BUILD_DIR CASE. Each case starts its own agent (and the
demo server under it), and kills both in `finally`. The profile.proto bytes
are decoded here with a small wire-format reader (no protobuf module needed).
"""
import gzip
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

BUILD = os.path.abspath(sys.argv[1])
HEAPSCOPE = os.path.join(BUILD, "tools", "heapscope")
DEMO = os.path.join(BUILD, "demo", "leaky_server")


class Served:
    """heapscope serve --listen 127.0.0.1:0 -- leaky_server --port 0."""

    def __init__(self, *extra, demo_args=("--monitor", "0")):
        self.proc = subprocess.Popen(
            [HEAPSCOPE, "serve", "--listen", "127.0.0.1:0", *extra, "--", DEMO, "--port", "0", *demo_args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
        self.port = self.demo = self.pid = None
        self.err = []
        deadline = time.monotonic() + 20
        # Both lines come within seconds; bounded by the deadline and a count.
        for _ in range(200):
            if time.monotonic() > deadline or (self.port and self.pid):
                break
            line = self.proc.stderr.readline()
            if not line:
                break
            self.err.append(line)
            m = re.search(r"listening on http://127\.0\.0\.1:(\d+)/", line)
            if m:
                self.port = int(m.group(1))
            m = re.search(r"serving process (\d+)", line)
            if m:
                self.pid = int(m.group(1))
        out = self.proc.stdout.readline()
        m = re.search(r"listening on http://(127\.0\.0\.1:\d+)", out)
        self.demo = m.group(1) if m else None
        if not (self.port and self.pid and self.demo):
            self.stop()
            raise AssertionError("serve did not start: %r %r" % (self.err, out))

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def leak(self, n=1):
        for _ in range(n):
            urllib.request.urlopen("http://%s/leak" % self.demo, timeout=30).read()

    def stop(self):
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=30)


def get(url, data=None, headers=None):
    """(status, headers, body) without raising on 4xx/5xx."""
    req = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


# ---- profile.proto wire format ----
def varint(b, i):
    v = s = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << s
        s += 7
        if c < 0x80:
            return v, i


def fields(b):
    i = 0
    while i < len(b):
        key, i = varint(b, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = varint(b, i)
        elif wt == 2:
            n, i = varint(b, i)
            v, i = b[i:i + n], i + n
        elif wt == 1:
            v, i = b[i:i + 8], i + 8
        elif wt == 5:
            v, i = b[i:i + 4], i + 4
        else:
            raise ValueError("wire type %d" % wt)
        yield num, wt, v


def packed(v, wt):
    if wt == 0:
        return [v]
    out, i = [], 0
    while i < len(v):
        x, i = varint(v, i)
        out.append(x)
    return out


def signed(x):
    return x - (1 << 64) if x >= 1 << 63 else x


def parse_profile(gz):
    assert gz[:2] == b"\x1f\x8b", "not gzip: %r" % gz[:10]
    b = gzip.decompress(gz)
    p = {"sample_type": [], "sample": [], "mapping": [], "location": {}, "function": {}, "strings": []}
    for num, wt, v in fields(b):
        if num == 1:
            vt = dict((n, x) for n, _, x in fields(v))
            p["sample_type"].append((vt.get(1, 0), vt.get(2, 0)))
        elif num == 2:
            s = {"loc": [], "value": []}
            for n, w, x in fields(v):
                if n == 1:
                    s["loc"] += packed(x, w)
                elif n == 2:
                    s["value"] += [signed(y) for y in packed(x, w)]
            p["sample"].append(s)
        elif num == 3:
            m = dict((n, x) for n, _, x in fields(v))
            p["mapping"].append(m)
        elif num == 4:
            loc = {"line": []}
            for n, w, x in fields(v):
                if n == 1:
                    loc["id"] = x
                elif n == 2:
                    loc["mapping"] = x
                elif n == 4:
                    line = dict((k, y) for k, _, y in fields(x))
                    loc["line"].append(line)
            p["location"][loc["id"]] = loc
        elif num == 5:
            f = dict((n, x) for n, _, x in fields(v))
            p["function"][f[1]] = f
        elif num == 6:
            p["strings"].append(v.decode())
        elif num == 11:
            pt = dict((n, x) for n, _, x in fields(v))
            p["period_type"] = pt
        elif num == 12:
            p["period"] = v
        elif num == 9:
            p["time_nanos"] = v
        elif num == 10:
            p["duration_nanos"] = v
        elif num == 14:
            p["default_sample_type"] = v
    st = p["strings"]
    p["types"] = [(st[a], st[b]) for a, b in p["sample_type"]]
    p["default"] = st[p.get("default_sample_type", 0)]
    return p


def function_of(p, loc_id):
    loc = p["location"][loc_id]
    if not loc["line"]:
        return ""
    return p["strings"][p["function"][loc["line"][-1][1]][2]]


def totals(p):
    out = [0, 0, 0, 0]
    for s in p["sample"]:
        for k in range(4):
            out[k] += s["value"][k]
    return out


def metric(text, name, **labels):
    for line in text.splitlines():
        if line.startswith(name + "{") and all('%s="%s"' % kv in line for kv in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


# ---- cases ----
def case_go_pprof():
    s = Served()
    try:
        s.leak(5)
        time.sleep(0.5)  # past the agent's 0.25 s snapshot sharing
        env = dict(os.environ, HOME=os.environ.get("TMPDIR", "/tmp"), PPROF_TMPDIR=os.environ.get("TMPDIR", "/tmp"))
        top = subprocess.run(["go", "tool", "pprof", "-top", s.url("/debug/pprof/heap")], capture_output=True,
                             text=True, timeout=120, env=env)
        assert top.returncode == 0, top.stderr
        rows = [l for l in top.stdout.splitlines() if re.match(r"\s*[\d.]+[kMG]?B\s", l)]
        assert rows and "LeakyCache::store" in rows[0], top.stdout
        # -seconds 5: a delta holding only what grew meanwhile (3 more /leak).
        done = threading.Event()

        def drive():
            time.sleep(1.5)
            s.leak(3)
            done.set()
        th = threading.Thread(target=drive)
        th.start()
        delta = subprocess.run(["go", "tool", "pprof", "-top", "-seconds", "5", s.url("/debug/pprof/heap")],
                               capture_output=True, text=True, timeout=120, env=env)
        th.join()
        assert done.is_set()
        assert delta.returncode == 0, delta.stderr
        rows = [l for l in delta.stdout.splitlines() if re.match(r"\s*-?[\d.]+[kMG]?B\s", l)]
        assert rows and "LeakyCache::store" in rows[0], delta.stdout
        m = re.search(r"([\d.]+)MB\s+[\d.]+%\s+[\d.]+%\s+[\d.]+MB\s+[\d.]+%\s+demo::\(anonymous namespace\)::LeakyCache::store",
                      delta.stdout)
        assert m and abs(float(m.group(1)) - 3.0) < 0.1, delta.stdout  # 3 entries of 1 MiB, not the 5 before
    finally:
        s.stop()


def case_contract():
    s = Served()
    try:
        s.leak(2)
        time.sleep(0.5)
        prev = None
        for k in range(3):
            st, h, body = get(s.url("/debug/pprof/heap"))
            assert st == 200, (st, body[:200])
            assert h["Content-Type"] == "application/octet-stream", h["Content-Type"]
            assert h["Content-Disposition"] == 'attachment; filename="heap"', h["Content-Disposition"]
            assert h["X-Content-Type-Options"] == "nosniff"
            p = parse_profile(body)
            assert p["types"] == [("alloc_objects", "count"), ("alloc_space", "bytes"), ("inuse_objects", "count"),
                                  ("inuse_space", "bytes")], p["types"]
            assert p["default"] == "inuse_space"
            pt = p["period_type"]
            assert (p["strings"][pt[1]], p["strings"][pt[2]]) == ("space", "bytes")
            assert p["period"] == 1  # every allocation recorded
            main = [m for m in p["mapping"] if p["strings"][m.get(5, 0)].endswith("/leaky_server")]
            assert main, [p["strings"][m.get(5, 0)] for m in p["mapping"]]
            assert p["strings"][main[0].get(6, 0)], "main mapping without a build id"
            assert main[0].get(7) == 1, "has_functions not set"
            named = [f for f in p["function"].values() if "LeakyCache::store" in p["strings"][f[2]]]
            assert named and p["strings"][named[0][4]].endswith("cache.cpp"), "function without its file"
            assert all(l.get(2, 0) > 0 for loc in p["location"].values() for l in loc["line"]
                       if "LeakyCache::store" in p["strings"][p["function"][l[1]][2]]), "lines missing"
            t = totals(p)
            if prev:
                assert t[0] >= prev[0] and t[1] >= prev[1], (prev, t)  # alloc values never decrease
            prev = t
            s.leak(1)
            time.sleep(0.3)
        st, h, body = get(s.url("/debug/pprof/allocs"))
        assert st == 200 and h["Content-Disposition"] == 'attachment; filename="allocs"'
        assert parse_profile(body)["default"] == "alloc_space"
        st, h, body = get(s.url("/debug/pprof/heap?debug=1&gc=1"))
        assert st == 200 and h["Content-Type"] == "text/plain; charset=utf-8"
        text = body.decode()
        assert re.match(r"heap profile: \d+: \d+ \[\d+: \d+\] @ heap/2\n", text), text[:200]
        assert "LeakyCache::store" in text and "\nMAPPED_LIBRARIES:\n" in text
        # Go's frame lines: `#\t0xPC\tfunction+0xOFF\tfile:line`; the offset is the pc's distance
        # from the entry of the ELF symbol covering it: pc - off is that symbol's run-time address
        # (checked against nm for the demo's own store).
        frames = re.findall(r"^#\t0x([0-9a-f]+)\t(.*?)\+0x([0-9a-f]+)\t(\S*):(\d+)$", text, re.M)
        assert frames, text[:600]
        store = [(int(pc, 16), int(off, 16)) for pc, fn, off, _, _ in frames if "LeakyCache::store" in fn]
        assert store, text[:600]
        entries = {pc - off for pc, off in store}
        nm = subprocess.run(["nm", "-C", "--defined-only", DEMO], capture_output=True, text=True, check=True).stdout
        syms = [int(l.split()[0], 16) for l in nm.splitlines() if "LeakyCache::store(" in l.split(None, 2)[-1]]
        assert syms, "nm finds no LeakyCache::store in " + DEMO
        # The pcs are run-time addresses (PIE, page-aligned bias): each entry is one of the
        # symbol's addresses moved by the same bias.
        biases = {e - sy for e in entries for sy in syms if (e - sy) % 4096 == 0}
        assert len(biases) == 1, (entries, syms)
        st, h, body = get(s.url("/debug/pprof/symbol"))
        assert (st, body) == (200, b"num_symbols: 1\n"), body
        # POST the address of the store location: its name comes back.
        p = parse_profile(get(s.url("/debug/pprof/heap"))[2])
        addr = [loc for loc in p["location"].values() if loc["line"] and "LeakyCache::store" in function_of(p, loc["id"])]
        assert addr
        raw = [f for n, w, f in fields(gzip.decompress(get(s.url("/debug/pprof/heap"))[2])) if n == 4]
        pcs = []
        for v in raw:
            d = dict((n, x) for n, _, x in fields(v))
            pcs.append(d.get(3, 0))
        st, h, body = get(s.url("/debug/pprof/symbol"), data=b"+".join(b"%#x" % pc for pc in pcs[:50]))
        assert st == 200 and body.startswith(b"num_symbols: 1\n") and len(body.splitlines()) > 1, body[:300]
        for line in body.decode().splitlines()[1:]:
            assert re.match(r"0x[0-9a-f]+ \S", line), line
        # The index, and /metrics in both formats.
        st, h, body = get(s.url("/debug/pprof/"))
        assert st == 200 and b"/debug/pprof/heap?debug=1" in body
        st, h, body = get(s.url("/metrics"))
        assert st == 200 and h["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
        text = body.decode()
        labels = dict(service="leaky_server", pid=str(s.pid))
        assert metric(text, "heapscope_target_up", **labels) == 1
        assert metric(text, "heapscope_heap_inuse_bytes", **labels) >= 5 * 1048576
        for name in ("heapscope_heap_inuse_objects", "heapscope_heap_allocated_bytes_total",
                     "heapscope_heap_allocations_total", "heapscope_heap_frees_total", "process_resident_memory_bytes",
                     "heapscope_agent_snapshots_total", "heapscope_scrape_errors_total"):
            assert metric(text, name, **labels) is not None, name
        assert "# TYPE heapscope_heap_allocated_bytes_total counter\n" in text
        sites = [l for l in text.splitlines() if l.startswith("heapscope_site_inuse_bytes{")]
        assert len(sites) <= 11 and any('origin="other"' in l for l in sites), sites
        assert any("LeakyCache::store cache.cpp:" in l for l in sites), sites
        st, h, body = get(s.url("/metrics"), headers={"Accept": "application/openmetrics-text; version=1.0.0"})
        assert h["Content-Type"].startswith("application/openmetrics-text; version=1.0.0")
        om = body.decode()
        assert om.endswith("# EOF\n") and "# TYPE heapscope_heap_allocated_bytes counter\n" in om
    finally:
        s.stop()


def case_bad_input():
    s = Served()
    try:
        for q, want in [("seconds=x", 'invalid value for "seconds" - must be a positive integer'),
                        ("seconds=0", 'invalid value for "seconds" - must be a positive integer'),
                        ("seconds=-3", 'invalid value for "seconds" - must be a positive integer'),
                        ("seconds=100000", "profile duration exceeds server's WriteTimeout"),
                        ("seconds=1&debug=1", "seconds and debug params are incompatible")]:
            st, h, body = get(s.url("/debug/pprof/heap?" + q))
            assert st == 400 and body == (want + "\n").encode(), (q, st, body)
            assert h["X-Go-Pprof"] == "1" and h["Content-Type"] == "text/plain; charset=utf-8", q
        st, h, body = get(s.url("/debug/pprof/goroutine"))
        assert (st, body) == (404, b"Unknown profile\n")
        st, h, body = get(s.url("/pid/999999999/debug/pprof/heap"))
        assert st == 404 and body.startswith(b"process 999999999 is not served by this agent (served: %d (leaky_server))"
                                             % s.pid), body
        st, h, body = get(s.url("/debug/pprof/heap?pid=%d" % s.pid))
        assert st == 200
        st, h, body = get(s.url("/pid/%d/debug/pprof/heap" % s.pid))
        assert st == 200
        st, h, body = get(s.url("/pid/abc/debug/pprof/heap"))
        assert st == 400 and body.startswith(b"invalid process id 'abc'"), body
        # Malformed and oversized requests: refused, the agent keeps serving.
        for raw in [b"GARBAGE\r\n\r\n", b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
                    b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 20000 + b"\r\n\r\n"]:
            c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
            c.sendall(raw)
            reply = c.recv(200)
            c.close()
            assert reply.startswith(b"HTTP/1.1 4"), (raw[:20], reply)
        st, h, body = get(s.url("/debug/pprof/symbol"), data=b"0" * (2 << 20))
        assert st == 413, st
        assert get(s.url("/metrics"))[0] == 200
    finally:
        s.stop()


def case_concurrent():
    s = Served()
    try:
        s.leak(1)
        text = get(s.url("/metrics"))[2].decode()
        labels = dict(service="leaky_server", pid=str(s.pid))
        for burst in range(3):
            time.sleep(0.5)
            before = metric(get(s.url("/metrics"))[2].decode(), "heapscope_agent_snapshots_total", **labels)
            time.sleep(0.5)
            results = [None] * 50
            go = threading.Barrier(50)

            def scrape(i):
                go.wait()
                results[i] = get(s.url("/debug/pprof/heap"))
            threads = [threading.Thread(target=scrape, args=(i,)) for i in range(50)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert all(r and r[0] == 200 for r in results), [r and r[0] for r in results]
            times = set(parse_profile(r[2])["time_nanos"] for r in results)
            time.sleep(0.5)  # past the 0.25 s sharing: /metrics takes a snapshot of its own
            after = metric(get(s.url("/metrics"))[2].decode(), "heapscope_agent_snapshots_total", **labels)
            # All 50 answered from one snapshot; the counter saw it and /metrics' own one.
            taken = after - before
            assert len(times) == 1 and taken == 2, (burst, len(times), taken)
    finally:
        s.stop()


def case_target_exits():
    s = Served()
    try:
        assert get(s.url("/debug/pprof/heap"))[0] == 200
        os.kill(s.pid, signal.SIGKILL)
        # serve exits with its command (128 + 9), after answering or refusing cleanly.
        rc = s.proc.wait(timeout=30)
        assert rc == 137, rc
    finally:
        s.stop()


def case_all_picks_up_new():
    """--all: a profiled process started later is served; one that exits is 503 then dropped."""
    lib = os.path.join(BUILD, "profiler", "libheapscope.so")
    agent = subprocess.Popen([HEAPSCOPE, "serve", "--listen", "127.0.0.1:0", "--all"], stderr=subprocess.PIPE,
                             text=True, start_new_session=True)
    demo = None
    try:
        line = agent.stderr.readline()
        port = int(re.search(r"127\.0\.0\.1:(\d+)/", line).group(1))
        url = "http://127.0.0.1:%d" % port
        env = dict(os.environ, LD_PRELOAD=lib, HEAPSCOPE_THREAD="always", HEAPSCOPE_AT_EXIT="0", HEAPSCOPE_PEAK="0",
                   HEAPSCOPE_OUT=os.path.join(os.environ.get("TMPDIR", "/tmp"), "serve-all"))
        demo = subprocess.Popen([DEMO, "--port", "0", "--monitor", "0"], env=env, stdout=subprocess.PIPE, text=True)
        demo.stdout.readline()
        code = None
        for _ in range(100):  # discovery every 2 s
            code, h, body = get(url + "/pid/%d/debug/pprof/heap" % demo.pid)
            if code == 200:
                break
            time.sleep(0.1)
        assert code == 200, (code, body)
        demo.kill()
        demo.wait()
        time.sleep(0.5)  # past the 0.25 s sharing of the last snapshot
        code, h, body = get(url + "/pid/%d/debug/pprof/heap" % demo.pid)
        assert code in (503, 404), (code, body[:200])
        if code == 503:
            assert b"exited" in body, body
    finally:
        if demo and demo.poll() is None:
            demo.kill()
            demo.wait()
        os.killpg(agent.pid, signal.SIGKILL)
        agent.wait(timeout=30)


def suspects(text):
    """{origin: bytes/s} of every heapscope_leak_suspect_bytes_per_second series."""
    out = {}
    for line in text.splitlines():
        if line.startswith("heapscope_leak_suspect_bytes_per_second{"):
            m = re.search(r'origin="([^"]*)"', line)
            out[m.group(1)] = float(line.rsplit(" ", 1)[1])
    return out


def drive_and_watch(s, requests, gap_s):
    """/leak `requests` times, one every gap_s, while /metrics is read; the last text."""
    done = []

    def drive():
        for _ in range(requests):
            s.leak(1)
            time.sleep(gap_s)
        done.append(True)

    t = threading.Thread(target=drive)
    t.start()
    t.join(timeout=requests * (gap_s + 30))
    assert done, "the /leak requests did not finish"
    return get(s.url("/metrics"))[2].decode()


def case_leak_signal():
    """The agent's own window (--window-interval 0.5, --window 8) turns a steady
    /leak load into a leak-suspect series naming the cache's insert, with a
    slope of the load's order; the same load on the bounded cache names no
    suspect once its window holds only the flat part."""
    entry = 1 << 20  # kEntryDataBytes: what one /leak stores
    requests, gap = 24, 0.25
    s = Served("--window-interval", "0.5", "--window", "8")
    try:
        text = drive_and_watch(s, requests, gap)
        labels = dict(service="leaky_server", pid=str(s.pid))
        # The cache's line holds every entry stored: at least 24 MiB, and not a second copy.
        store = [(o, v) for o, v in
                 ((re.search(r'origin="([^"]*)"', l).group(1), float(l.rsplit(" ", 1)[1]))
                  for l in text.splitlines() if l.startswith("heapscope_site_inuse_bytes{"))
                 if "LeakyCache::store" in o]
        assert store, text
        assert requests * entry <= store[0][1] < (requests + 1) * entry + (1 << 20), store
        found = {}
        for _ in range(40):  # the window fills within 8 ticks of 0.5 s after the load began
            found = {o: v for o, v in suspects(text).items() if "LeakyCache::store" in o}
            if found:
                break
            time.sleep(0.5)
            text = get(s.url("/metrics"))[2].decode()
        assert found, "no leak suspect naming LeakyCache::store:\n" + text
        origin, slope = next(iter(found.items()))
        assert re.search(r"cache\.cpp:\d+$", origin), origin
        assert metric(text, "heapscope_leak_suspect_bytes_per_second", origin=origin, **labels) == slope
        # The load was 1 MiB per 0.25 s plus the request's own time: between 1 and 4 MiB/s,
        # read over a window that may have caught its end (a flatter slope), never a faster one.
        assert 0.25 * entry <= slope <= 4.5 * entry, (origin, slope)
        assert metric(text, "heapscope_site_growth_bytes_per_second", origin=origin, **labels) > 0
        print("leak suspect: %s at %.0f bytes/s; the store line holds %d bytes" % (origin, slope, store[0][1]))
    finally:
        s.stop()

    b = Served("--window-interval", "0.5", "--window", "8",
               demo_args=("--monitor", "0", "--cache", "bounded", "--max-entries", "4"))
    try:
        drive_and_watch(b, requests, gap)
        time.sleep(0.5 * 10)  # past a whole window after the load: only the flat part is in it
        text = get(b.url("/metrics"))[2].decode()
        assert metric(text, "heapscope_site_growth_bytes_per_second", service="leaky_server") is not None, text
        cache = {o: v for o, v in suspects(text).items() if "Cache" in o}
        assert not cache, "the bounded cache is called a leak: %r" % cache
        big = {o: v for o, v in suspects(text).items() if v > entry / 16}
        assert not big, "a suspect growing over 64 KiB/s with the bounded cache: %r" % big
    finally:
        b.stop()


def case_pid_follows_restart():
    """--pid: the served demo exits and the same command starts again (a new
    pid): the agent serves the new process in its place, says so, and the
    plain paths and /metrics follow it. Another instance of the same command
    that ran beside the first (the decoy) is not its restart."""
    lib = os.path.join(BUILD, "profiler", "libheapscope.so")
    env = dict(os.environ, LD_PRELOAD=lib, HEAPSCOPE_THREAD="always", HEAPSCOPE_AT_EXIT="0", HEAPSCOPE_PEAK="0",
               HEAPSCOPE_OUT=os.path.join(os.environ.get("TMPDIR", "/tmp"), "serve-restart"))
    # This test's own command line: other tests' demos running meanwhile are
    # other commands (the --ttl value is this test's pid).
    argv = [DEMO, "--port", "0", "--monitor", "0", "--ttl", str(os.getpid())]

    def start_demo():
        d = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, text=True)
        d.stdout.readline()  # listening: its channel is up with the helper thread
        return d

    first = second = decoy = agent = None
    try:
        first = start_demo()
        decoy = start_demo()
        for _ in range(50):  # the channel listens once the helper thread runs
            if {first.pid, decoy.pid} <= serve_channels():
                break
            time.sleep(0.1)
        agent = subprocess.Popen([HEAPSCOPE, "serve", "--listen", "127.0.0.1:0", "--pid", str(first.pid)],
                                 stderr=subprocess.PIPE, text=True, start_new_session=True)
        port = int(re.search(r"127\.0\.0\.1:(\d+)/", agent.stderr.readline()).group(1))
        url = "http://127.0.0.1:%d" % port
        assert get(url + "/debug/pprof/heap")[0] == 200
        first.kill()
        first.wait()
        # Before the restart, the agent's looks (every 2 s) find only the
        # decoy: it ran beside the first, so it is not taken for its restart.
        time.sleep(2.5)
        text = get(url + "/metrics")[2].decode()
        assert metric(text, "heapscope_target_up", pid=str(decoy.pid)) is None, "the decoy is served:\n" + text
        second = start_demo()
        assert second.pid != first.pid
        labels = dict(pid=str(second.pid))
        up = None
        for _ in range(100):  # the agent looks every 2 s
            up = metric(get(url + "/metrics")[2].decode(), "heapscope_target_up", **labels)
            if up == 1:
                break
            time.sleep(0.1)
        assert up == 1, "the restarted demo (pid %d) is not served" % second.pid
        text = get(url + "/metrics")[2].decode()
        assert metric(text, "heapscope_target_up", pid=str(first.pid)) is None
        assert metric(text, "heapscope_target_up", pid=str(decoy.pid)) is None, "the decoy is served"
        code, h, body = get(url + "/debug/pprof/heap")
        assert code == 200, (code, body[:200])
        assert get(url + "/pid/%d/debug/pprof/heap" % first.pid)[0] == 404
        os.killpg(agent.pid, signal.SIGTERM)
        err = agent.stderr.read()
        agent.wait(timeout=30)
        want = "process %d exited; serving process %d, the same command restarted" % (first.pid, second.pid)
        assert want in err, err
    finally:
        for d in (first, second, decoy):
            if d and d.poll() is None:
                d.kill()
                d.wait()
        if agent and agent.poll() is None:
            os.killpg(agent.pid, signal.SIGKILL)
            agent.wait(timeout=30)


def serve_channels():
    with open("/proc/net/unix") as f:
        return {int(m.group(1)) for m in re.finditer(r"@heapscope/(\d+)", f.read())}


if __name__ == "__main__":
    globals()["case_" + sys.argv[2]]()
    print("ok", sys.argv[2])
