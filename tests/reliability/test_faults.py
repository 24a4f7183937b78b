#!/usr/bin/env python3
"""test_faults.py -- the allocation API at its edges, snapshot files under faults,
trigger storms, exit paths and secure (setuid) mode.

  alloc_fail: overflowing sizes and the aligned family: same results and errno as plain.
  ulimit:     under `ulimit -v 512 MiB`: same results as plain.
  disk_full:  HEAPSCOPE_OUT on a full 64 KiB tmpfs: program runs on, exit 0, API calls
              fail with ENOSPC, exactly one heapscope failure line, no temp/partial file.
  unwritable: a read-only mount and a missing directory, likewise.
  planted:    a fifo at the final name, symlinks at the final and temp names: no hang,
              targets untouched, nothing heapscope did not create is deleted.
  modes:      snapshots are 0600 under umask 000, 022 and 077; the umask is not changed.
  triggers:   interval + signal + API + alert + exit at once in two processes sharing a prefix:
              per pid, sequence numbers 1..N without gap or repeat, in time order.
  exit_race:  interval snapshots racing a normal exit leave no temp file.
  kill9:      SIGKILL at random moments during snapshot writing: final names always complete.
  exit_in_handler: exit() from a signal handler that interrupted malloc/free: no hang.
  exit_paths: exit, _exit, quick_exit, abort, return, exit from a thread, exit while threads allocate.
  secure:     a setuid-root program linked with libheapscope, run as nobody: it runs,
              heapscope reads no HEAPSCOPE_* variable and writes nothing.
  secure_private_tmp: the same with $TMPDIR inside a 0700 directory (a clone under /root).
"""
import errno
import os
import re
import resource
import shutil
import signal
import stat
import subprocess
import tempfile
import sys
import time

import rel
from rel import check


def test_alloc_fail():
    argv = [rel.prog("alloc_fail"), "edges"]
    plain = rel.run(argv)
    check(plain.rc == 0, "alloc_fail plain\n" + plain.describe())
    check(plain.out.count(b"NULL") > 10, "alloc_fail plain run shows too few failures:\n%s" % plain.out[:500])
    for extra in ({}, {"HEAPSCOPE_SAMPLE": "524288"}, {"HEAPSCOPE_SAMPLE": "1"}):
        d = rel.tmpdir("allocfail")
        e = {"HEAPSCOPE_OUT": d + "/hs"}
        e.update(extra)
        r = rel.run(argv, preload=[rel.LIB], env_extra=e)
        rel.same_behaviour(plain, r, "alloc_fail under heapscope %s" % extra)
        # heapscope was really in the path: an exit snapshot that saw the successful calls
        exits = [path for path, _, seq in rel.snaps_in(d) if seq == "exit"]
        check(len(exits) == 1, "alloc_fail %s: no exit snapshot in %s: %s" % (extra, d, os.listdir(d)))
        if not extra:
            n = rel.parse_snap(exits[0]).totals["alloc_count"]
            check(n >= 30, "alloc_fail: the exit snapshot counts %d allocations, the program made over 30" % n)


def limit_as(mib):
    def f():
        lim = mib << 20
        resource.setrlimit(resource.RLIMIT_AS, (lim, lim))
    return f


def test_ulimit():
    """Under an address-space limit (ulimit -v) the program's allocations succeed and fail exactly
    as in the plain run, and heapscope is really tracking (exit snapshot with the live blocks)."""
    for limit, block in ((512, 200), (4096, 1600)):
        argv = [rel.prog("alloc_fail"), "ulimit", str(block)]
        what = "alloc_fail with %d MiB blocks under ulimit -v %d MiB" % (block, limit)
        plain = rel.run(argv, pre_fn=limit_as(limit))
        check(plain.rc == 0, "%s plain\n%s" % (what, plain.describe()))
        check(b"NULL" in plain.out and b"ptr" in plain.out,
              "%s: the plain run should see both successes and failures:\n%s" % (what, plain.out.decode()))
        d = rel.tmpdir("ulimit")
        r = rel.run(argv, preload=[rel.LIB], env_extra={"HEAPSCOPE_OUT": d + "/hs"}, pre_fn=limit_as(limit))
        rel.same_behaviour(plain, r, what + " under heapscope")
        off = [l for l in r.hs_lines() if "off" in l or "cannot" in l]
        check(not off, "%s: heapscope gave up: %s" % (what, off))
        exits = [path for path, _, seq in rel.snaps_in(d) if seq == "exit"]
        check(len(exits) == 1, "%s: expected one exit snapshot in %s, found %s" % (what, d, os.listdir(d)))
        s = rel.parse_snap(exits[0])
        check(s.totals["alloc_count"] >= 4, "%s: exit snapshot counts %d allocations" % (what, s.totals["alloc_count"]))


