#!/usr/bin/env python3
"""test_threads.py -- threads, unwinding and lock order under heapscope.

  stress:  8 threads cross-free for 3 s while SIGUSR2 arrives 20x a second:
           ledger == heapscope_totals() deltas, no deadlock, every snapshot complete.
  churn:   10,000 short threads (thread_local and pthread_key destructors that
           allocate): no live block from the threads' code, every allocation of
           theirs counted, heapscope's own memory not growing with the thread count.
  unwind:  tiny stack, sigaltstack handler, code without unwind info and a frame
           pointer into a PROT_NONE page, coroutines on heap stacks: no crash, exact totals.
  cancel:  a pending pthread_cancel never acts inside malloc (fp and libunwind unwinders).
  helgrind: valgrind --tool=helgrind on a 2-thread stress with interval snapshots
           reports no lock-order inversion.
"""
import os
import re
import signal
import subprocess
import sys
import time

import rel
from rel import check


def kv_line(text, prefix):
    m = re.search(r"^%s (.*)$" % re.escape(prefix), text, re.M)
    check(m, "no line starting with %r in:\n%s" % (prefix, text[-2000:]))
    return {k: int(v) for k, v in (x.split("=") for x in m.group(1).split())}


def stress_run(extra, secs, exact):
    out = rel.tmpdir("stress")
    ready = os.path.join(out, "ready")
    argv = [rel.prog("stress_xfree"), "8", secs, ready]
    env = {"HEAPSCOPE_OUT": out + "/hs"}
    env.update(extra)
    p = rel.start(argv, preload=[rel.LIB], env_extra=env)
    sent = 0
    deadline = time.time() + 20
    while not os.path.exists(ready) and time.time() < deadline and p.poll() is None:
        time.sleep(0.01)
    check(os.path.exists(ready), "stress_xfree never became ready")
    while p.poll() is None and time.time() < deadline:
        try:
            os.kill(p.pid, signal.SIGUSR2)
            sent += 1
        except ProcessLookupError:
            break
        time.sleep(0.05)
    r = rel.finish(p, 40, " ".join(argv))
    check(r.rc == 0, "stress_xfree under heapscope %s\n%s" % (extra, r.describe()))
    text = r.out.decode()
    led, hs = kv_line(text, "ledger"), kv_line(text, "heapscope")
    check(led["allocs"] > 10000, "stress_xfree did too little work: %s" % led)
    if exact:
        for k in ("allocs", "bytes", "live", "live_bytes"):
            check(hs[k] == led[k], "stress_xfree: heapscope %s delta %d, the threads' ledger %d (signals sent %d)" % (
                k, hs[k], led[k], sent))
    snaps = rel.snaps_in(out)
    sig = 0
    for path, pid, seq in snaps:
        s = rel.parse_snap(path)
        if s.trigger == rel.TRIG_SIGNAL:
            sig += 1
    check(sent >= 10 * float(secs), "only %d signals sent in %s s" % (sent, secs))
    check(sig >= 1, "%d signals sent, no signal snapshot in %s: %s" % (sent, out, os.listdir(out)))
    # A temp file from a signal/interval snapshot racing the exit is rel_exit_race's business
    # (disabled until that bug is fixed); anything else left over is a failure here.
    bad = [f for f in rel.leftovers(out, allowed=["ready"]) if not f.endswith(".hsnap.tmp")]
    check(not bad, "%s: leftover files %s" % (out, bad))


def test_stress():
    stress_run({}, "3", exact=True)
    # sampled mode: estimates, so no exact totals; still no deadlock and complete files
    stress_run({"HEAPSCOPE_SAMPLE": "524288", "HEAPSCOPE_INTERVAL": "0.05"}, "1.5", exact=False)


def frame_ranges(binary, names):
    return [rel.symbol_range(binary, n) for n in names]


def churn_run(n, batch):
    out = rel.tmpdir("churn%d" % n)
    binary = rel.prog("thread_churn")
    r = rel.run([binary, str(n), str(batch)], preload=[rel.LIB], env_extra={"HEAPSCOPE_OUT": out + "/hs"},
                timeout=90)
    check(r.rc == 0, "thread_churn %d\n%s" % (n, r.describe()))
    m = re.search(rb"^snapshot (\S+)$", r.out, re.M)
    check(m and m.group(1) != b"none", "thread_churn %d wrote no snapshot\n%s" % (n, r.describe()))
    s = rel.parse_snap(m.group(1).decode())
    main = [mod for mod in s.modules if mod["flags"] & rel.MOD_MAIN]
    check(len(main) == 1, "%s: %d modules flagged main, expected 1" % (s.path, len(main)))
    bias = main[0]["bias"]
    ranges = [(a + bias, a + bias + sz) for a, sz in
              frame_ranges(binary, ["churn_thread", "churn_key_dtor", "churn_tl_dtor_body"])]

    def inside(pc):
        return any(a <= pc - 1 < b for a, b in ranges)

    own_allocs, live_blocks = 0, 0
    for site in s.sites:
        st = s.stacks[site["stack"]]
        if st and inside(st[0]):
            own_allocs += site["alloc_count"]
        if site["inuse_count"] and any(inside(pc) for pc in st):
            live_blocks += site["inuse_count"]
    check(live_blocks == 0, "thread_churn %d: %d blocks allocated under churn_* frames still live in %s" % (
        n, live_blocks, s.path))
    check(own_allocs == 6 * n, "thread_churn %d: sites whose innermost frame is in churn_* count %d allocations, "
          "the program made %d (6 per thread) -- %s" % (n, own_allocs, 6 * n, s.path))
    check("self_memory_bytes" in s.stats, "%s: no self_memory_bytes stat (stats: %s)" % (s.path, sorted(s.stats)))
    return s.stats["self_memory_bytes"]


