"""rel.py -- shared helpers for the reliability tests (tests/reliability/test_*.py).

Owns: the .hsnap parser used by these tests (independent of the tool's reader;
written from profiler/format/hsnap_format.h), running a program plain and
preloaded with a timeout, and the countshim output parser.
Safety: test-only code; every subprocess gets a timeout, every failure raises
Fail with the file, the value and what was expected.

Paths come from the environment set by tests/reliability/CMakeLists.txt:
  REL_LIB       libheapscope.so          REL_PROGS   dir of the test programs
  REL_SHIM      countshim.so             REL_TOOL    the heapscope command
  REL_JEMALLOC  libjemalloc.so.2         REL_CC      C compiler (secure test)
"""
import glob
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile

LIB = os.environ.get("REL_LIB", "")
SHIM = os.environ.get("REL_SHIM", "")
PROGS = os.environ.get("REL_PROGS", "")
TOOL = os.environ.get("REL_TOOL", "")
JEMALLOC = os.environ.get("REL_JEMALLOC", "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2")

MAGIC = b"HSNAP\r\n\x1a"
SEC_META, SEC_TOTALS, SEC_STATS, SEC_MODULES, SEC_STACKS, SEC_SITES, SEC_END = 1, 2, 3, 4, 5, 6, 0x7FFFFFFF
SEC_CHAIN, SEC_FRAMES, SEC_STACKS2, SEC_SITES2 = 7, 8, 9, 10  # format version 2
MOD_MAIN, MOD_UNLOADED, MOD_VDSO = 1, 2, 4
TRIG_SIGNAL, TRIG_INTERVAL, TRIG_API, TRIG_EXIT, TRIG_ALERT = 1, 2, 3, 4, 5


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def prog(name):
    p = os.path.join(PROGS, name)
    check(os.path.exists(p), "test program %s does not exist (REL_PROGS=%s)" % (p, PROGS))
    return p


_tmpdirs = []


def tmpdir(tag):
    """A fresh directory under $TMPDIR; removed when the test passes, kept for a look when it fails."""
    d = tempfile.mkdtemp(prefix="hsrel-%s-" % tag)
    _tmpdirs.append(d)
    return d


def searchable_by_others(path):
    """True when every directory from / down to path lets other users through (o+x)."""
    path = os.path.realpath(path)
    while True:
        if not os.stat(path).st_mode & 0o001:
            return False
        parent = os.path.dirname(path)
        if parent == path:
            return True
        path = parent


def tmpdir_for_others(tag):
    """A fresh directory (mode 0755) that a process dropped to another user can reach: under
    $TMPDIR when every ancestor of it lets others through, else under /tmp or /var/tmp. A
    clone under /root (mode 0700) with TMPDIR inside it must not make a privilege-dropping test
    fail for want of a path. What the unprivileged process runs or loads is copied in here."""
    tried = []
    for base in (tempfile.gettempdir(), "/tmp", "/var/tmp"):
        if os.path.isdir(base) and searchable_by_others(base):
            d = tempfile.mkdtemp(prefix="hsrel-%s-" % tag, dir=base)
            os.chmod(d, 0o755)
            _tmpdirs.append(d)
            return d
        tried.append(base)
    raise Fail("no temporary directory another user can reach: tried %s (each needs o+x on every "
               "ancestor)" % ", ".join(tried))


def copy_for_others(path, d, mode=0o755):
    """Copies path into d (from tmpdir_for_others) with mode; returns the copy's path."""
    dst = os.path.join(d, os.path.basename(path))
    shutil.copy(path, dst)
    os.chmod(dst, mode)
    return dst


# ---------------------------------------------------------------- .hsnap parser
class Snap:
    pass


def pad8(n):
    return (n + 7) & ~7


def _varints(buf, path, what):
    """The LEB128 varints of buf, in order."""
    out, v, shift = [], 0, 0
    for b in buf:
        v |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            out.append(v)
            v, shift = 0, 0
        check(shift < 70, "%s: %s: varint too long" % (path, what))
    check(shift == 0, "%s: %s: stream ends inside a varint" % (path, what))
    return out