# ---------------------------------------------------------------- snapshot files
def mount_tmpfs(path, opts):
    os.makedirs(path, exist_ok=True)
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", path], capture_output=True, text=True)
    check(p.returncode == 0, "cannot mount a tmpfs (%s) at %s: %s -- this test needs root and mount; "
          "it does not skip" % (opts, path, p.stderr.strip()))


def umount(path):
    subprocess.run(["umount", "-l", path], capture_output=True)


def snap_lines(res):
    return re.findall(r"^snap (\d+) rc=(-?\d+) errno=(\d+)$", res.out.decode(), re.M)


def faulty_dir_run(outprefix, want_errno, what, baseline_lines, extra_args=()):
    argv = [rel.prog("snap_files"), "4"] + list(extra_args)
    r = rel.run(argv, preload=[rel.LIB], env_extra={"HEAPSCOPE_OUT": outprefix})
    check(r.rc == 0, "%s: snap_files exit %s, expected 0\n%s" % (what, r.rc, r.describe()))
    lines = snap_lines(r)
    check(len(lines) == 4, "%s: expected 4 snap lines\n%s" % (what, r.describe()))
    for i, rc, e in lines:
        check(rc == "-1" and int(e) == want_errno, "%s: snapshot %s returned rc=%s errno=%s, expected -1 and %d (%s)" % (
            what, i, rc, e, want_errno, errno.errorcode.get(want_errno)))
    hs = r.hs_lines()
    check(len(hs) == baseline_lines + 1, "%s: %d 'heapscope:' lines on stderr, expected exactly one failure line "
          "(a normal run prints %d)\n%s" % (what, len(hs), baseline_lines, r.describe()))
    return r


def baseline_lines():
    d = rel.tmpdir("base")
    r = rel.run([rel.prog("snap_files"), "4"], preload=[rel.LIB], env_extra={"HEAPSCOPE_OUT": d + "/hs"})
    check(r.rc == 0, "snap_files on a normal dir\n" + r.describe())
    check(all(rc == "0" for _, rc, _ in snap_lines(r)), "snap_files on a normal dir: snapshots failed\n" + r.describe())
    return len(r.hs_lines())


def test_disk_full():
    base = baseline_lines()
    top = rel.tmpdir("diskfull")
    mnt = os.path.join(top, "mnt")
    mount_tmpfs(mnt, "size=64k")
    try:
        filler = os.path.join(mnt, "filler")
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            while True:
                os.write(fd, b"x" * 512)
        except OSError as e:
            check(e.errno == errno.ENOSPC, "filling %s: %s, expected ENOSPC" % (mnt, e))
        finally:
            os.close(fd)
        fsize = os.path.getsize(filler)
        r = faulty_dir_run(mnt + "/hs", errno.ENOSPC, "disk full (%s)" % mnt, base)
        hs = r.hs_lines()
        check(any(mnt in l for l in hs), "the failure line does not name the output path %s: %s" % (mnt, hs))
        left = sorted(os.listdir(mnt))
        check(left == ["filler"], "%s: after a run on a full disk, files %s remain (expected only the test's filler: "
              "no temp or partial snapshot)" % (mnt, left))
        check(os.path.getsize(filler) == fsize, "the filler file changed size")
    finally:
        umount(mnt)
    # The disk fills up in the middle of a file: less than a page left (the filler's last
    # page stays in use), so the write of every snapshot (~3.6 KiB in format 2, ~15 KiB
    # in format 1) fails with ENOSPC after its temporary file was created.
    mnt2 = os.path.join(top, "mnt2")
    mount_tmpfs(mnt2, "size=64k")
    try:
        filler = os.path.join(mnt2, "filler")
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            while True:
                os.write(fd, b"x" * 512)
        except OSError as e:
            check(e.errno == errno.ENOSPC, "filling %s: %s, expected ENOSPC" % (mnt2, e))
        os.ftruncate(fd, os.fstat(fd).st_size - 2048)
        os.close(fd)
        fsize = os.path.getsize(filler)
        faulty_dir_run(mnt2 + "/hs", errno.ENOSPC, "disk full mid-write (%s)" % mnt2, base, ["--stacks", "60"])
        left = sorted(os.listdir(mnt2))
        check(left == ["filler"], "%s: after snapshots that filled the disk mid-write, files %s remain" % (mnt2, left))
        check(os.path.getsize(filler) == fsize, "the filler file changed size")
    finally:
        umount(mnt2)


