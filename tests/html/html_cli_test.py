#!/usr/bin/env python3
"""tests/html: `heapscope html` on the demo walkthrough's snapshots (demo_snapshots.sh).

Usage: html_cli_test.py HEAPSCOPE LIB LEAKY_SERVER WORKDIR
Checks the file (one, 0600, nothing fetched from the network: no http(s) URL in
a src/href), and the JSON the page draws from against the tool's own answers,
exactly: each snapshot's live bytes are `heapscope report --json`'s, its
per-site values add up to them, the suspects table's rows are `trend`'s ranking
of the same series (first: the cache's insert, its delta to the byte), and the
source lines around the origin are the file's own. Then bad input: no file,
not a snapshot, -o a directory: clear errors naming the path, nothing written.
"""
import json
import os
import re
import shutil
import stat
import subprocess
import sys

HS, LIB, SERVER, WORK = sys.argv[1:5]
HERE = os.path.dirname(os.path.abspath(__file__))


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def run(*args):
    return subprocess.run([HS, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120)


def page_data(path):
    html = open(path, encoding="utf-8").read()
    m = re.search(r'<script id="heapscope-data" type="application/json">(.*?)</script>', html, re.S)
    if not m:
        fail("%s: no heapscope-data script element" % path)
    return html, json.loads(m.group(1))


shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
snapdir = os.path.join(WORK, "snaps")
if subprocess.run([os.path.join(HERE, "demo_snapshots.sh"), HS, LIB, SERVER, snapdir], timeout=120).returncode:
    fail("demo_snapshots.sh")
series = sorted(os.path.join(snapdir, f) for f in os.listdir(snapdir) if re.match(r"d\.\d+\.\d{4}\.hsnap$", f))
if len(series) < 6:
    fail("only %d periodic snapshots: %s" % (len(series), os.listdir(snapdir)))

out = os.path.join(WORK, "report.html")
r = run("html", *series, "-o", out)
if r.returncode != 0:
    fail("heapscope html: exit %d\n%s" % (r.returncode, r.stderr))
if "wrote " + out not in r.stderr:
    fail("heapscope html did not say what it wrote: %r" % r.stderr)
mode = stat.S_IMODE(os.stat(out).st_mode)
if mode != 0o600:
    fail("%s: mode %o, expected 600" % (out, mode))
html, d = page_data(out)
for m in re.finditer(r'(?:src|href)\s*=\s*["\']?(https?:)?//', html):
    fail("%s: refers to the network at offset %d" % (out, m.start()))

# One timeline point per snapshot, in time order, each with report's live bytes.
if series != [s["file"] for s in d["snapshots"]]:
    fail("snapshots %r, expected %r" % ([s["file"] for s in d["snapshots"]], series))
times = [s["t"] for s in d["snapshots"]]
if times != sorted(times) or times[0] != 0:
    fail("times %r are not from 0 upwards" % times)
for f, s in zip(series, d["snapshots"]):
    rep = run("report", f, "--json")
    want = json.loads(rep.stdout)["totals"]["inuse_bytes"]
    if s["live"] != want:
        fail("%s: live %d in the page, %d in heapscope report" % (s["file"], s["live"], want))
    if sum(s["values"][1::2]) != want:
        fail("%s: the sites' values add up to %d, expected %d" % (s["file"], sum(s["values"][1::2]), want))
    if not (s["rss"] and s["rss"] >= s["live"]):
        fail("%s: rss %r" % (s["file"], s["rss"]))

# The suspects: trend's ranking of the same files.
tr = json.loads(run("trend", *series, "--json").stdout)
rows, cols = d["suspects"]["rows"], d["suspects"]["columns"]
W = len(cols)
first = dict(zip(cols, rows[:W]))
top = tr["sites"][0]
if not (top["suspect"] and "LeakyCache::store" in top["origin"]["function"]):
    fail("trend's first site is not the cache's insert: %r" % top["origin"])
if first["suspect"] != 1 or first["delta_bytes"] != top["delta_bytes"]:
    fail("the page's first row %r, trend's first site delta %d" % (first, top["delta_bytes"]))
if int(first["delta_bytes"]) != 12 * (1 << 20) + 12 * 1:  # 12 entries of 1 MiB (+ a NUL each: the payload string)
    fail("the cache grew %d bytes over the series, expected 12 entries of 1 MiB + 1" % first["delta_bytes"])
if abs(first["slope_bytes_per_s"] - top["slope_bytes_per_s"]) > 0.1 * abs(top["slope_bytes_per_s"]) + 1:
    fail("slope %r in the page, %r in trend" % (first["slope_bytes_per_s"], top["slope_bytes_per_s"]))
suspects_page = sum(1 for i in range(0, len(rows), W) if rows[i + 6] == 1)
suspects_trend = sum(1 for s in tr["sites"] if s["suspect"])
if suspects_page != suspects_trend:
    fail("%d suspects in the page, %d in trend" % (suspects_page, suspects_trend))

# The origin's source lines, as the file has them.
src = [s for s in d["sources"] if s["file"].endswith("demo/cache.cpp") and s["line"] == top["origin"]["line"]]
if not src:
    fail("no source lines for %s:%d" % (top["origin"]["file"], top["origin"]["line"]))
lines = open(top["origin"]["file"]).read().splitlines()
s = src[0]
if s["lines"] != lines[s["first_line"] - 1:s["first_line"] - 1 + len(s["lines"])]:
    fail("the source lines differ from %s" % s["file"])
if "the leak: never erased" not in s["lines"][s["line"] - s["first_line"]]:
    fail("the origin's line is not the cache insert: %r" % s["lines"][s["line"] - s["first_line"]])

# Bad input.
missing = os.path.join(WORK, "no-such.hsnap")
r = run("html", missing, "-o", os.path.join(WORK, "x.html"))
if r.returncode == 0 or missing not in r.stderr or os.path.exists(os.path.join(WORK, "x.html")):
    fail("a missing snapshot: exit %d, %r" % (r.returncode, r.stderr))
junk = os.path.join(WORK, "junk.txt")
open(junk, "w").write("not a heap profile\n")
r = run("html", junk, "-o", os.path.join(WORK, "x.html"))
if r.returncode == 0 or junk not in r.stderr or os.path.exists(os.path.join(WORK, "x.html")):
    fail("not a snapshot: exit %d, %r" % (r.returncode, r.stderr))
adir = os.path.join(WORK, "adir")
os.makedirs(adir)
r = run("html", series[0], "-o", adir)
if r.returncode == 0 or adir not in r.stderr:
    fail("-o a directory: exit %d, %r" % (r.returncode, r.stderr))
r = run("html")
if r.returncode != 2 or "at least one snapshot" not in r.stderr:
    fail("no snapshot: exit %d, %r" % (r.returncode, r.stderr))
print("ok: %d snapshots, %s bytes of html, first suspect %s" % (len(series), len(html), top["origin"]["function"]))