def _unzigzag(u):
    return (u >> 1) ^ -(u & 1)


def decode_v2(path, s, depth):
    """Version 2: rebuilds the frame tree, stacks and sites, following a chained
    file's predecessors in its directory; fills s.stacks (by stack number) and
    s.sites (in stack order) as version 1 does."""
    raw = getattr(s, "raw", {})
    for k, name in ((SEC_CHAIN, "CHAIN"), (SEC_FRAMES, "FRAMES"), (SEC_STACKS2, "STACKS2"), (SEC_SITES2, "SITES2")):
        check(k in raw, "%s: no %s section" % (path, name))
    (run_id, _start, base_seq, base_frames, frames, base_stacks, stacks, nsites, name_len) = struct.unpack_from(
        "<QQQIIIIII", raw[SEC_CHAIN], 0)
    s.run_id, s.base_seq = run_id, base_seq
    parent, pcs, keys, sites = [0], [0], [], {}
    if base_seq:
        check(depth < 256, "%s: chain too long" % path)
        name = raw[SEC_CHAIN][96:96 + name_len].decode()
        base = os.path.join(os.path.dirname(path), name)
        check(os.path.exists(base), "%s: its predecessor %s is missing" % (path, base))
        b = parse_snap(base, depth + 1)
        check(b.pid == s.pid and b.seq == base_seq and b.run_id == run_id,
              "%s: predecessor %s is not seq %d of this run" % (path, base, base_seq))
        parent, pcs, keys, sites = b.v2_state
        check(len(parent) - 1 == base_frames and len(keys) == base_stacks,
              "%s: predecessor %s does not hold the base this file names" % (path, base))
    last = {}
    for i in range(1, len(parent)):
        last[pcs[parent[i]]] = pcs[i]
    first, count, nbytes = struct.unpack_from("<IIQ", raw[SEC_FRAMES], 0)
    vals = _varints(raw[SEC_FRAMES][16:16 + nbytes], path, "FRAMES")
    i = 0
    for _ in range(count):
        head = vals[i]
        i += 1
        node = len(parent)
        par = node - (head >> 1)
        check(0 <= par < node, "%s: FRAMES: node %d parent %d" % (path, node, par))
        pc = last.get(pcs[par], pcs[par])
        if head & 1:
            pc = (pc + _unzigzag(vals[i])) & 0xFFFFFFFFFFFFFFFF
            i += 1
        last[pcs[par]] = pc
        parent.append(par)
        pcs.append(pc)
    check(i == len(vals) and len(parent) - 1 == frames, "%s: FRAMES count" % path)
    first, count, nbytes = struct.unpack_from("<IIQ", raw[SEC_STACKS2], 0)
    leaf = keys[-1] >> 2 if keys else 0
    for u in _varints(raw[SEC_STACKS2][16:16 + nbytes], path, "STACKS2"):
        leaf += _unzigzag(u >> 2)
        check(0 <= leaf < len(parent), "%s: STACKS2: leaf %d" % (path, leaf))
        keys.append(leaf << 2 | (u & 3))
    check(len(keys) == stacks, "%s: STACKS2 count" % path)
    first, count, nbytes = struct.unpack_from("<IIQ", raw[SEC_SITES2], 0)
    vals = _varints(raw[SEC_SITES2][16:16 + nbytes], path, "SITES2")
    nfig = 6 if s.mode == 1 else 4
    num, i = -1, 0
    sites = dict(sites)
    for _ in range(count):
        num += 1 + _unzigzag(vals[i])
        fig = vals[i + 1:i + 1 + nfig]
        i += 1 + nfig
        check(0 <= num < len(keys) and len(fig) == nfig, "%s: SITES2: site of stack %d" % (path, num))
        if not any(fig):
            check(num in sites, "%s: SITES2 removes a missing site" % path)
            del sites[num]
        else:
            sites[num] = fig
    check(i == len(vals) and len(sites) == nsites, "%s: SITES2 count" % path)
    s.v2_state = (parent, pcs, keys, sites)
    s.stacks = []
    for key in keys:
        st, n = [], key >> 2
        while n:
            st.append(pcs[n])
            n = parent[n]
        s.stacks.append(st)
    s.sites = [dict(stack=n, inuse_bytes=f[0], inuse_count=f[1], alloc_bytes=f[2], alloc_count=f[3])
               for n, f in sorted(sites.items())]