def test_unwritable():
    base = baseline_lines()
    top = rel.tmpdir("rofs")
    mnt = os.path.join(top, "ro")
    mount_tmpfs(mnt, "ro,size=64k")
    try:
        faulty_dir_run(mnt + "/hs", errno.EROFS, "read-only directory %s" % mnt, base)
        check(os.listdir(mnt) == [], "read-only mount not empty?")
    finally:
        umount(mnt)
    missing = os.path.join(top, "does-not-exist", "sub")
    faulty_dir_run(missing + "/hs", errno.ENOENT, "missing directory %s" % missing, base)
    check(not os.path.exists(missing), "heapscope created the missing output directory %s" % missing)


# Temp names heapscope might use for PREFIX.PID.SEQ.hsnap; symlinks are planted at all of them.
TEMP_SUFFIXES = [".tmp", ".part"]


def test_planted():
    d = rel.tmpdir("planted")
    victim = os.path.join(d, "victim")
    with open(victim, "w") as f:
        f.write("precious\n")
    os.chmod(victim, 0o644)
    vst = os.stat(victim)
    prefix = d + "/hs"
    # 1. a symlink at the first snapshot's final name, and at its temp names.
    args = ["--plant-link", prefix + ".%d.0001.hsnap", victim]
    for suf in TEMP_SUFFIXES:
        args += ["--plant-link", prefix + ".%d.0002.hsnap" + suf, victim]
    r = rel.run([rel.prog("snap_files"), "3"] + args, preload=[rel.LIB], env_extra={"HEAPSCOPE_OUT": prefix}, timeout=30)
    check(r.rc == 0, "snap_files with planted symlinks\n" + r.describe())
    with open(victim) as f:
        check(f.read() == "precious\n", "the symlink target %s was written through a planted symlink" % victim)
    st = os.stat(victim)
    check(st.st_mode == vst.st_mode and st.st_size == vst.st_size, "the symlink target's mode or size changed")
    for line in r.out.decode().splitlines():
        mm = re.match(r"mode (\S+) (\d+) (\S+)$", line)
        if mm:
            check(mm.group(3) == "regular", "snapshot %s is not a regular file after the API call" % mm.group(1))
    pids = {pid for _, pid, _ in rel.snaps_in(d)}
    check(len(pids) == 1, "expected snapshots of one pid in %s: %s" % (d, os.listdir(d)))
    pid = pids.pop()
    for suf in TEMP_SUFFIXES:
        link = prefix + (".%d.0002.hsnap" % pid) + suf
        check(os.path.islink(link), "the planted symlink %s was deleted (heapscope did not create it)" % link)
    # 2. a fifo at the final name: no hang (the test's timeout), nothing written into it.
    d2 = rel.tmpdir("fifo")
    r = rel.run([rel.prog("snap_files"), "2", "--plant-fifo", d2 + "/hs.%d.0001.hsnap"], preload=[rel.LIB],
                env_extra={"HEAPSCOPE_OUT": d2 + "/hs"}, timeout=30)
    check(r.rc == 0, "snap_files with a fifo at the output path\n" + r.describe())
    for path, _, _ in rel.snaps_in(d2):
        if stat.S_ISFIFO(os.lstat(path).st_mode):
            continue
        rel.parse_snap(path)


