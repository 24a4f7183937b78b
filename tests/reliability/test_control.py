#!/usr/bin/env python3
"""test_control.py -- the control channel: `heapscope snapshot PID` over the Unix socket
@heapscope/PID that heapscope's helper thread serves (profiler/src/channel.cpp,
tools/lib/control/), whatever the program did to the snapshot signal.

  taken MODE:  (handler | block | ignore) a program that installs its own SIGUSR2 handler,
               blocks it, or ignores it, under HEAPSCOPE_THREAD=always: two snapshots with the
               exact figures of its 12 live blocks of 5151 bytes; its own handler never runs.
  nobody:      the same client run as uid nobody is refused by the server (the process is root's).
  squatter:    a process of ours binding @heapscope/<pid of another process> is refused by the
               client, which sends it nothing (a plain process: not profiled; a threadless
               profiled one: the signal answers; one with a helper thread whose name was
               taken before it started says so once, and serves its name once it is free).
  silent:      clients that connect and send nothing (all four slots, a fifth is told busy) do
               not stop interval snapshots; they are answered `err timeout` and closed.
  bad_input:   wrong lines get a clear `err` line each.
  threadless:  no helper thread (HEAPSCOPE_THREAD=auto, one thread): no channel, the signal
               answers, the process stays single-threaded.
  fork:        a fork child serves its own pid's name and never holds the parent's socket.
  closed_fds:  a program that closes every descriptor and reuses the numbers: the channel comes
               back on a new socket and answers; the program's files are untouched.
  fd_race:     the program's descriptor reuse lands inside heapscope's own calls, right after
               it moved a new pipe end or socket up to 900+ (fd_race.c's fcntl): heapscope
               sees the number is not its own, makes another, never reads or closes the
               program's file, and both snapshots after it carry the exact live blocks.
  attach:      a program with its own SIGUSR2 handler, attached (the attach leaves the signal
               alone): the channel opens with the attach, answers, and closes with the detach.
"""
import os
import shutil
import socket
import subprocess
import sys
import threading
import time

import rel
from rel import check

BLOCK, COUNT = 5151, 12


def need_tool():
    check(rel.TOOL and os.path.exists(rel.TOOL), "the heapscope command is not built (REL_TOOL=%r)" % rel.TOOL)


