#!/usr/bin/env python3
"""attach_test.py CASE -- heapscope attach / detach on processes started WITHOUT the preload.

Cases: exact, now, noplt (the same ledger, lazy PLT / -z now / -fno-plt), idle, epoll, killed,
threads, cycles, refusals, demo. Paths from the environment (tests/attach/CMakeLists.txt):
ATT_TOOL (heapscope), ATT_LIB (libheapscope.so), ATT_PROGS (test programs),
ATT_SERVER (demo/leaky_server).

Each target keeps its own ledger (progs/ledger.c) and answers commands on stdin;
a plain twin run gets the same commands, and the outputs must be identical.
Counts are asserted exactly where they are exact. Every wait polls with a
generous timeout; no assertion is about time. Every spawned process is killed
at the end, also when the test fails; the demo server listens on 127.0.0.1.
"""
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reliability"))
import rel  # noqa: E402  the independent .hsnap parser

TOOL = os.environ.get("ATT_TOOL", "")
LIB = os.environ.get("ATT_LIB", "")
PROGS = os.environ.get("ATT_PROGS", "")
SERVER = os.environ.get("ATT_SERVER", "")
SPAWNED = []


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def prog(name):
    p = os.path.join(PROGS, name)
    check(os.path.exists(p), "test program %s missing (ATT_PROGS=%s)" % (p, PROGS))
    return p


class Target:
    """A ledger process; cmd() writes one command and waits for its reply line."""

    def __init__(self, name, mode="loop", threads=0, env=None, cwd=None):
        full = dict(os.environ)
        full.pop("LD_PRELOAD", None)
        full.update(env or {})
        self.proc = subprocess.Popen([prog(name), mode, str(threads)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=full,
                                     cwd=cwd)
        SPAWNED.append(self.proc)
        self.pid = self.proc.pid
        self.lines, self.err = [], []
        self.cond = threading.Condition()
        for stream, into in ((self.proc.stdout, self.lines), (self.proc.stderr, self.err)):
            threading.Thread(target=self._read, args=(stream, into), daemon=True).start()
        self.wait_lines(1)
        check(self.lines[0] == "ready", "pid %d: first line %r, expected 'ready'" % (self.pid, self.lines[0]))

    def _read(self, stream, into):
        for line in stream:
            with self.cond:
                into.append(line.rstrip("\n"))
                self.cond.notify_all()

    def wait_lines(self, n, timeout=60):
        deadline = time.time() + timeout
        with self.cond:
            while len(self.lines) < n:
                if time.time() >= deadline or self.proc.poll() is not None:
                    self.cond.wait(0.5)  # output still in the pipe
                    if len(self.lines) >= n:
                        break
                    raise Fail("pid %d: %d reply lines, expected %d (exit %s, stderr %r)" %
                               (self.pid, len(self.lines), n, self.proc.poll(), self.err))
                self.cond.wait(0.5)

    def cmd(self, line):
        n = len(self.lines) + 1
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        self.wait_lines(n)
        return self.lines[n - 1]

    def quit(self):
        reply = self.cmd("quit")
        rc = self.proc.wait(timeout=60)
        return reply, rc

    def maps(self):
        with open("/proc/%d/maps" % self.pid) as f:
            return f.read()


_tool_for_others = []


def tool_for_others():
    """The heapscope binary copied where another user can run it: a clone under /root (0700)
    would otherwise refuse the exec before heapscope's own refusal is reached."""
    if not _tool_for_others:
        _tool_for_others.append(rel.copy_for_others(TOOL, rel.tmpdir_for_others("attach-tool")))
    return _tool_for_others[0]


def hs(*args, user=None, timeout=120, env=None):
    cmd = [TOOL if user is None else tool_for_others()] + [str(a) for a in args]
    if user is not None:
        cmd = ["setpriv", "--reuid=%d" % user, "--regid=%d" % user, "--clear-groups"] + cmd
    full = None
    if env:
        full = dict(os.environ)
        full.update(env)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=full)
    return r.returncode, r.stdout, r.stderr


def attach(pid, *extra):
    rc, out, err = hs("attach", pid, *extra)
    check(rc == 0, "heapscope attach %d: exit %d, stderr %r" % (pid, rc, err))
    check("attached to process %d" % pid in err, "attach %d: no 'attached' line: %r" % (pid, err))
    return err


def detach(pid):
    rc, out, err = hs("detach", pid)
    check(rc == 0, "heapscope detach %d: exit %d, stderr %r" % (pid, rc, err))
    m = re.search(r"final snapshot (\S+\.hsnap);", err)
    check(m, "detach %d: no final snapshot path in %r" % (pid, err))
    return m.group(1)


def snapshot(pid):
    rc, out, err = hs("snapshot", pid, "--timeout", 60)
    check(rc == 0, "heapscope snapshot %d: exit %d, stderr %r" % (pid, rc, err))
    return out.strip()


def site_counts(path):
    """{function: live blocks} summed over sites whose frames name the function."""
    rc, out, err = hs("report", path, "--top", 0, "--json")
    check(rc == 0, "heapscope report %s: exit %d, %r" % (path, rc, err))
    counts = {}
    for s in json.loads(out)["sites"]:
        # C++ names come with their parameters ("new_site()"); a frame without a symbol has none (null).
        names = {(f.get("function") or "").split("(")[0] for f in s.get("frames", [])}
        for n in names:
            counts[n] = counts.get(n, 0) + s["inuse_count"]
    return counts