def test_modes():
    for um in ("000", "022", "077"):
        d = rel.tmpdir("modes")
        r = rel.run([rel.prog("snap_files"), "2", "--umask", um], preload=[rel.LIB], env_extra={"HEAPSCOPE_OUT": d + "/hs"})
        check(r.rc == 0, "snap_files --umask %s\n%s" % (um, r.describe()))
        check(b"umask unchanged: yes" in r.out, "heapscope changed the process umask (umask %s)\n%s" % (um, r.describe()))
        snaps = rel.snaps_in(d)
        check(len(snaps) >= 3, "umask %s: expected 2 API snapshots and an exit snapshot in %s: %s" % (um, d, os.listdir(d)))
        for path, _, _ in snaps:
            mode = stat.S_IMODE(os.lstat(path).st_mode)
            check(mode == 0o600, "%s: mode %o under umask %s, expected 600" % (path, mode, um))
            rel.parse_snap(path)


def test_triggers():
    d = rel.tmpdir("triggers")
    procs = []
    for i in range(2):
        ready = os.path.join(d, "ready%d" % i)
        argv = [rel.prog("triggers"), "2.5", ready]
        procs.append((rel.start(argv, preload=[rel.LIB], env_extra={"HEAPSCOPE_OUT": d + "/hs",
                                                                     "HEAPSCOPE_INTERVAL": "0.05",
                                                                     "HEAPSCOPE_ALERT": "50000"}), ready, argv))
    deadline = time.time() + 20
    for p, ready, _ in procs:
        while not os.path.exists(ready) and time.time() < deadline and p.poll() is None:
            time.sleep(0.01)
    sent = 0
    while any(p.poll() is None for p, _, _ in procs) and time.time() < deadline:
        for p, _, _ in procs:
            if p.poll() is None:
                try:
                    os.kill(p.pid, signal.SIGUSR2)
                    sent += 1
                except ProcessLookupError:
                    pass
        time.sleep(0.05)
    for p, _, argv in procs:
        r = rel.finish(p, 30, " ".join(argv))
        check(r.rc == 0, "triggers\n" + r.describe())
        check(r.out == b"api ok 1 failed 0\n", "triggers pid %d: %r, expected every API snapshot to succeed" % (p.pid, r.out))
        for line in r.err.decode().splitlines():
            if line.startswith("API "):
                check(os.path.exists(line[4:]), "API snapshot %s reported but missing" % line[4:])
        snaps = [(path, seq) for path, pid, seq in rel.snaps_in(d) if pid == p.pid]
        numbered = sorted(seq for _, seq in snaps if seq != "exit")
        check(numbered == list(range(1, len(numbered) + 1)),
              "pid %d: sequence numbers %s, expected 1..%d without gap or repeat" % (p.pid, numbered, len(numbered)))
        parsed = {seq: rel.parse_snap(path) for path, seq in snaps}
        check("exit" in parsed, "pid %d: no exit snapshot" % p.pid)
        check(parsed["exit"].trigger == rel.TRIG_EXIT, "exit snapshot trigger %d" % parsed["exit"].trigger)
        trig = set()
        last = -1
        for seq in numbered:
            s = parsed[seq]
            check(s.seq == seq and s.pid == p.pid, "%s: header seq %d pid %d, file name says %d %d" % (
                s.path, s.seq, s.pid, seq, p.pid))
            check(s.uptime_ns > last, "%s: uptime %d not after the previous snapshot's %d" % (s.path, s.uptime_ns, last))
            last = s.uptime_ns
            trig.add(s.trigger)
        for t, name in ((rel.TRIG_API, "API"), (rel.TRIG_INTERVAL, "interval"), (rel.TRIG_SIGNAL, "signal"),
                        (rel.TRIG_ALERT, "alert")):
            check(t in trig, "pid %d: no %s-triggered snapshot among %d (%d signals sent)" % (p.pid, name, len(numbered), sent))
    # A temp file left by an interval/signal snapshot racing the exit is rel_exit_race's business
    # (disabled until that bug is fixed); anything else left over is a failure here.
    odd = [f for f in rel.leftovers(d, allowed=["ready0", "ready1"]) if not f.endswith(".hsnap.tmp")]
    check(not odd, "leftovers: %s" % odd)


def test_exit_race():
    """Interval snapshots every 1 ms while the program exits, 80 times: no temp file may be left
    (a background snapshot started after the exit snapshot is cut off by the process exit).
    Before the fix one run in 10 to 40 left one."""
    d = rel.tmpdir("exitrace")
    for i in range(80):
        r = rel.run([rel.prog("triggers"), "0.1", "-", "60"], preload=[rel.LIB],
                    env_extra={"HEAPSCOPE_OUT": d + "/hs", "HEAPSCOPE_INTERVAL": "0.001"}, timeout=30)
        check(r.rc == 0, "triggers\n" + r.describe())
    for path, _, _ in rel.snaps_in(d):
        rel.parse_snap(path)
    left = rel.leftovers(d)
    check(not left, "%d runs that exited normally left %d temp files: %s" % (80, len(left), left[:5]))