class Prog:
    """sig_taken MODE under heapscope, stdin a pipe (closing it ends the program)."""

    def __init__(self, mode, env_extra, tag=None, preload=True, program="sig_taken"):
        self.mode = mode
        self.out = rel.tmpdir("ctl-" + (tag or mode))
        self.ready = os.path.join(self.out, "ready")
        env = dict(os.environ)
        for k in list(env):
            if k.startswith("HEAPSCOPE_") or k == "LD_PRELOAD":
                del env[k]
        env.update({"LD_PRELOAD": rel.LIB, "HEAPSCOPE_OUT": self.out + "/hs"} if preload else {})
        env.update(env_extra)
        self.argv = [rel.prog(program), mode, self.ready]
        self.p = subprocess.Popen(self.argv, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
        self.pid = self.p.pid
        for _ in range(2000):  # bounded: at most ~20 s
            if os.path.exists(self.ready) or self.p.poll() is not None:
                break
            time.sleep(0.01)
        check(os.path.exists(self.ready), "sig_taken %s never became ready (exit %s)" % (mode, self.p.poll()))

    def finish(self):
        try:
            out, err = self.p.communicate(input=b"", timeout=30)
        except subprocess.TimeoutExpired:
            self.p.kill()
            out, err = self.p.communicate()
            raise Fail("sig_taken %s did not end within 30 s after stdin closed\n%s" % (self.mode, err.decode()))
        return rel.Result(self.argv, self.p.returncode, out, err)

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.communicate()


Fail = rel.Fail


def tool(args, timeout=60, pre=None):
    argv = (pre or []) + [rel.TOOL] + args
    return rel.run(argv, timeout=timeout)


def snapshot(pid, tool_timeout=30, pre=None):
    return tool(["snapshot", "--timeout", str(tool_timeout), str(pid)], pre=pre)


def live_blocks(snap, size):
    """(bytes, count) live at sites whose blocks are all `size` bytes."""
    b = c = 0
    for s in snap.sites:
        if s["inuse_count"] and s["inuse_bytes"] == size * s["inuse_count"]:
            b += s["inuse_bytes"]
            c += s["inuse_count"]
    return b, c


def channel_inodes(pid):
    """Socket inodes bound to @heapscope/PID (from /proc/net/unix)."""
    found = set()
    with open("/proc/net/unix") as f:
        next(f)
        for line in f:
            parts = line.split()
            if len(parts) >= 8 and parts[7] == "@heapscope/%d" % pid:
                found.add(int(parts[6]))
    return found


def fd_socket_inodes(pid):
    found = set()
    d = "/proc/%d/fd" % pid
    for fd in os.listdir(d):
        try:
            t = os.readlink(os.path.join(d, fd))
        except OSError:
            continue
        if t.startswith("socket:["):
            found.add(int(t[8:-1]))
    return found


def tasks(pid):
    return len(os.listdir("/proc/%d/task" % pid))


def expect_output(res, want):
    """sig_taken ended well and printed exactly `want`."""
    check(res.rc == 0, res.describe())
    check(res.out.decode() == want, "%s printed %r, expected %r\n%s" % (" ".join(res.argv), res.out.decode(), want,
                                                                      res.describe()))


def expect_snapshot(r, prog, seq, what):
    check(r.rc == 0, "%s: heapscope snapshot failed\n%s" % (what, r.describe()))
    path = r.out.decode().strip()
    want = "%s/hs.%d.%04d.hsnap" % (prog.out, prog.pid, seq)
    check(path == want, "%s: heapscope snapshot printed %r, expected %r" % (what, path, want))
    s = rel.parse_snap(path)
    check(s.pid == prog.pid, "%s: %s has pid %d, expected %d" % (what, path, s.pid, prog.pid))
    check(s.trigger == rel.TRIG_SIGNAL, "%s: %s trigger %d, expected %d (a request)" % (what, path, s.trigger,
                                                                                          rel.TRIG_SIGNAL))
    return s


def test_taken(mode):
    need_tool()
    prog = Prog(mode, {"HEAPSCOPE_THREAD": "always"})
    try:
        for seq in (1, 2):
            r = snapshot(prog.pid)
            s = expect_snapshot(r, prog, seq, "sig_taken %s, request %d" % (mode, seq))
            got = live_blocks(s, BLOCK)
            check(got == (BLOCK * COUNT, COUNT), "sig_taken %s: snapshot %d holds %r live bytes/blocks of %d "
                  "bytes, expected %r" % (mode, seq, got, BLOCK, (BLOCK * COUNT, COUNT)))
            check(r.err == b"", "sig_taken %s: heapscope snapshot said %r on stderr" % (mode, r.err))
        check(channel_inodes(prog.pid), "sig_taken %s: nothing listens on @heapscope/%d" % (mode, prog.pid))
        res = prog.finish()
    finally:
        prog.kill()
    # The channel sends no signal: the program's own handler never ran, nothing is pending.
    expect_output(res, "mode %s handler_calls=0 pending=0\n" % mode)
    if mode == "handler":
        said = [l for l in res.hs_lines() if "replaced heapscope's handler" in l]
        check(len(said) == 1, "heapscope should say once that the program replaced its handler\n%s" %
              res.describe())


def test_nobody():
    need_tool()
    check(os.geteuid() == 0, "this test runs as root (it runs the client as nobody)")
    prog = Prog("handler", {"HEAPSCOPE_THREAD": "always"}, tag="nobody")
    try:
        # What nobody must read: the tool (the build tree may sit under a 0700 /root).
        d = rel.tmpdir("ctl-nobody-tool")
        os.chmod(d, 0o755)
        exe = os.path.join(d, "heapscope")
        shutil.copy(rel.TOOL, exe)
        os.chmod(exe, 0o755)
        before = sorted(os.listdir(prog.out))
        r = rel.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", exe, "snapshot",
                     "--timeout", "30", str(prog.pid)], timeout=60, cwd=d)
        msg = r.err.decode()
        check(r.rc != 0, "heapscope snapshot as nobody of root's process %d succeeded\n%s" % (prog.pid, r.describe()))
        want = ("heapscope: process %d refused the snapshot (control channel @heapscope/%d): permission denied: "
                "uid 65534 is neither the owner of process %d (uid 0) nor root\n" % (prog.pid, prog.pid, prog.pid))
        check(msg == want, "heapscope snapshot as nobody said %r, expected %r" % (msg, want))
        check(sorted(os.listdir(prog.out)) == before, "a snapshot was written for nobody: %r" % os.listdir(prog.out))
        # The owner is still served.
        expect_snapshot(snapshot(prog.pid), prog, 1, "root after nobody")
        res = prog.finish()
    finally:
        prog.kill()
    check(res.rc == 0, res.describe())