def stats(path):
    return rel.parse_snap(path).stats


def load_base(pid, path):
    """Start of path's offset-0 mapping in pid (its load base for a PIE or shared object)."""
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 6 and os.path.realpath(parts[5]) == os.path.realpath(path) and int(parts[2], 16) == 0:
                return int(parts[0].split("-")[0], 16)
    raise Fail("pid %d: %s not in its maps" % (pid, path))


def exe_slots(pid, exe, names):
    """{name: slot address} of the executable's JUMP_SLOT/GLOB_DAT relocations."""
    out = subprocess.run(["readelf", "-rW", exe], capture_output=True, text=True, check=True).stdout
    base = load_base(pid, exe)
    slots = {}
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 5 and ("R_X86_64_JUMP_SLOT" in f[2] or "R_X86_64_GLOB_DAT" in f[2]):
            name = f[4].split("@")[0]
            if name in names:
                slots[name] = base + int(f[0], 16)
    check(set(slots) == set(names), "%s: slots for %s, expected %s" % (exe, sorted(slots), sorted(names)))
    return slots


def read_word(pid, addr):
    with open("/proc/%d/mem" % pid, "rb") as f:
        f.seek(addr)
        return int.from_bytes(f.read(8), "little")


def mapping_of(pid, addr):
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
            if lo <= addr < hi:
                parts = line.split()
                return parts[5] if len(parts) >= 6 else "[anon]"
    return "[unmapped]"


# ----------------------------------------------------------------------------- cases
SEQUENCE = ["make 500", "free_pre 100", "realloc_pre 50", "usable", "fnptr 20", "SNAP", "make 10", "drop", "make 3"]


def case_exact(name="ledger"):
    work = tempfile.mkdtemp(prefix="hsatt-")
    plain = Target(name, cwd=work)
    t = Target(name, cwd=work)
    exe = prog(name)
    slots = exe_slots(t.pid, exe, ["malloc", "free"])
    for p in (t, plain):  # malloc and free called once: lazy binding has filled both slots before we read them
        p.cmd("make 1")
        p.cmd("drop")
    before = {n: read_word(t.pid, a) for n, a in slots.items()}
    t0 = int(time.time() * 1000)
    msg = attach(t.pid)
    t1 = int(time.time() * 1000)
    check("libheapscope" in t.maps(), "pid %d: libheapscope not mapped after attach" % t.pid)
    for n, a in slots.items():
        where = mapping_of(t.pid, read_word(t.pid, a))
        check("libheapscope" in where, "%s slot of %s points into %s while attached, expected libheapscope (%s)" %
              (n, exe, where, msg))
    replies, plain_replies = [], []
    for c in SEQUENCE:
        if c == "SNAP":
            path = snapshot(t.pid)
            counts, st = site_counts(path), stats(path)
            check(counts.get("after_site", 0) == 500, "%s: after_site %d live blocks, expected 500" %
                  (path, counts.get("after_site", 0)))
            check(counts.get("realloc_site", 0) == 50, "%s: realloc_site %d, expected 50" %
                  (path, counts.get("realloc_site", 0)))
            check(counts.get("fnptr_site", 0) == 20, "%s: fnptr_site %d, expected 20 (calls through a malloc "
                  "pointer a static initializer stored in data)" % (path, counts.get("fnptr_site", 0)))
            check(counts.get("pre_site", 0) == 0, "%s: pre_site %d blocks: blocks from before the attach "
                  "must not be in the books" % (path, counts.get("pre_site", 0)))
            check(counts.get("loop_site", 0) <= 1, "%s: loop_site %d live, expected 0 or 1" %
                  (path, counts.get("loop_site", 0)))
            # 100 frees + 50 reallocs of pre-attach blocks; one loop free may straddle the attach.
            check(150 <= st.get("unknown_frees", -1) <= 151, "%s: unknown_frees %s, expected 150 (or 151)" %
                  (path, st.get("unknown_frees")))
            check(st.get("attach_mode") == 1 and st.get("attach_generation") == 1,
                  "%s: attach_mode %s generation %s, expected 1 1" % (path, st.get("attach_mode"),
                                                                       st.get("attach_generation")))
            check(t0 <= st.get("attach_time_unix_ms", 0) <= t1, "%s: attach_time_unix_ms %s not within the "
                  "attach command [%d, %d]" % (path, st.get("attach_time_unix_ms"), t0, t1))
            check(st.get("attach_allocator_inuse_bytes", 0) >= 1000 * 64, "%s: allocator in-use bytes at "
                  "attach %s, expected >= 64000 (the 1000 pre blocks)" % (path, st.get("attach_allocator_inuse_bytes")))
            check(st.get("attach_slots_patched", 0) >= 2 and st.get("attach_modules_skipped", 0) >= 2,
                  "%s: attach stats %s" % (path, {k: v for k, v in st.items() if k.startswith("attach")}))
            continue
        replies.append(t.cmd(c))
        plain_replies.append(plain.cmd(c))
    final = detach(t.pid)
    counts = site_counts(final)
    check(counts.get("after_site", 0) == 3, "%s (final): after_site %d, expected 3 (after drop, make 3)" %
          (final, counts.get("after_site", 0)))
    for n, a in slots.items():
        now = read_word(t.pid, a)
        check(now == before[n], "%s slot of %s holds %#x after detach, expected %#x as before the attach (%s)" %
              (n, exe, now, before[n], mapping_of(t.pid, now)))
    check("libheapscope" in t.maps(), "libheapscope unmapped after detach (it must stay, inert)")
    replies.append(t.cmd("make 7"))
    plain_replies.append(plain.cmd("make 7"))
    rc, _, err = hs("snapshot", t.pid, "--timeout", 2)
    check(rc != 0, "snapshot after detach succeeded: the library must be inert")
    for p in (t, plain):
        r, code = p.quit()
        replies.append(r) if p is t else plain_replies.append(r)
        check(code == 0, "pid %d exited %d (stderr %r)" % (p.pid, code, p.err))
    check(replies == plain_replies, "attached output %r differs from the plain run %r" % (replies, plain_replies))
    check(t.err == [], "the attached process wrote to stderr: %r" % t.err)
    shutil.rmtree(work, ignore_errors=True)