def parse_snap(path, depth=0):
    """Parses a complete .hsnap file; raises Fail naming path, offset and what is wrong."""
    with open(path, "rb") as f:
        data = f.read()
    size = len(data)

    def need(off, n, what):
        if off + n > size:
            raise Fail("%s: offset %d: %s needs %d bytes, file has %d" % (path, off, what, n, size))

    need(0, 64, "file header")
    check(data[:8] == MAGIC, "%s: offset 0: magic %r, expected %r" % (path, data[:8], MAGIC))
    version, header_size, pid, time_ns, uptime_ns, mode, trigger, period, seq = struct.unpack_from(
        "<IIQQQIIQQ", data, 8)
    check(version in (1, 2), "%s: offset 8: version %d, expected 1 or 2" % (path, version))
    check(header_size >= 64 and header_size % 8 == 0, "%s: header_size %d, expected >=64 and a multiple of 8" % (path, header_size))
    s = Snap()
    s.path, s.version, s.pid, s.time_ns, s.uptime_ns = path, version, pid, time_ns, uptime_ns
    s.mode, s.trigger, s.sample_period, s.seq = mode, trigger, period, seq
    s.meta, s.stats, s.totals, s.modules, s.stacks, s.sites = {}, {}, None, [], [], []
    off = header_size
    ended = False
    while off < size:
        need(off, 16, "section header")
        kind, flags, psize = struct.unpack_from("<IIQ", data, off)
        check(psize % 8 == 0, "%s: offset %d: section %d size %d not a multiple of 8" % (path, off, kind, psize))
        body = off + 16
        need(body, psize, "section %d payload" % kind)
        end = body + psize
        if kind == SEC_END:
            check(psize == 8, "%s: offset %d: END size %d, expected 8" % (path, off, psize))
            total = struct.unpack_from("<Q", data, body)[0]
            check(total == size, "%s: END says file size %d, actual %d (incomplete file)" % (path, total, size))
            check(end == size, "%s: offset %d: data after END" % (path, end))
            ended = True
            break
        if kind == SEC_META:
            p = body
            while p < end:
                kl, vl = struct.unpack_from("<II", data, p)
                p += 8
                k = data[p:p + kl].decode("utf-8", "replace")
                p += pad8(kl)
                v = data[p:p + vl]
                p += pad8(vl)
                s.meta[k] = v
            check(p == end, "%s: META overruns its section" % path)
        elif kind == SEC_TOTALS:
            check(psize >= 40, "%s: TOTALS size %d < 40" % (path, psize))
            ib, ic, ab, ac, fc = struct.unpack_from("<QQQQQ", data, body)
            s.totals = dict(inuse_bytes=ib, inuse_count=ic, alloc_bytes=ab, alloc_count=ac, free_count=fc)
        elif kind == SEC_STATS:
            p = body
            while p < end:
                val, nl, _ = struct.unpack_from("<QII", data, p)
                p += 16
                s.stats[data[p:p + nl].decode()] = val
                p += pad8(nl)
            check(p == end, "%s: STATS overruns its section" % path)
        elif kind == SEC_MODULES:
            (n,) = struct.unpack_from("<Q", data, body)
            p = body + 8
            for i in range(n):
                need(p, 24, "module %d" % i)
                bias, pl, bl, rc, mf = struct.unpack_from("<QIIII", data, p)
                p += 24
                ranges = []
                for _ in range(rc):
                    ranges.append(struct.unpack_from("<QQQQ", data, p))
                    p += 32
                mpath = data[p:p + pl].decode("utf-8", "replace")
                p += pad8(pl)
                bid = data[p:p + bl]
                p += pad8(bl)
                s.modules.append(dict(bias=bias, path=mpath, build_id=bid, ranges=ranges, flags=mf))
            check(p <= end, "%s: MODULES overruns its section" % path)
        elif kind == SEC_STACKS:
            (n,) = struct.unpack_from("<Q", data, body)
            p = body + 8
            for i in range(n):
                need(p, 8, "stack %d" % i)
                depth, sf = struct.unpack_from("<II", data, p)
                check(depth <= 512, "%s: stack %d depth %d > 512" % (path, i, depth))
                p += 8
                s.stacks.append(list(struct.unpack_from("<%dQ" % depth, data, p)))
                p += 8 * depth
            check(p <= end, "%s: STACKS overruns its section" % path)
        elif kind == SEC_SITES:
            (n,) = struct.unpack_from("<Q", data, body)
            p = body + 8
            for i in range(n):
                need(p, 56, "site %d" % i)
                st, _, ib, ic, ab, ac, sic, sac = struct.unpack_from("<IIQQQQQQ", data, p)
                p += 56
                s.sites.append(dict(stack=st, inuse_bytes=ib, inuse_count=ic, alloc_bytes=ab, alloc_count=ac))
            check(p <= end, "%s: SITES overruns its section" % path)
        elif kind in (SEC_CHAIN, SEC_FRAMES, SEC_STACKS2, SEC_SITES2):
            s.raw = getattr(s, "raw", {})
            s.raw[kind] = data[body:end]
        off = end
    check(ended, "%s: no END section (incomplete file, %d bytes)" % (path, size))
    if version >= 2:
        decode_v2(path, s, depth)
    check(s.totals is not None, "%s: no TOTALS section" % path)
    for i, site in enumerate(s.sites):
        check(site["stack"] < len(s.stacks) or not s.stacks,
              "%s: site %d refers to stack %d of %d" % (path, i, site["stack"], len(s.stacks)))
    return s