class Squatter:
    """Binds @heapscope/PID in this test process and records what any client sends it."""

    def __init__(self, pid):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.bind("\0heapscope/%d" % pid)
        self.s.listen(4)
        self.s.settimeout(0.2)
        self.connections, self.received = 0, b""
        self.stop = False
        self.t = threading.Thread(target=self.serve, daemon=True)
        self.t.start()

    def serve(self):
        for _ in range(3000):  # bounded: the test ends long before
            if self.stop:
                return
            try:
                c, _ = self.s.accept()
            except socket.timeout:
                continue
            self.connections += 1
            c.settimeout(2)
            try:
                data = c.recv(1024)
                self.received += data
                if data:
                    c.sendall(b"ok /tmp/squatted.hsnap\n")
            except socket.timeout:
                pass
            c.close()

    def close(self):
        self.stop = True
        self.t.join(5)
        self.s.close()


def test_squatter():
    need_tool()
    # A process that is not profiled.
    plain = subprocess.Popen(["sleep", "60"])
    sq = Squatter(plain.pid)
    try:
        r = snapshot(plain.pid, tool_timeout=5)
        msg = r.err.decode()
        check(r.rc != 0, "heapscope snapshot of a squatted, unprofiled process succeeded\n%s" % r.describe())
        check(("@heapscope/%d is served by process %d" % (plain.pid, os.getpid())) in msg and "not trusted" in msg,
              "heapscope snapshot did not refuse the squatter (pid %d) by name: %r" % (os.getpid(), msg))
        check("not profiled" in msg, "heapscope snapshot of sleep should end in 'not profiled': %r" % msg)
    finally:
        for _ in range(500):  # bounded: the squatter's accept may lag the client's exit
            if sq.connections:
                break
            time.sleep(0.01)
        sq.close()
        plain.kill()
        plain.wait()
    check(sq.received == b"", "the client sent the squatter %r" % sq.received)
    check(sq.connections == 1, "the client connected %d times to the squatter, expected 1" % sq.connections)
    # A profiled process without a helper thread: its name is free, squatted, and the signal answers.
    prog = Prog("plain", {"HEAPSCOPE_THREAD": "auto"}, tag="squatted")
    sq = Squatter(prog.pid)
    try:
        r = snapshot(prog.pid)
        msg = r.err.decode()
        check(("warning: process %d: control channel: @heapscope/%d is served by process %d" %
               (prog.pid, prog.pid, os.getpid())) in msg and "trying the signal" in msg,
              "heapscope snapshot did not warn about the squatter: %r" % msg)
        s = expect_snapshot(rel.Result(r.argv, r.rc, r.out, b""), prog, 1, "squatted threadless process")
        check(live_blocks(s, BLOCK) == (BLOCK * COUNT, COUNT), "squatted: %r" % (live_blocks(s, BLOCK),))
        res = prog.finish()
    finally:
        sq.close()
        prog.kill()
    check(sq.received == b"", "the client sent the squatter %r" % sq.received)
    check(res.rc == 0, res.describe())
    squatted_before_start()


