#!/usr/bin/env python3
"""test_real.py -- heapscope preloaded into programs nobody here wrote.

For each program: a plain run, a full-tracking run and a sampled run
(HEAPSCOPE_SAMPLE=524288) give identical stdout and exit status; the profiled
main process leaves a complete exit snapshot; every snapshot file parses.
Then LD_PRELOAD=countshim:libheapscope.so (full tracking): at the moment
heapscope publishes each process's exit snapshot (countshim sees the rename),
countshim's count is compared with the snapshot. countshim also sees what the
C library allocates on heapscope's own behalf, which heapscope rightly does
not record: ld.so's error strings for the optional symbols dlsym does not find
and, once heapscope starts its helper thread, that thread's TLS (fewer when
jemalloc provides some of those symbols; measured on /bin/true in the same test). And
heapscope counts allocations made before its constructor ran (other libraries'
constructors) as before_start_blocks, not in alloc_count. So, exactly:
  countshim allocs = alloc_count + before_start_blocks + internal,
  0 <= internal <= internal(/bin/true)
(internal is smaller when some of heapscope's own start-up allocations happened
before its constructor and so fall under before_start_blocks); bytes likewise,
internal bytes <= /bin/true's + 1 KiB (the thread's DTV grows 16 bytes per TLS
module); live blocks: 0 <= countshim live - inuse_count <= before-start blocks
+ internal (only blocks heapscope did not record can be live for countshim alone).

`symbolized`: `heapscope report --json` on the sqlite3 and python3 exit
snapshots names a function in every top site.
"""
import json
import os
import shutil
import subprocess
import sys

import rel
from rel import check

PY = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else shutil.which("python3")


def workloads(tmp):
    """name -> (argv, stdin bytes or None, cwd or None); generated inputs live in tmp."""
    with open(os.path.join(tmp, "lines.txt"), "w") as f:
        x = 12345
        for i in range(60000):
            x = (x * 1103515245 + 12345) % 2147483648
            f.write("%d line %d %s\n" % (x, i, "abc" * (x % 7)))
    sql = """
CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, v REAL);
WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 30000)
INSERT INTO t(name, v) SELECT printf('name-%d', i % 997), i * 0.5 FROM c;
CREATE INDEX t_name ON t(name);
SELECT count(*), count(DISTINCT name), sum(v) FROM t;
SELECT name, count(*) FROM t GROUP BY name ORDER BY name LIMIT 5;
"""
    repo = os.path.join(tmp, "repo")
    genv = dict(os.environ, GIT_AUTHOR_NAME="a", GIT_AUTHOR_EMAIL="a@x", GIT_COMMITTER_NAME="a",
                GIT_COMMITTER_EMAIL="a@x", GIT_AUTHOR_DATE="2020-01-01T00:00:00Z",
                GIT_COMMITTER_DATE="2020-01-01T00:00:00Z", HOME=tmp)
    subprocess.run(["git", "init", "-q", repo], check=True, env=genv, timeout=30)
    for i in range(5):
        with open(os.path.join(repo, "f%d.txt" % i), "w") as f:
            f.write("content %d\n" % i * (i + 1))
        subprocess.run(["git", "-C", repo, "add", "."], check=True, env=genv, timeout=30)
        subprocess.run(["git", "-C", repo, "commit", "-q", "-m", "commit %d" % i], check=True, env=genv, timeout=30)
    return {
        "sqlite3": (["sqlite3", ":memory:"], sql.encode(), None),
        "python3": ([PY, "-S", "-c", "d={i: str(i)*3 for i in range(200000)}; l=[list(range(i % 50)) for i in range(40000)];"
                     "s=sorted(d.values(), key=len); print(len(d), sum(map(len, l)), s[0], s[-1])"], None, None),
        "perl": (["perl", "-e", 'my %h; $h{$_} = "x" x ($_ % 100) for 1..150000; my @a = map { [$_, $_*2] } 1..100000;'
                  ' print scalar(keys %h), " ", scalar(@a), "\\n"'], None, None),
        "sort": (["sort", "-n", os.path.join(tmp, "lines.txt")], None, None),
        "xz": (["xz", "-c", "-6", "-T1", os.path.join(tmp, "lines.txt")], None, None),
        "git": (["git", "--no-pager", "-C", repo, "log", "--stat", "--format=%H %s"], None, None),
        "cmake": (["cmake", "--version"], None, None),
        "bash": (["bash", "-c", 'a=(); s=""; for i in $(seq 1 4000); do a+=("item$i"); s="$s$i,"; done; '
                  'declare -A h; for i in {1..3000}; do h[k$i]=$i; done; echo ${#a[@]} ${#s} ${#h[@]}'], None, None),
        "jemalloc_mt": ([rel.prog("jemalloc_mt")], None, None),
    }, genv