def case_idle(mode="idle"):
    work = tempfile.mkdtemp(prefix="hsatt-")
    t = Target("ledger", mode=mode, cwd=work)
    for round_ in range(3):
        attach(t.pid)
        check(t.cmd("make 100").startswith("made 100"), "idle: make 100 not answered")
        path = snapshot(t.pid)
        got = site_counts(path).get("after_site", 0)
        check(got == 100, "%s: after_site %d, expected 100 (round %d)" % (path, got, round_))
        detach(t.pid)
        check(t.proc.poll() is None, "idle target exited %s after detach: %r" % (t.proc.poll(), t.err))
    reply, rc = t.quit()
    check(rc == 0 and reply == "bye 1", "idle target: %r exit %d stderr %r (an interrupted syscall that was "
          "not restarted exits 3)" % (reply, rc, t.err))
    shutil.rmtree(work, ignore_errors=True)


def case_threads():
    work = tempfile.mkdtemp(prefix="hsatt-")
    t = Target("ledger", threads=4, cwd=work)
    for round_ in range(5):
        attach(t.pid)
        t.cmd("make 300")
        path = snapshot(t.pid)
        c = site_counts(path)
        check(c.get("after_site", 0) == 300, "%s: after_site %d, expected 300" % (path, c.get("after_site", 0)))
        check(0 < c.get("worker_site", 0) <= 4 * 64, "%s: worker_site %d live, expected 1..256 (4 rings of 64)" %
              (path, c.get("worker_site", 0)))
        detach(t.pid)
        t.cmd("drop")
        check(t.proc.poll() is None, "threaded target exited %s: %r" % (t.proc.poll(), t.err))
    reply, rc = t.quit()
    check(rc == 0 and reply == "bye 1", "threaded target: %r exit %d stderr %r" % (reply, rc, t.err))
    check(t.err == [], "threaded target stderr %r" % t.err)
    shutil.rmtree(work, ignore_errors=True)


def case_killed():
    """The tool SIGKILLed right after each of its changes to the target (HEAPSCOPE_INJECT_KILL_STEP=N),
    in attach and in detach, each N on a fresh target: the target keeps running as it was, its
    interrupted poll and nanosleep are restarted (ledger idle exits 3 on an EINTR), it answers every
    command exactly, and a normal attach/detach afterwards still works with exact books. N runs up to
    the first attach/detach that finishes unkilled, so every step is covered."""
    work = tempfile.mkdtemp(prefix="hsatt-")
    for verb in ("attach", "detach"):
        steps = 0
        for n in range(1, 81):
            t = Target("ledger", mode="idle", cwd=work)
            if verb == "detach":
                attach(t.pid)
            rc, out, err = hs(verb, t.pid, env={"HEAPSCOPE_INJECT_KILL_STEP": str(n)})
            check(rc in (0, -signal.SIGKILL), "%s with HEAPSCOPE_INJECT_KILL_STEP=%d: exit %d, expected SIGKILL "
                  "or success; stderr %r" % (verb, n, rc, err))
            check(t.proc.poll() is None, "%s killed at step %d: the target exited %s, stderr %r" % (
                verb, n, t.proc.poll(), t.err))
            reply = t.cmd("make 3")
            check(reply == "made 3 total 3", "%s killed at step %d: target replied %r" % (verb, n, reply))
            # Whatever the killed tool got done, the next detach/attach sorts it out.
            rc2, _, err2 = hs("detach", t.pid)
            check(rc2 == 0 or "not attached" in err2 or "not loaded" in err2 or "no heapscope" in err2,
                  "%s killed at step %d, then detach: exit %d, stderr %r" % (verb, n, rc2, err2))
            attach(t.pid)
            t.cmd("make 10")
            path = snapshot(t.pid)
            got = site_counts(path).get("after_site", 0)
            check(got == 10, "%s killed at step %d: %s: after_site %d, expected 10" % (verb, n, path, got))
            detach(t.pid)
            reply, qrc = t.quit()
            check(qrc == 0 and reply == "bye 1", "%s killed at step %d: target %r exit %d stderr %r (exit 3: an "
                  "interrupted system call was not restarted)" % (verb, n, reply, qrc, t.err))
            if rc == 0:
                steps = n - 1
                break
        check(steps >= 8, "%s finished after only %d kill steps: the hook is not reached" % (verb, steps))
        print("%s: the target survived the tool killed at each of its %d steps" % (verb, steps))
    shutil.rmtree(work, ignore_errors=True)