def squatted_before_start():
    """sig_taken handler (HEAPSCOPE_THREAD=always) whose name is taken before it starts."""
    out = rel.tmpdir("ctl-squat-early")
    ready = os.path.join(out, "ready")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEAPSCOPE_") and k != "LD_PRELOAD"}
    env.update({"LD_PRELOAD": rel.LIB, "HEAPSCOPE_OUT": out + "/hs", "HEAPSCOPE_THREAD": "always"})
    go_r, go_w = os.pipe()
    in_r, in_w = os.pipe()
    argv = [rel.prog("sig_taken"), "handler", ready]
    pid = os.fork()
    if pid == 0:  # waits for the squatter, then becomes sig_taken
        try:
            os.close(go_w)
            os.close(in_w)
            os.read(go_r, 1)
            os.dup2(in_r, 0)
            fd = os.open(os.path.join(out, "stderr"), os.O_WRONLY | os.O_CREAT, 0o600)
            os.dup2(fd, 2)
            fd = os.open(os.path.join(out, "stdout"), os.O_WRONLY | os.O_CREAT, 0o600)
            os.dup2(fd, 1)
            os.execve(argv[0], argv, env)
        finally:
            os._exit(127)
    os.close(go_r)
    os.close(in_r)
    sq = None
    try:
        sq = Squatter(pid)
        os.write(go_w, b"x")
        for _ in range(2000):  # bounded: ~20 s
            if os.path.exists(ready):
                break
            time.sleep(0.01)
        check(os.path.exists(ready), "sig_taken (squatted before start) never became ready")
        r = snapshot(pid, tool_timeout=2)
        msg = r.err.decode()
        check(r.rc != 0, "squatted process with its own handler: heapscope snapshot claimed %r" % r.out)
        check(("control channel: @heapscope/%d is served by process %d" % (pid, os.getpid())) in msg,
              "heapscope snapshot's failure does not name the squatter: %r" % msg)
        sq.close()
        sq = None
        # The process binds its name at its next check (every second).
        for _ in range(2000):  # bounded: ~20 s
            if channel_inodes(pid):
                break
            time.sleep(0.01)
        check(channel_inodes(pid), "the process never served @heapscope/%d after the squatter left" % pid)
        r = snapshot(pid)
        check(r.rc == 0, "heapscope snapshot once the name was free\n%s" % r.describe())
        s = rel.parse_snap(r.out.decode().strip())
        check(live_blocks(s, BLOCK) == (BLOCK * COUNT, COUNT), "squatted early: %r" % (live_blocks(s, BLOCK),))
    finally:
        if sq:
            sq.close()
        os.close(in_w)  # sig_taken ends
        _, status = os.waitpid(pid, 0)
        os.close(go_w)
    check(os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, "sig_taken exited with status %#x" % status)
    with open(os.path.join(out, "stderr")) as f:
        err = f.read()
    taken = err.count("the control channel name @heapscope/%d is taken by another process" % pid)
    served = err.count("the control channel @heapscope/%d is served now" % pid)
    check(taken == 1 and served == 1, "sig_taken's stderr should say once that its name is taken and once that it "
          "is served now; it said %d and %d times:\n%s" % (taken, served, err))
    with open(os.path.join(out, "stdout")) as f:
        got = f.read()
    check(got == "mode handler handler_calls=1 pending=0\n", "sig_taken printed %r (the fallback signal reached "
          "its own handler once)" % got)


def connect(pid):
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.connect("\0heapscope/%d" % pid)
    return c


def interval_count(prog):
    return len([1 for _, pid, seq in rel.snaps_in(prog.out) if pid == prog.pid and seq != "exit"])