def test_kill9():
    """SIGKILL at random moments while snapshots are written every 5 ms: every file under a
    final name is complete (temp files may remain: nobody is left to remove them)."""
    import random
    d = rel.tmpdir("kill9")
    rnd = random.Random(6)
    for i in range(12):
        argv = [rel.prog("triggers"), "5", os.path.join(d, "ready")]
        p = rel.start(argv, preload=[rel.LIB], env_extra={"HEAPSCOPE_OUT": d + "/hs", "HEAPSCOPE_INTERVAL": "0.005"})
        time.sleep(0.05 + rnd.random() * 0.25)
        p.kill()
        p.communicate(timeout=30)
    names = rel.snaps_in(d)
    check(len(names) > 12, "too few snapshots written before the kills: %s" % os.listdir(d))
    for path, _, _ in names:
        rel.parse_snap(path)
    odd = [f for f in rel.leftovers(d, allowed=["ready"]) if not f.endswith(".hsnap.tmp")]
    check(not odd, "%s: unexpected files %s" % (d, odd))


def test_exit_in_handler():
    """exit() from a timer signal's handler that interrupted malloc/free, 40 times with varying
    delays, half of them with the loop in a second thread (glibc then holds an arena lock
    inside malloc/free): status 3 every time, never a hang (plain glibc manages it)."""
    argv0 = rel.prog("exit_in_handler")
    for i in range(40):
        argv = [argv0, str(20000 + i * 1000)] + (["thread"] if i % 2 else [])
        plain = rel.run(argv, timeout=10)
        check(plain.rc == 3, "exit_in_handler plain: status %s, expected 3" % plain.rc)
        d = rel.tmpdir("exithandler")
        r = rel.run(argv, preload=[rel.LIB], env_extra={"HEAPSCOPE_OUT": d + "/hs"}, timeout=10)
        check(r.rc == 3, "exit_in_handler run %d under heapscope: status %s, expected 3\n%s" % (i, r.rc, r.describe()))
        for path, _, _ in rel.snaps_in(d):
            rel.parse_snap(path)


def no_core():
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def test_exit_paths():
    want = {"exit": (3, True), "_exit": (4, False), "quick_exit": (5, True), "abort": (-signal.SIGABRT, False),
            "return": (0, True), "thread-exit": (6, True)}
    runs = [(m, {}) for m in want]
    # exit() while 4 threads allocate, with interval snapshots racing the exit snapshot and teardown
    want["exit-busy"] = (7, True)
    runs += [("exit-busy", {"HEAPSCOPE_INTERVAL": "0.01"})] * 8
    for mode, extra in runs:
        rc, has_exit = want[mode]
        argv = [rel.prog("exit_paths"), mode]
        plain = rel.run(argv, pre_fn=no_core)
        check(plain.rc == rc, "exit_paths %s plain: status %s, expected %s" % (mode, plain.rc, rc))
        d = rel.tmpdir("exit")
        env = {"HEAPSCOPE_OUT": d + "/hs"}
        env.update(extra)
        p = rel.start(argv, preload=[rel.LIB], env_extra=env)
        r = rel.finish(p, 30, " ".join(argv))
        rel.same_behaviour(plain, r, "exit_paths %s under heapscope" % mode)
        exitf = os.path.join(d, "hs.%d.exit.hsnap" % p.pid)
        if has_exit is True:
            check(os.path.exists(exitf), "exit_paths %s: no exit snapshot %s" % (mode, exitf))
            s = rel.parse_snap(exitf)
            check(s.totals["inuse_count"] >= 100, "%s: %d live blocks, the program held 100" % (exitf, s.totals["inuse_count"]))
            check(s.trigger == rel.TRIG_EXIT, "%s: trigger %d, expected exit" % (exitf, s.trigger))
        elif has_exit is False:
            check(not os.path.exists(exitf), "exit_paths %s: an exit snapshot %s was written" % (mode, exitf))
        elif os.path.exists(exitf):
            rel.parse_snap(exitf)
        # exit-busy races interval snapshots with the exit: its temp files are rel_exit_race's business
        odd = [f for f in rel.leftovers(d) if not (mode == "exit-busy" and f.endswith(".hsnap.tmp"))]
        check(not odd, "exit_paths %s: leftover files %s" % (mode, odd))
        for path, _, _ in rel.snaps_in(d):
            rel.parse_snap(path)