def run_one(argv, stdin, env, preload, tag, tmp):
    out = rel.tmpdir(tag)
    extra = dict(env)
    extra["HEAPSCOPE_OUT"] = out + "/hs"
    extra["COUNTSHIM_OUT"] = out + "/count"
    p_env = {k: v for k, v in extra.items()}
    r = rel.run(argv, env_extra=p_env, preload=preload, timeout=90,
                stdin=open(stdin, "rb") if stdin else None, cwd=tmp)
    return r, out


def exit_snaps(out):
    """pid -> parsed exit snapshot; every snapshot in out must parse."""
    res = {}
    for path, pid, seq in rel.snaps_in(out):
        s = rel.parse_snap(path)
        check(s.pid == pid, "%s: header pid %d, file name says %d" % (path, s.pid, pid))
        if seq == "exit":
            res[pid] = s
    bad = rel.leftovers(out, allowed=[f for f in os.listdir(out) if f.startswith("count.")])
    check(not bad, "%s: files that are neither snapshots nor countshim output: %s" % (out, bad))
    return res


def count_diff(r, out, what):
    """pid -> (internal allocs, internal bytes, live difference, before-start blocks, countshim row, totals)."""
    snaps = exit_snaps(out)
    check(snaps, "%s (countshim:heapscope): no exit snapshot in %s\n%s" % (what, out, r.describe()))
    res = {}
    for pid, s in snaps.items():
        cfile = os.path.join(out, "count.%d" % pid)
        check(os.path.exists(cfile), "%s: countshim wrote no %s for pid %d" % (what, cfile, pid))
        rows = [x for x in rel.read_countshim(cfile) if x["event"] == "SNAP" and x["target"] == s.path]
        check(len(rows) == 1, "%s: countshim saw %d renames to %s, expected 1" % (cfile, len(rows), s.path))
        c, t = rows[0], s.totals
        for k in ("before_start_blocks", "before_start_bytes"):
            check(k in s.stats, "%s: no %s stat" % (s.path, k))
        bb, bbytes = s.stats["before_start_blocks"], s.stats["before_start_bytes"]
        res[pid] = (c["allocs"] - t["alloc_count"] - bb, c["alloc_bytes"] - t["alloc_bytes"] - bbytes,
                    (c["allocs"] - c["frees"]) - t["inuse_count"], bb, c, dict(t, **s.stats))
    return res


def startup_overhead(tmp):
    r, out = run_one(["/bin/true"], None, {}, [rel.SHIM, rel.LIB], "true-count", tmp)
    check(r.rc == 0, "/bin/true under countshim:heapscope\n" + r.describe())
    d = list(count_diff(r, out, "/bin/true").values())
    check(len(d) == 1, "/bin/true: expected one process")
    check(d[0][3] == 0, "/bin/true: %d blocks before heapscope started, expected 0" % d[0][3])
    return d[0][0], d[0][1], d[0][2]