def case_dlopen():
    """Modules dlopen'd after the attach (a bare name through the ledger's RUNPATH, and an absolute path)
    are patched as they load; dlclose while attached, detach after it, and a dlopen after the detach
    all leave the program working."""
    work = tempfile.mkdtemp(prefix="hsatt-")
    t = Target("ledger", mode="idle", cwd=work)
    plugins = os.path.join(PROGS, "plugins")
    attach(t.pid)
    check(t.cmd("dlopen libattplugin.so") == "opened", "dlopen by bare name: %r" % t.lines[-1])
    check(t.cmd("plugin 40") == "plugin 40 total 40", "plugin 40: %r" % t.lines[-1])
    abs_path = os.path.join(plugins, "libattplugin_abs.so")
    check(t.cmd("dlopen " + abs_path) == "opened", "dlopen %s: %r" % (abs_path, t.lines[-1]))
    check(t.cmd("plugin 25") == "plugin 25 total 25", "plugin 25: %r" % t.lines[-1])
    for lib in ("libattplugin.so", abs_path):
        full = lib if lib.startswith("/") else os.path.join(plugins, lib)
        where = mapping_of(t.pid, read_word(t.pid, exe_slots(t.pid, full, ["malloc"])["malloc"]))
        check("libheapscope" in where, "%s loaded while attached: its malloc slot points into %s" % (full, where))
    path = snapshot(t.pid)
    got = site_counts(path).get("plugin_site", 0)
    check(got == 65, "%s: plugin_site %d live, expected 65 (40 + 25 from the two modules)" % (path, got))
    check(t.cmd("plugin_free") == "plugin freed 25", "plugin_free: %r" % t.lines[-1])
    check(t.cmd("dlclose") == "closed 0", "dlclose while attached: %r" % t.lines[-1])
    check(abs_path not in t.maps(), "%s still mapped after dlclose" % abs_path)
    t.cmd("make 5")
    path = snapshot(t.pid)
    c = site_counts(path)
    check(c.get("plugin_site", 0) == 40 and c.get("after_site", 0) == 5,
          "%s after dlclose: plugin_site %d after_site %d, expected 40 and 5" % (
              path, c.get("plugin_site", 0), c.get("after_site", 0)))
    final = detach(t.pid)
    c = site_counts(final)
    check(c.get("plugin_site", 0) == 40, "%s (final): plugin_site %d, expected 40" % (final, c.get("plugin_site", 0)))
    # After the detach: a new module loads with its own slots untouched, and works.
    check(t.cmd("dlopen " + abs_path) == "opened", "dlopen after detach: %r" % t.lines[-1])
    check(t.cmd("plugin 3") == "plugin 3 total 3", "plugin 3 after detach: %r" % t.lines[-1])
    where = mapping_of(t.pid, read_word(t.pid, exe_slots(t.pid, abs_path, ["malloc"])["malloc"]))
    check("libheapscope" not in where, "a module loaded after the detach has its malloc slot pointing into %s" % where)
    reply, rc = t.quit()
    check(rc == 0 and reply == "bye 1", "target: %r exit %d stderr %r" % (reply, rc, t.err))
    shutil.rmtree(work, ignore_errors=True)


def case_static_libstdcxx():
    """operator new/delete statically linked into the executable (-static-libstdc++): the executable's
    own malloc slot is patched, so new, delete and vector growth after the attach are in the books."""
    work = tempfile.mkdtemp(prefix="hsatt-")
    exe = prog("cxx_ledger")
    dyn = subprocess.run(["readelf", "-dW", exe], capture_output=True, text=True, check=True).stdout
    check("libstdc++" not in dyn, "%s links libstdc++ dynamically; the test needs it static" % exe)
    syms = subprocess.run(["nm", "-C", exe], capture_output=True, text=True, check=True).stdout
    check(" T operator new(unsigned long)" in syms, "%s does not define operator new itself" % exe)
    t = Target("cxx_ledger", cwd=work)
    t.cmd("new 5")
    attach(t.pid)
    check(t.cmd("new 30") == "new 30 total 35", "new 30: %r" % t.lines[-1])
    t.cmd("vec 1000")
    path = snapshot(t.pid)
    c = site_counts(path)
    check(c.get("new_site", 0) == 30, "%s: new_site %d live, expected 30 (5 more from before the attach)" % (
        path, c.get("new_site", 0)))
    check(c.get("vec_site", 0) == 1, "%s: vec_site %d live blocks, expected 1 (the vector's buffer)" % (
        path, c.get("vec_site", 0)))
    check(t.cmd("delete") == "deleted 35", "delete: %r" % t.lines[-1])
    final = detach(t.pid)
    c = site_counts(final)
    check(c.get("new_site", 0) == 0, "%s (final): new_site %d after delete, expected 0" % (final, c.get("new_site", 0)))
    st = stats(final)
    check(st.get("unknown_frees", -1) >= 5, "%s: unknown_frees %s, expected >= 5 (the objects from before)" % (
        final, st.get("unknown_frees")))
    reply, rc = t.quit()
    check(rc == 0 and reply == "bye 1", "target: %r exit %d stderr %r" % (reply, rc, t.err))
    shutil.rmtree(work, ignore_errors=True)


