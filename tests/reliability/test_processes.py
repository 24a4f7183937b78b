#!/usr/bin/env python3
"""test_processes.py -- fork, exec, signals, dlclose and `heapscope run`.

  forks:       fork storm while threads allocate and snapshot; each child's snapshot
               carries its own pid and its marker block; vfork+exec, posix_spawn and
               exec of a static (non-profiled) binary work; stdout equals the plain run.
  run_preload: `heapscope run` keeps the user's own LD_PRELOAD entries.
  sig_block / sig_handler: a program that blocks SIGUSR2 everywhere, or installs its
               own handler, keeps working; `heapscope snapshot PID` never hangs, never
               claims a snapshot it did not get, and gets one (the helper thread's
               control channel; test_control.py has the exact cases).
  dlclose:     a dlclose'd library's allocations still resolve to its function.
  static:      `heapscope run` on a static binary says it cannot preload and how to link.
  closed_fds:  a daemon that closes fds 3..1023 and reuses the numbers: its files stay intact.
"""
import json
import os
import re
import signal
import subprocess
import sys
import time

import rel
from rel import check


def need_tool():
    check(rel.TOOL and os.path.exists(rel.TOOL), "the heapscope command is not built (REL_TOOL=%r)" % rel.TOOL)


def test_forks():
    argv = [rel.prog("fork_storm"), "40", rel.prog("static_prog")]
    plain = rel.run(argv, timeout=60)
    check(plain.rc == 0, "fork_storm plain\n" + plain.describe())
    out = rel.tmpdir("forks")
    r = rel.run(argv, preload=[rel.LIB], env_extra={"HEAPSCOPE_OUT": out + "/hs"}, timeout=75)
    rel.same_behaviour(plain, r, "fork_storm under heapscope")
    children = re.findall(r"^CHILD pid=(\d+) rc=(-?\d+) path=(\S+) exit=(\S+)$", r.err.decode(), re.M)
    check(len(children) == 40, "expected 40 CHILD lines, got %d\n%s" % (len(children), r.describe()))
    for i, (pid, rc, path, how) in enumerate(children):
        pid = int(pid)
        check(rc == "0", "child %d (fork %d): heapscope_snapshot() returned %s\n%s" % (pid, i, rc, r.describe()))
        check(os.path.basename(path).startswith("hs.%d." % pid), "child %d wrote %s, not under its own pid" % (pid, path))
        s = rel.parse_snap(path)
        check(s.pid == pid, "%s: header pid %d, expected the child's %d" % (path, s.pid, pid))
        marker = 777777 + i
        has = any(site["inuse_count"] == 1 and site["inuse_bytes"] == marker for site in s.sites)
        check(has, "%s: the child's live marker block of %d bytes is not in any site" % (path, marker))
        exitf = os.path.join(out, "hs.%d.exit.hsnap" % pid)
        if how == "exit":
            check(os.path.exists(exitf), "child %d called exit(): no exit snapshot %s" % (pid, exitf))
            rel.parse_snap(exitf)
        else:
            check(not os.path.exists(exitf), "child %d called _exit(): yet an exit snapshot %s exists" % (pid, exitf))
    m = re.search(r"^SIGCHILD pid=(\d+) snapshot=(\w+)$", r.err.decode(), re.M)
    check(m, "no SIGCHILD line: the signal child did not run\n" + r.describe())
    check(m.group(2) == "yes", "a forked child sent itself SIGUSR2 and no snapshot appeared within 5 s "
          "(does the child of a multi-threaded parent get a helper thread?)\n" + r.describe())
    s = rel.parse_snap(os.path.join(out, "hs.%s.0001.hsnap" % m.group(1)))
    check(s.trigger == rel.TRIG_SIGNAL and s.pid == int(m.group(1)), "%s: trigger %d pid %d, expected signal and %s" % (
        s.path, s.trigger, s.pid, m.group(1)))
    for path, pid, seq in rel.snaps_in(out):
        rel.parse_snap(path)
    check(not rel.leftovers(out), "%s: leftover files %s" % (out, rel.leftovers(out)))