def test_program(name):
    tmp = rel.tmpdir("real-" + name)
    loads, genv = workloads(tmp)
    argv, stdin_bytes, _ = loads[name]
    stdin = None
    if stdin_bytes is not None:
        stdin = os.path.join(tmp, "stdin.txt")
        with open(stdin, "wb") as f:
            f.write(stdin_bytes)
    env = {k: genv[k] for k in genv if k.startswith("GIT_") or k == "HOME"} if name == "git" else {}
    plain, _ = run_one(argv, stdin, env, None, name + "-plain", tmp)
    check(plain.rc == 0, "plain run of %s failed\n%s" % (name, plain.describe()))
    for mode, extra in (("full", {}), ("sampled", {"HEAPSCOPE_SAMPLE": "524288"})):
        e = dict(env)
        e.update(extra)
        r, out = run_one(argv, stdin, e, [rel.LIB], "%s-%s" % (name, mode), tmp)
        rel.same_behaviour(plain, r, "%s (%s)" % (name, mode))
        snaps = exit_snaps(out)
        check(snaps, "%s (%s): no exit snapshot in %s (files: %s)\n%s" % (name, mode, out, os.listdir(out), r.describe()))
        for s in snaps.values():
            want_mode = 0 if mode == "full" else 1
            check(s.mode == want_mode, "%s: mode %d, expected %d (%s)" % (s.path, s.mode, want_mode, mode))
            check(s.trigger == rel.TRIG_EXIT, "%s: trigger %d, expected %d (exit)" % (s.path, s.trigger, rel.TRIG_EXIT))
            if mode == "sampled":
                check(s.sample_period == 524288, "%s: sample_period %d, expected 524288" % (s.path, s.sample_period))
    # Independent count: countshim in front of heapscope, compared at each exit snapshot.
    r, out = run_one(argv, stdin, env, [rel.SHIM, rel.LIB], name + "-count", tmp)
    rel.same_behaviour(plain, r, "%s (countshim:heapscope)" % name)
    base_n, base_b, base_live = startup_overhead(tmp)
    check(0 < base_n < 100, "/bin/true: heapscope's start-up made %d allocations through the C library" % base_n)
    diffs = count_diff(r, out, name)
    for pid, (dn, db, dl, before, c, t) in diffs.items():
        what = "%s pid %d (countshim %s; snapshot %s; /bin/true internal %d blocks %d bytes %d live)" % (
            name, pid, c, t, base_n, base_b, base_live)
        check(0 <= dn <= base_n, "%s: countshim allocs - alloc_count - before_start_blocks = %d, expected 0..%d" % (
            what, dn, base_n))
        check(0 <= db <= base_b + 1024, "%s: countshim bytes - alloc_bytes - before_start_bytes = %d, expected 0..%d" % (
            what, db, base_b + 1024))
        # Blocks live for countshim but not for heapscope can only be among those heapscope did not record.
        check(0 <= dl <= before + dn, "%s: countshim live - inuse_count = %d, expected 0..%d (before-start + internal)" % (
            what, dl, before + dn))


def test_symbolized():
    check(rel.TOOL and os.path.exists(rel.TOOL), "the heapscope command is not built (REL_TOOL=%r)" % rel.TOOL)
    tmp = rel.tmpdir("real-sym")
    loads, _ = workloads(tmp)
    for name in ("sqlite3", "python3"):
        argv, stdin_bytes, _ = loads[name]
        stdin = None
        if stdin_bytes is not None:
            stdin = os.path.join(tmp, "stdin.txt")
            with open(stdin, "wb") as f:
                f.write(stdin_bytes)
        r, out = run_one(argv, stdin, {}, [rel.LIB], "sym-" + name, tmp)
        check(r.rc == 0, "%s failed under heapscope\n%s" % (name, r.describe()))
        snaps = exit_snaps(out)
        check(snaps, "%s: no exit snapshot" % name)
        snap = list(snaps.values())[0].path
        rep = rel.run([rel.TOOL, "report", snap, "--top", "5", "--json"], timeout=90)
        check(rep.rc == 0, "heapscope report %s failed\n%s" % (snap, rep.describe()))
        doc = json.loads(rep.out)
        sites = doc.get("sites", [])
        check(sites, "heapscope report %s: no sites" % snap)
        for i, site in enumerate(sites[:5]):
            named = [f.get("function") for f in site.get("frames", [])
                     if f.get("function") is not None]  # null where no symbol covers the address
            check(named, "heapscope report %s: site %d has no named frame: %s" % (snap, i, site.get("frames")))


if __name__ == "__main__":
    arg = sys.argv[1]
    rel.main(test_symbolized if arg == "symbolized" else (lambda: test_program(arg)))