def test_silent():
    need_tool()
    prog = Prog("plain", {"HEAPSCOPE_THREAD": "always", "HEAPSCOPE_INTERVAL": "0.1"}, tag="silent")
    silent = []
    try:
        silent = [connect(prog.pid) for _ in range(4)]  # every slot
        busy = connect(prog.pid)
        busy.settimeout(30)
        got = busy.recv(200)
        check(got == b"err busy: 4 requests in progress; try again\n", "a fifth connection got %r" % got)
        busy.close()
        start = interval_count(prog)
        for _ in range(3000):  # bounded: at most ~30 s
            if interval_count(prog) >= start + 3:
                break
            time.sleep(0.01)
        check(interval_count(prog) >= start + 3, "interval snapshots stopped while 4 clients sent nothing: "
              "%d then %d" % (start, interval_count(prog)))
        for c in silent:  # still connected, still unanswered: the snapshots came meanwhile
            c.setblocking(False)
            try:
                data = c.recv(200)
                raise Fail("a silent client was answered %r before 3 interval snapshots were written" % data)
            except BlockingIOError:
                pass
        for c in silent:
            c.settimeout(30)
            got = c.recv(200)
            check(got == b"err timeout: no request line within 5000 ms\n", "a silent client got %r" % got)
            check(c.recv(200) == b"", "the server did not close a silent client's connection")
        r = snapshot(prog.pid)
        check(r.rc == 0, "heapscope snapshot after silent clients\n%s" % r.describe())
        res = prog.finish()
    finally:
        for c in silent:
            c.close()
        prog.kill()
    check(res.rc == 0, res.describe())


def ask(pid, data):
    c = connect(pid)
    c.settimeout(30)
    c.sendall(data)
    got = b""
    for _ in range(100):  # bounded: until the server closes
        try:
            part = c.recv(4096)
        except ConnectionResetError:  # it closed with our extra bytes unread (a line too long)
            break
        if not part:
            break
        got += part
    c.close()
    return got


def test_bad_input():
    need_tool()
    prog = Prog("plain", {"HEAPSCOPE_THREAD": "always"}, tag="bad-input")
    try:
        cases = [
            (b"GET / HTTP/1.0\r\n", b"err not a heapscope request 'GET / HTTP/1.0' (expected 'HEAPSCOPE/1 COMMAND')\n"),
            (b"HEAPSCOPE/2 snapshot\n", b"err unsupported protocol 'HEAPSCOPE/2' (this process speaks HEAPSCOPE/1)\n"),
            (b"HEAPSCOPE/1 frobnicate\n", b"err unknown command 'frobnicate' (expected: snapshot or snapshot-fd)\n"),
            (b"HEAPSCOPE/1 snapshot now\n", b"err unknown command 'snapshot now' (expected: snapshot or snapshot-fd)\n"),
            (b"HEAPSCOPE/1 \x01\xff\n", b"err unknown command '??' (expected: snapshot or snapshot-fd)\n"),
            (b"\n", b"err not a heapscope request '' (expected 'HEAPSCOPE/1 COMMAND')\n"),
            (b"x" * 300, b"err request line longer than 255 bytes\n"),
        ]
        for sent, want in cases:
            got = ask(prog.pid, sent)
            check(got == want, "request %r: answered %r, expected %r" % (sent[:40], got, want))
        check(rel.snaps_in(prog.out) == [], "a bad request wrote a snapshot: %r" % rel.snaps_in(prog.out))
        got = ask(prog.pid, b"HEAPSCOPE/1 snapshot\n")
        want = ("ok %s/hs.%d.0001.hsnap\n" % (prog.out, prog.pid)).encode()
        check(got == want, "a good request after bad ones: %r, expected %r" % (got, want))
        res = prog.finish()
    finally:
        prog.kill()
    check(res.rc == 0, res.describe())