def test_run_preload():
    need_tool()
    out = rel.tmpdir("runpre")
    # printenv ends with exit() (dash would end with _exit(), which writes no exit snapshot by design)
    argv = [rel.TOOL, "run", "--out", out + "/hs", "--", "/usr/bin/printenv", "LD_PRELOAD"]
    r = rel.run(argv, preload=[rel.SHIM], env_extra={"COUNTSHIM_OUT": out + "/count"}, timeout=30)
    check(r.rc == 0, "heapscope run\n" + r.describe())
    line = r.out.decode().strip().splitlines()[-1]
    check(rel.SHIM in line, "heapscope run dropped the user's LD_PRELOAD entry %s: child saw %r" % (rel.SHIM, line))
    check("libheapscope" in line, "heapscope run did not add libheapscope.so: child saw %r" % line)
    snaps = rel.snaps_in(out)
    check(snaps, "heapscope run wrote no snapshot in %s" % out)
    counts = [f for f in os.listdir(out) if f.startswith("count.")]
    check(counts, "the user's preload (countshim) did not run in the child: no count file in %s" % out)


def wait_ready(p, ready, what):
    deadline = time.time() + 20
    while not os.path.exists(ready) and time.time() < deadline and p.poll() is None:
        time.sleep(0.01)
    check(os.path.exists(ready), "%s never became ready" % what)


def snapshot_cmd_outcome(pid, out):
    """Runs `heapscope snapshot PID`; it must end in time, and either print the path of a
    complete snapshot of PID, or fail with a 'heapscope:' message naming the pid."""
    r = rel.run([rel.TOOL, "snapshot", "--timeout", "2", str(pid)], timeout=45)
    if r.rc == 0:
        path = r.out.decode().strip().splitlines()[-1] if r.out.strip() else ""
        check(path and os.path.exists(path), "heapscope snapshot %d: exit 0 but no such file %r\n%s" % (pid, path, r.describe()))
        s = rel.parse_snap(path)
        check(s.pid == pid, "%s: pid %d, expected %d" % (path, s.pid, pid))
        return "ok"
    msg = r.err.decode()
    check("heapscope:" in msg and str(pid) in msg,
          "heapscope snapshot %d failed without a 'heapscope:' message naming the pid\n%s" % (pid, r.describe()))
    return "refused"


# Poll-family system calls an idle server blocks in (x86-64 numbers).
IDLE_SYSCALLS = {7, 23, 232, 270, 271, 281}  # poll select epoll_wait pselect6 ppoll epoll_pwait


def test_idle_http_server():
    """An idle single-threaded server (python3 -m http.server, HEAPSCOPE_THREAD=auto) answers
    `heapscope snapshot` and stays single-threaded: the snapshot is written from the signal handler."""
    need_tool()
    out = rel.tmpdir("idle-http")
    argv = ["python3", "-u", "-m", "http.server", "--bind", "127.0.0.1", "0"]
    p = rel.start(argv, preload=[rel.LIB], env_extra={"HEAPSCOPE_OUT": out + "/hs"}, cwd=out)
    try:
        line = p.stdout.readline().decode()
        m = re.search(r"port (\d+)", line)
        check(m, "python3 -m http.server did not say its port: %r" % line)
        port = int(m.group(1))
        tasks = lambda: len(os.listdir("/proc/%d/task" % p.pid))
        idle = False
        for _ in range(200):  # bounded: at most ~10 s
            with open("/proc/%d/syscall" % p.pid) as f:
                first = f.read().split()
            if first and first[0].isdigit() and int(first[0]) in IDLE_SYSCALLS:
                idle = True
                break
            time.sleep(0.05)
        check(idle, "python3 -m http.server never blocked in a poll-family call (read: %r)" % first)
        check(tasks() == 1, "the server had %d threads before the snapshot, expected 1" % tasks())
        t0 = time.monotonic()
        r = subprocess.run([rel.TOOL, "snapshot", "--timeout", "30", str(p.pid)], capture_output=True)
        took = time.monotonic() - t0
        check(r.returncode == 0, "heapscope snapshot of the idle server failed (exit %d): %s" % (
            r.returncode, r.stderr.decode()))
        path = r.stdout.decode().strip()
        check(path == "%s/hs.%d.0001.hsnap" % (out, p.pid), "heapscope snapshot printed %r" % path)
        snap = rel.parse_snap(path)
        check(snap.totals["inuse_count"] > 0, "the idle server's snapshot holds no live block")
        check(tasks() == 1, "the server has %d threads after the snapshot, expected 1 (no helper)" % tasks())
        # It still serves after the snapshot (loopback only).
        import urllib.request
        body = urllib.request.urlopen("http://127.0.0.1:%d/" % port, timeout=30).read()
        check(b"Directory listing" in body, "the server no longer answers after the snapshot")
        print("idle http.server answered heapscope snapshot in %.0f ms" % (took * 1000))
    finally:
        p.kill()
        p.communicate()