def function_range(pid, exe, name):
    """[lo, hi) of a function of exe as mapped in pid (nm -S value and size + the load base)."""
    out = subprocess.run(["nm", "-S", exe], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        f = line.split()
        if len(f) == 4 and f[3] == name:
            lo = load_base(pid, exe) + int(f[0], 16)
            return lo, lo + int(f[1], 16)
    raise Fail("%s: no symbol %s" % (exe, name))


def live_blocks_in(path, lo, hi):
    """Live blocks of the sites whose stack has a frame in [lo, hi), by the independent parser."""
    snap = rel.parse_snap(path)
    return sum(site["inuse_count"] for site in snap.sites
               if any(lo <= a < hi for a in snap.stacks[site["stack"]])), snap


def case_python():
    """Debian's python3 -m http.server, started without heapscope, attached while a client keeps
    requesting: every request is answered (during the attach, while attached, after the detach), the
    books grow with the requests, and the server exits cleanly on SIGINT afterwards."""
    work = tempfile.mkdtemp(prefix="hsatt-")
    with open(os.path.join(work, "index.txt"), "w") as f:
        f.write("x" * 5000)
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    srv = subprocess.Popen([sys.executable, "-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory",
                            work], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env, cwd=work)
    SPAWNED.append(srv)
    line = srv.stdout.readline()
    m = re.search(r"port (\d+)", line)
    check(m, "python3 -m http.server printed %r, expected its port" % line)
    url = "http://127.0.0.1:%s/index.txt" % m.group(1)

    def get():
        with urllib.request.urlopen(url, timeout=30) as r:
            return len(r.read())

    check(get() == 5000, "server not answering before the attach")
    failures, done = [], []

    def client(count):
        for _ in range(count):
            try:
                if get() != 5000:
                    failures.append("short body")
            except Exception as e:  # noqa: BLE001  any failure is the test's business
                failures.append(repr(e))
            done.append(1)

    c = threading.Thread(target=client, args=(200,))
    c.start()
    attach(srv.pid)
    c.join(timeout=300)
    check(not c.is_alive() and len(done) == 200, "client made %d of 200 requests" % len(done))
    check(not failures, "requests failed during the attach: %s" % failures[:3])
    first = snapshot(srv.pid)
    for _ in range(50):
        check(get() == 5000, "request while attached failed")
    second = snapshot(srv.pid)
    a, b = stats(first), rel.parse_snap(second).totals
    t1 = rel.parse_snap(first).totals
    check(b["alloc_count"] > t1["alloc_count"], "allocations did not grow over 50 requests: %d -> %d" % (
        t1["alloc_count"], b["alloc_count"]))
    check(a.get("attach_mode") == 1, "%s: attach_mode %s" % (first, a.get("attach_mode")))
    rc, out, err = hs("report", second, "--top", 5, "--json")
    # A frame of the interpreter itself: named with debug info (_PyObject_Malloc obmalloc.c),
    # else python3.11+0x... (Debian strips .symtab). Frames, not the text: the header's
    # command line says "python3" whatever the stacks hold.
    check(rc == 0, "heapscope report %s --json: exit %d\n%s" % (second, rc, err))
    frames = [f for site in json.loads(out)["sites"] for f in site["frames"]]
    ours = [f for f in frames if "PyObject_Malloc" in (f.get("function") or "")
            or os.path.basename(f.get("module") or "").startswith("python3")]
    check(ours, "heapscope report %s: no frame of the interpreter among %d frames of the top 5 sites" % (
        second, len(frames)))
    detach(srv.pid)
    for _ in range(20):
        check(get() == 5000, "request after the detach failed")
    srv.send_signal(signal.SIGINT)
    rc = srv.wait(timeout=60)
    check(rc == 0, "python3 -m http.server exited %d on SIGINT after the detach" % rc)
    shutil.rmtree(work, ignore_errors=True)


def case_seccomp():
    """Processes under a seccomp filter: refused by default, changing nothing (a filter that kills on
    openat stays alive); with --seccomp-filter-ok an allow-all filter is attached with exact books, and
    a filter denying openat makes the dlopen fail inside: a clear refusal, the target unharmed."""
    work = tempfile.mkdtemp(prefix="hsatt-")
    for mode in ("allow", "kill_open"):
        t = Target("sec_target", mode=mode, cwd=work)
        check("Seccomp:\t2" in open("/proc/%d/status" % t.pid).read(), "%s: no seccomp filter in place" % mode)
        expect_refusal(t.pid, ["seccomp filter", "--seccomp-filter-ok"])
        check("libheapscope" not in t.maps(), "%s: a refused attach loaded heapscope" % mode)
        check(t.cmd("make 2") == "made 2", "%s: target stopped answering after the refusal" % mode)
        reply, rc = t.quit()
        check(rc == 0 and reply == "bye 1", "%s target: %r exit %d" % (mode, reply, rc))
    t = Target("sec_target", mode="allow", cwd=work)
    attach(t.pid, "--seccomp-filter-ok")
    t.cmd("make 12")
    path = snapshot(t.pid)
    got = site_counts(path).get("sec_site", 0)
    check(got == 12, "%s: sec_site %d live under an allow-all filter, expected 12" % (path, got))
    detach(t.pid)
    reply, rc = t.quit()
    check(rc == 0 and reply == "bye 1", "allow target after detach: %r exit %d %r" % (reply, rc, t.err))
    t = Target("sec_target", mode="deny_open", cwd=work)
    err = expect_refusal(t.pid, ["dlopen(", "failed in it"], "--seccomp-filter-ok")
    check(t.cmd("make 3") == "made 3", "deny_open target stopped answering after a failed dlopen (%r)" % err)
    check("libheapscope" not in t.maps(), "deny_open: heapscope mapped although its dlopen failed")
    reply, rc = t.quit()
    check(rc == 0 and reply == "bye 1", "deny_open target: %r exit %d %r" % (reply, rc, t.err))
    shutil.rmtree(work, ignore_errors=True)


def case_signals():
    """A stream of queued signals (SIGRTMIN, with a handler) into the target during attach and detach,
    in sampled mode (--sample): every signal is handled exactly once, the waits are not broken, and
    the sampled books record the mode, the period and an estimate of the blocks made."""
    work = tempfile.mkdtemp(prefix="hsatt-")
    t = Target("ledger", mode="idle", cwd=work)
    sent = [0]
    stop = threading.Event()
    rtmin = signal.SIGRTMIN

    def pelt():
        while not stop.is_set() and sent[0] < 20000:  # bounded by a count
            os.kill(t.pid, rtmin)
            sent[0] += 1
            time.sleep(0.0005)

    p = threading.Thread(target=pelt)
    p.start()
    try:
        for round_ in range(3):
            attach(t.pid, "--sample", 4096)
            check(t.cmd("make 2000").startswith("made 2000"), "round %d: make 2000 not answered" % round_)
            path = snapshot(t.pid)
            snap = rel.parse_snap(path)
            check(snap.sample_period == 4096, "%s: sample period %s, expected 4096" % (path, snap.sample_period))
            est = site_counts(path).get("after_site", 0)
            # 2000 blocks of 48 bytes, one sample per 4096 bytes on average: ~23 samples; the estimate
            # is within 0.4x..2.5x of the truth far beyond 3 standard deviations.
            check(800 <= est <= 5000, "%s: sampled estimate of after_site blocks %d, expected about 2000" % (path, est))
            detach(t.pid)
            t.cmd("drop")
    finally:
        stop.set()
        p.join(timeout=60)
    deadline = time.time() + 60
    got = -1
    while time.time() < deadline:
        got = int(t.cmd("rtsigs").split()[1])
        if got == sent[0]:
            break
        time.sleep(0.1)
    check(got == sent[0], "the target handled %d of the %d SIGRTMIN sent during the attaches" % (got, sent[0]))
    reply, rc = t.quit()
    check(rc == 0 and reply == "bye 1", "target: %r exit %d stderr %r (exit 3: a wait broken by the attach)" % (
        reply, rc, t.err))
    print("%d queued signals handled exactly once across 3 sampled attach/detach rounds" % sent[0])
    shutil.rmtree(work, ignore_errors=True)


def case_interval():
    """attach --interval S --out PREFIX: periodic snapshots appear under the prefix while attached,
    each an attach-mode snapshot of the same generation, and trend reads the series and ranks the
    site that grows between them first; none after the detach."""
    work = tempfile.mkdtemp(prefix="hsatt-")
    t = Target("ledger", mode="idle", cwd=work)
    prefix = os.path.join(work, "series", "att")
    os.mkdir(os.path.dirname(prefix))
    attach(t.pid, "--interval", 0.2, "--out", prefix)

    def periodic():
        return sorted(f for f in glob.glob(prefix + ".%d.*.hsnap" % t.pid) if not f.endswith(".exit.hsnap"))

    seen = []
    for step in range(5):  # grow after_site between periodic snapshots, 5 steps
        t.cmd("make 400")
        deadline = time.time() + 60
        while time.time() < deadline and len(periodic()) <= len(seen):
            time.sleep(0.05)
        now = periodic()
        check(len(now) > len(seen), "step %d: no new periodic snapshot under %s within 60 s" % (step, prefix))
        seen = now
    final = detach(t.pid)
    check(os.path.dirname(final) == os.path.dirname(prefix), "final snapshot %s not under --out %s" % (final, prefix))
    for f in seen:
        st = stats(f)
        check(st.get("attach_mode") == 1 and st.get("attach_generation") == 1,
              "%s: attach_mode %s generation %s" % (f, st.get("attach_mode"), st.get("attach_generation")))
    rc, out, err = hs("trend", *seen)
    check(rc == 0, "heapscope trend over %d periodic snapshots: exit %d %r" % (len(seen), rc, err))
    first = [l for l in out.splitlines() if re.match(r"\s+1\s+[+-]", l)]  # the table's row 1
    check(first and "leak suspect: after_site" in first[0], "trend does not rank after_site first:\n%s" % out)
    n = len(periodic())
    time.sleep(0.6)
    check(len(periodic()) == n, "periodic snapshots kept coming after the detach")
    reply, rc = t.quit()
    check(rc == 0 and reply == "bye 1", "target: %r exit %d %r" % (reply, rc, t.err))
    shutil.rmtree(work, ignore_errors=True)


def case_cycles():
    """200 attach/detach cycles on one process whose 2 worker threads allocate in a tight loop
    throughout: each cycle's books are exact (after_site blocks counted in the snapshot by the
    independent parser; every 25th cycle also through heapscope report), each generation numbered."""
    work = tempfile.mkdtemp(prefix="hsatt-")
    t = Target("ledger", threads=2, cwd=work)
    lo, hi = function_range(t.pid, prog("ledger"), "after_site")
    cycles = 200
    for i in range(cycles):
        n = 7 + i % 50
        attach(t.pid)
        t.cmd("make %d" % n)
        path = snapshot(t.pid)
        got, snap = live_blocks_in(path, lo, hi)
        check(got == n, "cycle %d: %s: after_site %d live, expected %d" % (i, path, got, n))
        check(snap.stats.get("attach_generation") == i + 1, "cycle %d: generation %s" % (
            i, snap.stats.get("attach_generation")))
        if i % 25 == 0:
            got = site_counts(path).get("after_site", 0)
            check(got == n, "cycle %d: heapscope report %s: after_site %d, expected %d" % (i, path, got, n))
        t.cmd("drop")
        final = detach(t.pid)
        got, _ = live_blocks_in(final, lo, hi)
        check(got == 0, "cycle %d: final %s: after_site %d after drop, expected 0" % (i, final, got))
        for f in (path, final):
            os.unlink(f)
    reply, rc = t.quit()
    check(rc == 0 and reply == "bye 1", "cycled target: %r exit %d stderr %r" % (reply, rc, t.err))
    check(t.err == [], "cycled target stderr %r" % t.err)
    print("%d attach/detach cycles under load, exact each time" % cycles)
    shutil.rmtree(work, ignore_errors=True)


def expect_refusal(pid, want, *args, user=None, verb="attach"):
    rc, out, err = hs(verb, pid, *args, user=user)
    check(rc != 0, "%s %s succeeded, expected a refusal containing %r" % (verb, pid, want))
    for w in want if isinstance(want, list) else [want]:
        check(w in err, "%s %s: stderr %r does not say %r" % (verb, pid, err, w))
    return err


def case_refusals():
    work = tempfile.mkdtemp(prefix="hsatt-")
    os.chmod(work, 0o755)
    # Static binary.
    st = subprocess.Popen([prog("static_idle")])
    SPAWNED.append(st)
    deadline = time.time() + 30  # until it has exec'd (before that /proc/PID/exe is this python)
    while time.time() < deadline and os.path.realpath("/proc/%d/exe" % st.pid) != os.path.realpath(prog("static_idle")):
        time.sleep(0.02)
    expect_refusal(st.pid, ["statically linked", "-lheapscope"])
    check(st.poll() is None, "static target died")

    # Already profiled (preloaded).
    pre = Target("ledger", env={"LD_PRELOAD": LIB, "HEAPSCOPE_OUT": work + "/pre"}, cwd=work)
    expect_refusal(pre.pid, ["already profiled", "heapscope snapshot %d" % pre.pid])
    expect_refusal(pre.pid, "LD_PRELOAD", verb="detach")
    check(pre.cmd("make 1").startswith("made 1"), "preloaded target stopped answering")

    t = Target("ledger", cwd=work)
    # Nothing to detach.
    expect_refusal(t.pid, "not loaded", verb="detach")
    # Stopped.
    os.kill(t.pid, signal.SIGSTOP)
    deadline = time.time() + 30
    while time.time() < deadline and "State:\tT" not in open("/proc/%d/status" % t.pid).read():
        time.sleep(0.05)
    expect_refusal(t.pid, ["stopped", "kill -CONT %d" % t.pid])
    check("State:\tT" in open("/proc/%d/status" % t.pid).read(), "the refusal changed the stopped state")
    os.kill(t.pid, signal.SIGCONT)
    # Traced (strace holds it).
    tracer = subprocess.Popen(["strace", "-qq", "-o", "/dev/null", "-p", str(t.pid)])
    SPAWNED.append(tracer)
    deadline = time.time() + 30
    while time.time() < deadline and "TracerPid:\t%d" % tracer.pid not in open("/proc/%d/status" % t.pid).read():
        time.sleep(0.05)
    expect_refusal(t.pid, ["already traced by process %d" % tracer.pid, "detach that debugger"])
    tracer.terminate()
    tracer.wait(timeout=30)
    deadline = time.time() + 30
    while time.time() < deadline and "TracerPid:\t0" not in open("/proc/%d/status" % t.pid).read():
        time.sleep(0.05)
    # Another user (nobody, without CAP_SYS_PTRACE) against our (root) process.
    if os.geteuid() == 0:
        expect_refusal(t.pid, ["owned by uid 0", "runs as uid 65534", "as root"], user=65534)
    # No such process: a reaped child's pid.
    gone = subprocess.Popen(["true"])
    gone.wait()
    expect_refusal(gone.pid, "no such process")
    expect_refusal("abc", "not a process id")
    check("libheapscope" not in t.maps(), "a refusal loaded heapscope into pid %d" % t.pid)
    check(t.cmd("make 2").startswith("made 2"), "target stopped answering after the refusals")
    # Attached twice: the second is refused by the agent, the first stays.
    attach(t.pid)
    expect_refusal(t.pid, ["already attached", "heapscope detach"])
    t.cmd("make 5")
    path = snapshot(t.pid)
    check(site_counts(path).get("after_site", 0) == 5, "%s: after_site after a refused second attach" % path)
    detach(t.pid)
    for p in (pre, t):
        reply, rc = p.quit()
        check(rc == 0, "pid %d exited %d: %r" % (p.pid, rc, p.err))
    shutil.rmtree(work, ignore_errors=True)


def get(port, path):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=30) as r:
        return json.loads(r.read().decode())