def test_threadless():
    need_tool()
    prog = Prog("plain", {"HEAPSCOPE_THREAD": "auto"}, tag="threadless")
    try:
        check(tasks(prog.pid) == 1, "the threadless program has %d tasks" % tasks(prog.pid))
        check(not channel_inodes(prog.pid), "a program without a helper thread serves @heapscope/%d" % prog.pid)
        for seq in (1, 2):
            s = expect_snapshot(snapshot(prog.pid), prog, seq, "threadless, request %d" % seq)
            check(live_blocks(s, BLOCK) == (BLOCK * COUNT, COUNT), "threadless: %r" % (live_blocks(s, BLOCK),))
        check(tasks(prog.pid) == 1, "the threadless program gained a thread: %d tasks" % tasks(prog.pid))
        res = prog.finish()
    finally:
        prog.kill()
    expect_output(res, "mode plain handler_calls=0 pending=0\n")


def test_fork():
    need_tool()
    prog = Prog("fork", {"HEAPSCOPE_THREAD": "always"})
    try:
        child_file = prog.ready + ".child"
        for _ in range(2000):  # bounded: ~20 s
            if os.path.exists(child_file) and open(child_file).read().endswith("\n"):
                break
            time.sleep(0.01)
        child = int(open(child_file).read())
        parent_name = channel_inodes(prog.pid)
        check(parent_name, "the parent does not serve @heapscope/%d" % prog.pid)
        for _ in range(2000):  # the child's helper binds its name when it starts
            if channel_inodes(child):
                break
            time.sleep(0.01)
        check(channel_inodes(child), "the fork child %d does not serve @heapscope/%d" % (child, child))
        check(not (fd_socket_inodes(child) & parent_name),
              "the fork child %d holds the parent's socket @heapscope/%d" % (child, prog.pid))
        r = snapshot(child)
        check(r.rc == 0 and r.err == b"", "heapscope snapshot of the fork child\n%s" % r.describe())
        path = r.out.decode().strip()
        check(path == "%s/hs.%d.0001.hsnap" % (prog.out, child), "the child's snapshot is %r" % path)
        s = rel.parse_snap(path)
        check(s.pid == child, "%s: pid %d, expected the child's %d" % (path, s.pid, child))
        check(live_blocks(s, 7373) == (3 * 7373, 3), "child: blocks of 7373: %r" % (live_blocks(s, 7373),))
        check(live_blocks(s, BLOCK) == (BLOCK * COUNT, COUNT), "child: blocks of 5151: %r" % (live_blocks(s, BLOCK),))
        s = expect_snapshot(snapshot(prog.pid), prog, 1, "the fork parent")
        check(live_blocks(s, 7373) == (0, 0), "parent: blocks of 7373: %r" % (live_blocks(s, 7373),))
        check(live_blocks(s, BLOCK) == (BLOCK * COUNT, COUNT), "parent: %r" % (live_blocks(s, BLOCK),))
        res = prog.finish()
    finally:
        prog.kill()
    check(res.rc == 0, res.describe())
    check(sorted(res.out.decode().splitlines()) == ["child blocks=3", "mode fork handler_calls=0 pending=0"],
          res.describe())


def wait_for(cond, what):
    for _ in range(2000):  # bounded: ~20 s
        if cond():
            return
        time.sleep(0.01)
    raise Fail(what)


def test_closed_fds():
    need_tool()
    prog = Prog("closefds", {"HEAPSCOPE_THREAD": "always"})
    try:
        wait_for(lambda: channel_inodes(prog.pid), "nothing listens on @heapscope/%d" % prog.pid)
        before = channel_inodes(prog.pid)
        prog.p.stdin.write(b"c")
        prog.p.stdin.flush()
        wait_for(lambda: os.path.exists(prog.ready + ".closed") or prog.p.poll() is not None,
                 "sig_taken closefds never closed its descriptors")
        if not os.path.exists(prog.ready + ".closed"):
            _, err = prog.p.communicate(timeout=30)
            raise Fail("sig_taken closefds exited %s before it reused its descriptors: %s" % (
                prog.p.returncode, err.decode("utf-8", "replace")[-2000:]))
        wait_for(lambda: channel_inodes(prog.pid) - before,
                 "no new socket on @heapscope/%d after the program closed every descriptor" % prog.pid)
        for seq in (1, 2):
            s = expect_snapshot(snapshot(prog.pid), prog, seq, "after closing every descriptor, request %d" % seq)
            check(live_blocks(s, BLOCK) == (BLOCK * COUNT, COUNT), "closefds: %r" % (live_blocks(s, BLOCK),))
        res = prog.finish()
    finally:
        prog.kill()
    expect_output(res, "mode closefds handler_calls=0 pending=0 fds_intact=997\n")