SNAP_NAME = re.compile(r"^(?P<prefix>.*)\.(?P<pid>\d+)\.(?P<seq>\d{4,}|exit)\.hsnap$")
# HEAPSCOPE_PEAK's file (on by default): not in the numbered series; leftovers() parses it.
PEAK_NAME = re.compile(r"^(?P<prefix>.*)\.(?P<pid>\d+)\.peak\.hsnap$")


def snaps_in(d):
    """All snapshot files in d as (path, pid, seq or 'exit'); fails on leftovers that are not snapshots."""
    out = []
    for f in sorted(os.listdir(d)):
        m = SNAP_NAME.match(f)
        if m:
            seq = m.group("seq")
            out.append((os.path.join(d, f), int(m.group("pid")), seq if seq == "exit" else int(seq)))
    return out


def leftovers(d, allowed=()):
    """Files in d that are neither complete-looking snapshots nor in allowed (temp files, partials).
    A peak file must parse whole (parse_snap fails naming what is wrong) and say its pid."""
    bad = []
    for f in os.listdir(d):
        if f in allowed or SNAP_NAME.match(f):
            continue
        m = PEAK_NAME.match(f)
        if m:
            s = parse_snap(os.path.join(d, f))
            check(s.pid == int(m.group("pid")), "%s/%s: header pid %d, file name says %s" % (d, f, s.pid, m.group("pid")))
            continue
        bad.append(f)
    return bad


def symbol_range(binary, name):
    """(start, size) of a symbol in an ELF file, from nm -S."""
    out = subprocess.run(["nm", "-S", "--defined-only", binary], capture_output=True, text=True, timeout=60).stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[3] == name:
            return int(parts[0], 16), int(parts[1], 16)
    raise Fail("%s: symbol %s not found by nm -S" % (binary, name))


def module_by_path(snap, suffix):
    for m in snap.modules:
        if m["path"].endswith(suffix):
            return m
    raise Fail("%s: no module ending in %s among %s" % (snap.path, suffix, [m["path"] for m in snap.modules]))