def sig_test(mode):
    need_tool()
    out = rel.tmpdir("sig-" + mode)
    ready = os.path.join(out, "ready")
    argv = [rel.prog("sig_prog"), mode, "5", ready]  # runs past the tool's 2 s timeout
    p = rel.start(argv, preload=[rel.LIB], env_extra={"HEAPSCOPE_OUT": out + "/hs"})
    wait_ready(p, ready, "sig_prog " + mode)
    for _ in range(5):
        os.kill(p.pid, signal.SIGUSR2)
        time.sleep(0.05)
    outcome = snapshot_cmd_outcome(p.pid, out)
    r = rel.finish(p, 30, " ".join(argv))
    check(r.rc == 0, "sig_prog %s under heapscope\n%s" % (mode, r.describe()))
    want = "mode %s done\n" % mode
    if mode == "block":
        # sig_prog starts two workers: heapscope's helper thread came with the first and
        # keeps the signal unblocked, so it answers although every program thread blocks it.
        check(outcome == "ok", "every program thread blocks SIGUSR2, yet heapscope's helper thread should "
              "have answered `heapscope snapshot`")
    if mode == "handler":
        want += "handler saw signals: yes\n"
        # The program's own handler takes the signal; heapscope's helper thread (it came with the
        # first worker) answers `heapscope snapshot` over the control channel instead.
        check(outcome == "ok", "the program's own SIGUSR2 handler took the signal, and heapscope snapshot "
              "did not get through the control channel")
        said = [l for l in r.hs_lines() if "handler" in l]
        check(len(said) == 1, "heapscope should say once that the program replaced its signal handler; "
              "it said %d times\n%s" % (len(said), r.describe()))
    check(r.out.decode() == want, "sig_prog %s printed %r, expected %r" % (mode, r.out.decode(), want))
    for path, _, _ in rel.snaps_in(out):
        rel.parse_snap(path)


def test_dlclose():
    lib = os.path.join(rel.PROGS, "libreldl.so")
    out = rel.tmpdir("dlclose")
    r = rel.run([rel.prog("dlclose_prog"), lib], preload=[rel.LIB], env_extra={"HEAPSCOPE_OUT": out + "/hs"})
    check(r.rc == 0, "dlclose_prog\n" + r.describe())
    check(b"unloaded yes" in r.out, "libreldl.so was not unloaded\n" + r.describe())
    m = re.search(rb"^snapshot (\S+)$", r.out, re.M)
    check(m and m.group(1) != b"none", "no snapshot\n" + r.describe())
    path = m.group(1).decode()
    s = rel.parse_snap(path)
    mod = rel.module_by_path(s, "libreldl.so")
    check(mod["flags"] & rel.MOD_UNLOADED, "%s: module %s not flagged unloaded (flags %d)" % (path, mod["path"], mod["flags"]))
    check(mod["build_id"], "%s: unloaded module %s kept no build-id" % (path, mod["path"]))
    lo = min(rg[0] for rg in mod["ranges"])
    hi = max(rg[1] for rg in mod["ranges"])
    live = sum(site["inuse_count"] for site in s.sites
               if s.stacks[site["stack"]] and lo <= s.stacks[site["stack"]][0] - 1 < hi)
    check(live == 10, "%s: %d live blocks whose innermost frame is in libreldl.so, expected 10" % (path, live))
    need_tool()
    rep = rel.run([rel.TOOL, "report", path, "--json"], timeout=60)
    check(rep.rc == 0, "heapscope report\n" + rep.describe())
    doc = json.loads(rep.out)
    named = [site for site in doc.get("sites", [])
             if any(f.get("function") == "reldl_leak" for f in site.get("frames", []))]
    check(named, "heapscope report %s: no site names reldl_leak (the unloaded library's function)" % path)
    check(sum(x["inuse_count"] for x in named) == 10, "reldl_leak sites hold %d blocks, expected 10" % sum(
        x["inuse_count"] for x in named))