def test_fd_race():
    need_tool()
    prog = Prog("race", {"HEAPSCOPE_THREAD": "always"}, tag="fd_race", program="fd_race")
    try:
        wait_for(lambda: channel_inodes(prog.pid), "nothing listens on @heapscope/%d" % prog.pid)
        seq = 0
        for what in (b"p", b"s"):
            before = channel_inodes(prog.pid)
            prog.p.stdin.write(what)
            prog.p.stdin.flush()
            done = prog.ready + "." + what.decode()
            wait_for(lambda: os.path.exists(done) or prog.p.poll() is not None,
                     "fd_race never took heapscope's new descriptor after '%s'" % what.decode())
            if not os.path.exists(done):
                _, err = prog.p.communicate(timeout=30)
                raise Fail("fd_race exited %s after '%s': %s" % (prog.p.returncode, what.decode(),
                                                                 err.decode("utf-8", "replace")[-2000:]))
            if what == b"s":
                wait_for(lambda: channel_inodes(prog.pid) - before,
                         "no new socket on @heapscope/%d after its new one was taken" % prog.pid)
            for _ in (1, 2):
                seq += 1
                s = expect_snapshot(snapshot(prog.pid, tool_timeout=10), prog, seq,
                                    "after '%s', request %d" % (what.decode(), seq))
                check(live_blocks(s, BLOCK) == (BLOCK * COUNT, COUNT), "fd_race: %r" % (live_blocks(s, BLOCK),))
        res = prog.finish()
    finally:
        prog.kill()
    expect_output(res, "taken=2 intact=2\n")


def test_attach():
    need_tool()
    prog = Prog("handler", {}, tag="attach", preload=False)
    try:
        r = tool(["attach", str(prog.pid), "--out", prog.out + "/hs"])
        check(r.rc == 0, "heapscope attach\n%s" % r.describe())
        check(b"no signal (the program uses it)" in r.err, "the attach took the program's signal?\n%s" % r.describe())
        wait_for(lambda: channel_inodes(prog.pid), "no @heapscope/%d after the attach" % prog.pid)
        s = expect_snapshot(snapshot(prog.pid), prog, 1, "attached, own SIGUSR2 handler")
        # Blocks from before the attach are not in the books; nothing was allocated since.
        check(live_blocks(s, BLOCK) == (0, 0), "attached: blocks of %d: %r" % (BLOCK, live_blocks(s, BLOCK)))
        r = tool(["detach", str(prog.pid)])
        check(r.rc == 0, "heapscope detach\n%s" % r.describe())
        wait_for(lambda: not channel_inodes(prog.pid), "@heapscope/%d still served after the detach" % prog.pid)
        res = prog.finish()
    finally:
        prog.kill()
    expect_output(res, "mode handler handler_calls=0 pending=0\n")


if __name__ == "__main__":
    rel.main({"handler": lambda: test_taken("handler"), "block": lambda: test_taken("block"),
              "ignore": lambda: test_taken("ignore"), "nobody": test_nobody, "squatter": test_squatter,
              "silent": test_silent, "bad_input": test_bad_input, "threadless": test_threadless,
              "fork": test_fork, "closed_fds": test_closed_fds, "fd_race": test_fd_race,
              "attach": test_attach}[sys.argv[1]])