def test_secure():
    cc = os.environ.get("REL_CC", "cc")
    inc = os.environ["REL_INCLUDE"]
    src = os.path.join(os.environ["REL_SRC"], "secure_prog.c")
    # Run as nobody below: everything it loads (the program, libheapscope.so) sits in a
    # directory nobody can reach, wherever the clone and $TMPDIR are.
    d = rel.tmpdir_for_others("secure")
    rel.copy_for_others(rel.LIB, d)
    exe = os.path.join(d, "secure_prog")
    p = subprocess.run([cc, "-O1", "-o", exe, src, "-I", inc, "-L", d, "-lheapscope", "-Wl,-rpath," + d],
                       capture_output=True, text=True, timeout=60)
    check(p.returncode == 0, "compiling %s: %s" % (src, p.stderr))
    out = os.path.join(d, "out")
    cwd = os.path.join(d, "cwd")
    for x in (out, cwd):
        os.mkdir(x)
        os.chmod(x, 0o777)
    env = {"HEAPSCOPE_OUT": out + "/hs", "HEAPSCOPE_INTERVAL": "0.02", "HEAPSCOPE_STATS": "0.02",
           "HEAPSCOPE_AT_EXIT": "1", "HEAPSCOPE_ALERT": "1"}
    # Control: not setuid, run as root: the variables are read and files appear.
    ctl = rel.run([exe], env_extra=env, cwd=cwd, timeout=30)
    check(ctl.rc == 0 and ctl.out.startswith(b"at_secure=0\n"), "control run\n" + ctl.describe())
    check(os.listdir(out), "control run (not secure) wrote no snapshot in %s: the test would prove nothing" % out)
    for f in os.listdir(out):
        os.unlink(os.path.join(out, f))
    for f in os.listdir(cwd):
        os.unlink(os.path.join(cwd, f))
    os.chown(exe, 0, 0)
    for bits, kind in ((0o4755, "setuid"), (0o2755, "setgid")):
        os.chmod(exe, bits)
        r = rel.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", exe], env_extra=env, cwd=cwd,
                    timeout=30)
        check(r.rc == 0, "%s program as nobody\n%s" % (kind, r.describe()))
        check(r.out == b"at_secure=1\napi_snapshot=-1\ndone\n",
              "%s program as nobody printed %r, expected AT_SECURE=1 and a refused API snapshot" % (kind, r.out))
        check(os.listdir(out) == [], "%s: heapscope wrote %s into HEAPSCOPE_OUT's directory" % (kind, os.listdir(out)))
        check(os.listdir(cwd) == [], "%s: heapscope wrote %s into the working directory" % (kind, os.listdir(cwd)))
        check(len(r.hs_lines()) <= 1, "%s: heapscope printed %d lines (HEAPSCOPE_STATS was read?)\n%s" % (
            kind, len(r.hs_lines()), r.describe()))


def test_secure_private_tmp():
    """The secure test again with $TMPDIR inside a mode-0700 directory, as for a clone under /root
    on a fresh machine: the unprivileged run must still find what it loads."""
    private = rel.tmpdir("private")
    os.chmod(private, 0o700)
    check(not rel.searchable_by_others(private), "%s (0700) counted as reachable by others" % private)
    os.environ["TMPDIR"] = private
    tempfile.tempdir = None
    test_secure()


if __name__ == "__main__":
    rel.main({"alloc_fail": test_alloc_fail, "ulimit": test_ulimit, "disk_full": test_disk_full,
              "unwritable": test_unwritable, "planted": test_planted, "modes": test_modes,
              "triggers": test_triggers, "kill9": test_kill9, "exit_race": test_exit_race, "exit_paths": test_exit_paths, "exit_in_handler": test_exit_in_handler, "secure": test_secure,
              "secure_private_tmp": test_secure_private_tmp}[sys.argv[1]])
