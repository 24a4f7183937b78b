#!/usr/bin/env python3
"""bench/attach.py -- what `heapscope attach` costs (issue 12), in paired runs of one session.

  python3 bench/attach.py BUILD_DIR [--pairs N] [--iters N]

1. The same allocation loop (bench/workloads/attach_loop.c, 2 threads) run plain, under
   LD_PRELOAD, attached (started plain, `heapscope attach`, then the loop) and detached
   (attached, then `heapscope detach`, then the loop); each pair runs the four in a shuffled
   order; the page shows the medians of the per-pair ratios to plain.
2. How long an attach (and a detach) holds the one thread it stops, on a process with 100
   extra modules and 16 threads allocating in a tight loop: the injector's own figure
   ("thread T was held X ms"), over 10 attach/detach cycles.
Prints a markdown section for docs/attach.md. Nothing here asserts a time.
"""
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def build_loop(tmp):
    exe = os.path.join(tmp, "attach_loop")
    subprocess.run(["cc", "-O2", "-g", "-o", exe, os.path.join(ROOT, "bench/workloads/attach_loop.c"), "-lpthread"],
                   check=True)
    mods = os.path.join(tmp, "mods")
    os.mkdir(mods)
    src = os.path.join(mods, "mod.c")
    with open(src, "w") as f:
        f.write("#include <stdlib.h>\nvoid* mod_fn(void) { return malloc(32); }\n")
    for i in range(100):
        subprocess.run(["cc", "-O1", "-shared", "-fPIC", "-o", os.path.join(mods, "libmod%03d.so" % i), src],
                       check=True)
    return exe, mods


class Loop:
    def __init__(self, exe, args, env, cwd):
        self.p = subprocess.Popen([exe] + [str(a) for a in args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  text=True, env=env, cwd=cwd)
        assert self.p.stdout.readline().strip() == "ready"

    def ask(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()
        return self.p.stdout.readline().strip()

    def quit(self):
        self.p.stdin.write("quit\n")
        self.p.stdin.flush()
        self.p.wait(timeout=120)


class BenchError(Exception):
    pass


def hs(tool, *args):
    r = subprocess.run([tool] + [str(a) for a in args], capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise BenchError("heapscope %s: exit %d: %s" % (" ".join(map(str, args)), r.returncode, r.stderr))
    return r.stderr


def held_ms(msg):
    m = re.search(r"was held ([0-9.]+) ms", msg)
    if not m:
        raise BenchError("no 'thread T was held X ms' in heapscope's message: %r" % msg)
    return float(m.group(1))


def main():
    try:
        run()
    except BenchError as e:
        sys.exit("bench/attach.py: %s" % e)


def run():
    build = os.path.abspath(sys.argv[1])
    pairs = int(sys.argv[sys.argv.index("--pairs") + 1]) if "--pairs" in sys.argv else 7
    iters = int(sys.argv[sys.argv.index("--iters") + 1]) if "--iters" in sys.argv else 2000000
    tool = os.path.join(build, "tools/heapscope")
    lib = os.path.join(build, "profiler/libheapscope.so")
    tmp = tempfile.mkdtemp(prefix="hsbench-attach-")
    exe, mods = build_loop(tmp)
    base = {k: v for k, v in os.environ.items() if not k.startswith("HEAPSCOPE_") and k != "LD_PRELOAD"}
    base["HEAPSCOPE_AT_EXIT"] = "0"
    modes = ["plain", "preload", "attached", "detached"]
    ns = {m: [] for m in modes}
    for _ in range(pairs):
        order = modes[:]
        random.shuffle(order)
        for m in order:
            env = dict(base)
            if m == "preload":
                env["LD_PRELOAD"] = lib
                env["HEAPSCOPE_OUT"] = os.path.join(tmp, "pre")
            loop = Loop(exe, [2, iters], env, tmp)
            if m in ("attached", "detached"):
                hs(tool, "attach", loop.p.pid, "--out", os.path.join(tmp, "att"))
            if m == "detached":
                hs(tool, "detach", loop.p.pid)
            ns[m].append(float(loop.ask("go").split()[1]))
            loop.quit()
    ratio = {m: statistics.median(a / p for a, p in zip(ns[m], ns["plain"])) for m in modes}

    loop = Loop(exe, [16, 10 ** 9, mods, 100], dict(base), tmp)
    att, det = [], []
    try:
        assert loop.ask("spin") == "spinning"
        for _ in range(10):
            att.append(held_ms(hs(tool, "attach", loop.p.pid, "--out", os.path.join(tmp, "hold"))))
            det.append(held_ms(hs(tool, "detach", loop.p.pid)))
        loop.quit()
    finally:
        if loop.p.poll() is None:  # a failure above: the 16 spinning threads must not outlive us
            loop.p.kill()
            loop.p.wait(timeout=60)
        shutil.rmtree(tmp, ignore_errors=True)

    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    print("Measured %s at commit %s, load average %s (1, 5, 15 min) at the end." % (
        time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), commit or "?",
        " ".join("%.2f" % x for x in os.getloadavg())))
    print()
    print("| run (2 threads, %d malloc/free pairs each) | ns per pair (median of %d) | ratio to plain: median of pairs (min-max) |"
          % (iters, pairs))
    print("| --- | ---: | ---: |")
    for m in modes:
        rs = [a / p for a, p in zip(ns[m], ns["plain"])]
        print("| %s | %.1f | %.2fx (%.2f-%.2f) |" % (m, statistics.median(ns[m]), ratio[m], min(rs), max(rs)))
    print()
    print("| 100 extra modules, 16 threads allocating | median | max |")
    print("| --- | ---: | ---: |")
    print("| attach: one thread held | %.1f ms | %.1f ms |" % (statistics.median(att), max(att)))
    print("| detach: one thread held | %.1f ms | %.1f ms |" % (statistics.median(det), max(det)))


if __name__ == "__main__":
    main()