# ---------------------------------------------------------------- running
class Result:
    def __init__(self, argv, rc, out, err):
        self.argv, self.rc, self.out, self.err = argv, rc, out, err

    def describe(self):
        return "%s: exit %s\n--- stdout (tail)\n%s\n--- stderr (tail)\n%s" % (
            " ".join(self.argv), self.rc, self.out[-1500:].decode("utf-8", "replace"),
            self.err[-2500:].decode("utf-8", "replace"))

    def hs_lines(self):
        return [l for l in self.err.decode("utf-8", "replace").splitlines() if l.startswith("heapscope:")]


def run(argv, env_extra=None, preload=None, timeout=60, cwd=None, stdin=None, base_env=None, pre_fn=None):
    """Runs argv; preload is a list of libraries for LD_PRELOAD (None = leave unset).
    A timeout is a failure (a hang), reported with the command line."""
    env = dict(base_env if base_env is not None else os.environ)
    for k in list(env):
        if k.startswith("HEAPSCOPE_") or k == "LD_PRELOAD":
            del env[k]
    if preload:
        env["LD_PRELOAD"] = ":".join(preload)
    if env_extra:
        env.update(env_extra)
    try:
        p = subprocess.run(argv, env=env, capture_output=True, timeout=timeout, cwd=cwd,
                           stdin=stdin if stdin is not None else subprocess.DEVNULL, preexec_fn=pre_fn)
    except subprocess.TimeoutExpired as e:
        raise Fail("%s: did not finish within %ds (hang or deadlock) with LD_PRELOAD=%s env=%s\nstderr: %s" % (
            " ".join(argv), timeout, preload, env_extra, (e.stderr or b"")[-2000:].decode("utf-8", "replace")))
    return Result(argv, p.returncode, p.stdout, p.stderr)


def start(argv, env_extra=None, preload=None, cwd=None):
    env = dict(os.environ)
    for k in list(env):
        if k.startswith("HEAPSCOPE_") or k == "LD_PRELOAD":
            del env[k]
    if preload:
        env["LD_PRELOAD"] = ":".join(preload)
    if env_extra:
        env.update(env_extra)
    return subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd,
                            stdin=subprocess.DEVNULL)


def finish(p, timeout, argv_desc):
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        raise Fail("%s: did not finish within %ds (hang or deadlock)\nstderr: %s" % (
            argv_desc, timeout, err[-2000:].decode("utf-8", "replace")))
    return Result([argv_desc], p.returncode, out, err)


def same_behaviour(plain, other, what):
    check(plain.rc == other.rc, "%s: exit status %s, plain run %s\n%s" % (what, other.rc, plain.rc, other.describe()))
    if plain.out != other.out:
        a, b = plain.out.splitlines(), other.out.splitlines()
        for i in range(max(len(a), len(b))):
            la = a[i] if i < len(a) else b"<missing>"
            lb = b[i] if i < len(b) else b"<missing>"
            if la != lb:
                raise Fail("%s: stdout differs from the plain run at line %d: plain %r, here %r\n%s" % (
                    what, i + 1, la[:200], lb[:200], other.describe()))


# ---------------------------------------------------------------- countshim
def read_countshim(path):
    """countshim writes lines 'EVENT pid=P tag=T allocs=A alloc_bytes=B frees=F calls=C'."""
    rows = []
    with open(path) as f:
        for line in f:
            parts = line.split()
            if not parts:
                continue
            row = {"event": parts[0]}
            for kv in parts[1:]:
                k, _, v = kv.partition("=")
                row[k] = int(v) if v.lstrip("-").isdigit() else v
            rows.append(row)
    return rows


def main(fn):
    """Runs one test function; prints PASS or the failure and exits accordingly."""
    try:
        fn()
    except Fail as e:
        print("FAIL: %s" % e, file=sys.stderr)
        sys.exit(1)
    for d in _tmpdirs:
        subprocess.run(["rm", "-rf", "--one-file-system", d], capture_output=True)
    print("PASS")