def start_server(work, env):
    full = dict(os.environ)
    full.pop("LD_PRELOAD", None)
    full.update(env)
    p = subprocess.Popen([SERVER, "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=full, cwd=work)
    SPAWNED.append(p)
    for line in p.stdout:
        m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
        if m:
            threading.Thread(target=lambda: [None for _ in p.stdout], daemon=True).start()
            threading.Thread(target=lambda: [None for _ in p.stderr], daemon=True).start()
            return p, int(m.group(1))
    raise Fail("leaky_server exited before listening: %r" % p.stderr.read())


def top_site(s1, s2):
    rc, out, err = hs("diff", s1, s2, "--top", 1)
    check(rc == 0, "heapscope diff: exit %d %r" % (rc, err))
    where = [l for l in out.splitlines() if re.match(r"\s+1\s+\+", l)]
    container = re.search(r"container (std::map<[^>]*>)", out)
    check(where and container, "diff output has no top site with a container:\n%s" % out)
    return re.sub(r".*(grown|new)\s+", "", where[0]).strip(), container.group(1), out


def case_demo():
    check(SERVER and os.path.exists(SERVER), "ATT_SERVER=%r: no demo server" % SERVER)
    work = tempfile.mkdtemp(prefix="hsatt-demo-")
    results = []
    for mode in ("attached", "preloaded"):
        env = {"LD_PRELOAD": LIB, "HEAPSCOPE_OUT": work + "/pre"} if mode == "preloaded" else {}
        p, port = start_server(work, env)
        if mode == "attached":
            attach(p.pid)
        for _ in range(2):
            get(port, "/leak")
        s1 = snapshot(p.pid)
        for _ in range(5):
            get(port, "/leak")
        s2 = snapshot(p.pid)
        results.append(top_site(s1, s2))
        if mode == "attached":
            check(stats(s2).get("attach_mode") == 1, "%s: not an attach-mode snapshot" % s2)
            detach(p.pid)
            check(get(port, "/status")["cache_entries"] == 7, "server state changed by detach")
        p.terminate()
        p.wait(timeout=60)
    (aw, ac, aout), (pw, pc, pout) = results
    check("LeakyCache::store" in aw and "cache.cpp:" in aw, "attached diff top site %r, expected "
          "LeakyCache::store cache.cpp:N\n%s" % (aw, aout))
    check(ac == "std::map<long, CacheEntry>", "attached diff container %r" % ac)
    check((aw, ac) == (pw, pc), "attached diff names %r / %r, preloaded %r / %r" % (aw, ac, pw, pc))
    check("+5.0 MiB" in aout, "attached diff does not show the 5 x 1 MiB growth:\n%s" % aout)
    print("attached diff:\n" + "\n".join(aout.splitlines()[:8]))
    shutil.rmtree(work, ignore_errors=True)


CASES = {
    "exact": case_exact,
    "now": lambda: case_exact("ledger_now"),
    "noplt": lambda: case_exact("ledger_noplt"),
    "idle": case_idle,
    "threads": case_threads,
    "cycles": case_cycles,
    "epoll": lambda: case_idle("epoll"),
    "killed": case_killed,
    "dlopen": case_dlopen,
    "jemalloc": lambda: case_exact("ledger_jemalloc"),
    "tcmalloc": lambda: case_exact("ledger_tcmalloc"),
    "static_libstdcxx": case_static_libstdcxx,
    "python": case_python,
    "seccomp": case_seccomp,
    "signals": case_signals,
    "interval": case_interval,
    "refusals": case_refusals,
    "demo": case_demo,
}


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in CASES:
        print("usage: attach_test.py {%s}" % "|".join(CASES), file=sys.stderr)
        return 2
    check(TOOL and os.path.exists(TOOL), "ATT_TOOL=%r: no heapscope command" % TOOL)
    try:
        CASES[sys.argv[1]]()
        for d in rel._tmpdirs:  # kept for a look when the case failed
            shutil.rmtree(d, ignore_errors=True)
        print("ok: attach.%s" % sys.argv[1])
        return 0
    except (Fail, rel.Fail) as e:
        print("FAIL: attach.%s: %s" % (sys.argv[1], e), file=sys.stderr)
        return 1
    finally:
        for p in SPAWNED:
            if p.poll() is None:
                p.kill()
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass


if __name__ == "__main__":
    sys.exit(main())