def test_closed_fds():
    """A program that closes its inherited fds and reuses the numbers: its files stay intact and
    one signal gives at most one snapshot."""
    argv_dir = rel.tmpdir("closedfds-plain")
    plain = rel.run([rel.prog("closed_fds"), argv_dir])
    check(plain.rc == 0 and plain.out.count(b"intact") == 8, "closed_fds plain\n" + plain.describe())
    # closed_fds is single-threaded: only HEAPSCOPE_THREAD=always gives it the helper thread
    # and the signal pipe whose descriptor numbers it closes and reuses.
    for thread in ("auto", "always"):
        d = rel.tmpdir("closedfds-" + thread)
        files = rel.tmpdir("closedfds-files-" + thread)
        r = rel.run([rel.prog("closed_fds"), files], preload=[rel.LIB],
                    env_extra={"HEAPSCOPE_OUT": d + "/hs", "HEAPSCOPE_THREAD": thread})
        rel.same_behaviour(plain, r, "closed_fds under heapscope, HEAPSCOPE_THREAD=%s (the program's own files)" % thread)
        numbered = [p for p, _, seq in rel.snaps_in(d) if seq != "exit"]
        check(len(numbered) <= 1, "closed_fds (HEAPSCOPE_THREAD=%s): one SIGUSR2 gave %d snapshots" % (thread, len(numbered)))
        for p in numbered:
            check(rel.parse_snap(p).trigger == rel.TRIG_SIGNAL, "%s: not a signal snapshot" % p)


def test_atfork_alloc():
    """A library initialised before heapscope registers a fork-prepare handler that allocates:
    it runs after heapscope's (which holds the live-table locks). 20 forks: no hang, the same
    output as plain, and every process's exit snapshot parses. Its parent handler frees an
    8 MiB cache: the parent's exit snapshot must not count it as live."""
    argv = [rel.prog("atfork_alloc")]
    plain = rel.run(argv, timeout=30)
    check(plain.rc == 0 and plain.out == b"forks 20 prepared 20 children ok 20\n", "atfork_alloc plain\n" + plain.describe())
    d = rel.tmpdir("atfork")
    r = rel.run(argv, preload=[rel.LIB], env_extra={"HEAPSCOPE_OUT": d + "/hs"}, timeout=30)
    rel.same_behaviour(plain, r, "atfork_alloc under heapscope")
    exits = [p for p, _, seq in rel.snaps_in(d) if seq == "exit"]
    check(len(exits) == 21, "atfork_alloc: %d exit snapshots, expected 21 (the parent and 20 children)" % len(exits))
    m = re.search(rb"atfork_alloc: pid (\d+)", r.err)
    check(m is not None, "atfork_alloc did not say its pid\n" + r.describe())
    parent_pid = int(m.group(1))
    parents = []
    for p in exits:
        s = rel.parse_snap(p)
        if s.pid == parent_pid:
            parents.append(s)
    check(len(parents) == 1, "atfork_alloc: no exit snapshot of the parent (pid %d) among %d" % (parent_pid, len(exits)))
    for s in parents:
        check(s.totals["inuse_bytes"] < (1 << 20), "%s: %d bytes live at exit, expected under 1 MiB (the 8 MiB "
              "cache freed in a fork handler is still in the books)" % (s.path, s.totals["inuse_bytes"]))


FORKS_IN_HANDLER = 400