def test_churn():
    overlapped = churn_run(1000, 8)  # 8 threads at a time: the books under concurrent churn
    # heapscope's memory follows the threads alive at once (a stack memo per
    # recording thread, recycled at exit), so how far 8 threads at a time
    # overlap depends on the scheduler. One at a time, it is the same for
    # 1,000 and 10,000 threads unless something is kept per thread.
    small = churn_run(1000, 1)
    big = churn_run(10000, 1)
    print("self_memory_bytes: %d after 1,000 threads, %d after 10,000 (one at a time); %d after 1,000, "
          "8 at a time" % (small, big, overlapped))
    # 8 at a time: at most 8 more memos than one at a time (64 KiB each), whatever the overlap.
    check(overlapped <= small + 8 * 64 * 1024 + 64 * 1024,
          "heapscope's own memory with 8 threads at a time is %d bytes, %d with one at a time: more than "
          "8 stack memos (64 KiB each) apart" % (overlapped, small))
    check(big <= small + 256 * 1024,
          "heapscope's own memory grows with the thread count: %d bytes after 1,000 threads, %d after 10,000 "
          "(allowed: +256 KiB, i.e. < 29 bytes per extra thread)" % (small, big))


def test_unwind():
    argv = [rel.prog("unwind_prog")]
    plain = rel.run(argv)
    check(plain.rc == 0, "unwind_prog plain\n" + plain.describe())
    for extra in ({}, {"HEAPSCOPE_UNWIND": "fp"}, {"HEAPSCOPE_UNWIND": "libunwind"}, {"HEAPSCOPE_DEPTH": "512"},
                  {"HEAPSCOPE_UNWIND": "fp", "HEAPSCOPE_DEPTH": "512"}, {"HEAPSCOPE_SAMPLE": "1"}):
        out = rel.tmpdir("unwind")
        e = {"HEAPSCOPE_OUT": out + "/hs"}
        e.update(extra)
        r = rel.run(argv, preload=[rel.LIB], env_extra=e)
        check(r.rc == 0, "unwind_prog under heapscope %s\n%s" % (extra, r.describe()))
        cases = 0
        for line in r.out.decode().splitlines():
            if " ledger " not in line:
                continue
            name, rest = line.split(" ", 1)
            led = dict(x.split("=") for x in rest.split(" heapscope ")[0].split()[1:])
            hs = dict(x.split("=") for x in rest.split(" heapscope ")[1].split())
            if "HEAPSCOPE_SAMPLE" not in extra:  # exact in full mode
                check(hs["allocs"] == led["allocs"] and hs["bytes"] == led["bytes"] and hs["live"] == led["live"],
                      "unwind_prog case %s: heapscope %s, ledger %s" % (name, hs, led))
            cases += 1
        check(cases == 6, "unwind_prog printed %d cases, expected 6\n%s" % (cases, r.describe()))
        for path, _, _ in rel.snaps_in(out):
            rel.parse_snap(path)


def test_cancel(unwinder):
    """A pending deferred cancellation never acts inside malloc/free (they are not cancellation
    points), in full and sampled mode."""
    argv = [rel.prog("cancel_in_malloc")]
    plain = rel.run(argv)
    check(plain.out == b"worker finished\n", "cancel_in_malloc plain: %r" % plain.out)
    for extra in ({}, {"HEAPSCOPE_SAMPLE": "524288"}):
        e = {"HEAPSCOPE_OUT": rel.tmpdir("cancel") + "/hs", "HEAPSCOPE_UNWIND": unwinder}
        e.update(extra)
        r = rel.run(argv, preload=[rel.LIB], env_extra=e)
        rel.same_behaviour(plain, r, "cancel_in_malloc with %s" % e)


def test_helgrind():
    out = rel.tmpdir("helgrind")
    # nouserintercepts: valgrind then replaces malloc in libc only, so heapscope's hooks run (and
    # forward to valgrind's malloc); without it heapscope would see no allocation at all.
    argv = ["valgrind", "--tool=helgrind", "--error-exitcode=0", "--soname-synonyms=somalloc=nouserintercepts",
            "--log-file=%s/hg.log" % out, rel.prog("stress_xfree"), "2", "1.5"]
    r = rel.run(argv, preload=[rel.LIB], env_extra={"HEAPSCOPE_OUT": out + "/hs", "HEAPSCOPE_INTERVAL": "0.1"},
                timeout=160)
    log = open(os.path.join(out, "hg.log"), errors="replace").read()
    check(r.rc == 0, "helgrind run failed\n%s\n%s" % (r.describe(), log[-3000:]))
    check("ERROR SUMMARY" in log, "helgrind log incomplete: %s" % log[-2000:])
    text = r.out.decode()
    led, hs = kv_line(text, "ledger"), kv_line(text, "heapscope")
    check(hs == led, "under helgrind heapscope counted %s, the ledger says %s (heapscope not in the path?)" % (hs, led))
    inv = [m.start() for m in re.finditer(r"lock order", log, re.I)]
    check(not inv, "helgrind found a lock-order inversion:\n%s" % log[max(0, inv[0] - 200):inv[0] + 3000] if inv else "")
    snaps = rel.snaps_in(out)
    check(any(s[2] != "exit" for s in snaps), "no interval snapshot was taken under helgrind: %s" % os.listdir(out))
    for path, _, _ in snaps:
        rel.parse_snap(path)


if __name__ == "__main__":
    rel.main({"stress": test_stress, "churn": test_churn, "unwind": test_unwind,
              "helgrind": test_helgrind, "cancel": lambda: test_cancel(sys.argv[2])}[sys.argv[1]])