def fork_in_handler_counts(r, what):
    m = re.search(rb"^fork_in_handler: forks (\d+) failed (\d+) in_alloc (\d+) reaped (\d+) bad (\d+)$", r.err, re.M)
    check(m is not None, "%s: no 'fork_in_handler: forks ...' line on stderr\n%s" % (what, r.describe()))
    forks, failed, in_alloc, reaped, bad = (int(x) for x in m.groups())
    check(r.rc == 0 and r.out == b"done\n", "%s: exit %s, stdout %r\n%s" % (what, r.rc, r.out, r.describe()))
    check(forks == FORKS_IN_HANDLER and failed == 0, "%s: %d forks and %d failed ones, expected exactly %d forks "
          "(the program stops at that count)\n%s" % (what, forks, failed, FORKS_IN_HANDLER, r.describe()))
    check(reaped == forks and bad == 0, "%s: %d children reaped, %d of them not exiting 0; expected %d, 0" % (
        what, reaped, bad, forks))
    return in_alloc


def test_fork_in_handler():
    """A signal handler forks (at most 400 times, 200 us of main-loop time apart however slow a
    fork is) while the program allocates: some forks interrupt heapscope inside a hook, and
    heapscope says so in each such child, which it leaves untracked. 3 runs: no hang, every
    fork done and reaped, at least one fork landed inside heapscope's bookkeeping (its own
    line, never more than the forks the program saw inside an allocation call), and every
    snapshot parses."""
    argv = [rel.prog("fork_in_handler"), str(FORKS_IN_HANDLER)]
    plain = rel.run(argv, timeout=60)
    fork_in_handler_counts(plain, "fork_in_handler plain")
    check(not plain.hs_lines(), "fork_in_handler plain printed heapscope lines\n" + plain.describe())
    for i in range(3):
        d = rel.tmpdir("forkhandler")
        what = "fork_in_handler run %d under heapscope" % i
        r = rel.run(argv, preload=[rel.LIB], env_extra={"HEAPSCOPE_OUT": d + "/hs"}, timeout=60)
        in_alloc = fork_in_handler_counts(r, what)
        untracked = [l for l in r.hs_lines() if "fork from a signal handler that interrupted an allocation" in l]
        check(untracked, "%s: no fork interrupted heapscope inside a hook (no child said it is not tracked; %d of "
              "%d forks landed inside an allocation call)\n%s" % (what, in_alloc, FORKS_IN_HANDLER, r.describe()))
        check(len(untracked) <= in_alloc, "%s: %d children say a fork interrupted heapscope inside a hook, but only "
              "%d forks landed inside an allocation call" % (what, len(untracked), in_alloc))
        pids = {int(re.search(r"pid (\d+)", l).group(1)) for l in untracked}
        check(len(pids) == len(untracked), "%s: a child said twice it is not tracked: %s" % (what, untracked))
        snaps = rel.snaps_in(d)
        # The children _exit (no exit snapshot): only the parent's exit snapshot.
        check(len(snaps) == 1 and snaps[0][2] == "exit" and snaps[0][1] not in pids,
              "%s: snapshots %s, expected only the parent's exit snapshot" % (what, snaps))
        rel.parse_snap(snaps[0][0])
        print("run %d: %d forks, %d inside an allocation call, %d inside heapscope's bookkeeping" % (
            i, FORKS_IN_HANDLER, in_alloc, len(untracked)))


def test_static():
    need_tool()
    sp = rel.prog("static_prog")
    r = rel.run([rel.TOOL, "run", "--out", rel.tmpdir("static") + "/hs", "--", sp], timeout=30)
    err = r.err.decode()
    check(re.search(r"static", err, re.I), "heapscope run on a static binary did not say it is static\n" + r.describe())
    check(re.search(r"link", err, re.I) and re.search(r"heapscope", err),
          "heapscope run on a static binary did not say how to link heapscope in instead\n" + r.describe())
    if r.rc == 0:
        check(r.out == b"static: child ran\n", "the static program's stdout changed: %r" % r.out)


if __name__ == "__main__":
    rel.main({"forks": test_forks, "idle_http": test_idle_http_server, "atfork_alloc": test_atfork_alloc, "fork_in_handler": test_fork_in_handler, "run_preload": test_run_preload, "sig_block": lambda: sig_test("block"),
              "sig_handler": lambda: sig_test("handler"), "dlclose": test_dlclose, "static": test_static,
              "closed_fds": test_closed_fds}[sys.argv[1]])
