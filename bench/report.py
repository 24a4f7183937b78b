#!/usr/bin/env python3
"""report.py -- turns bench/run.sh's CSVs into docs/benchmarks.md and its chart (issue 5).

Owns: the statistics (medians of per-pair ratios: each profiled run divided by the baseline
run made right before or after it) and the presentation: the comparison table, the issue's
targets beside the measurements, the server table, the micro-benchmarks, the machine, and
a gnuplot PNG of the wall-time overhead per profiler per workload.

Usage: report.py --results DIR --doc FILE.md [--png FILE.png]
Reads DIR/runs.csv, DIR/analysis.csv, DIR/server.csv, DIR/meta.txt, DIR/micro-*.json.
"""
import argparse
import csv
import json
import os
import re
import shutil
import statistics
import subprocess
import sys

WORKLOADS = [
    ("loop1", "alloc loop, 1 thread"),
    ("loop2", "alloc loop, 2 threads"),
    ("sqlite", "sqlite3 load + index + query"),
]
PAIRS = [
    ("heapscope", "heapscope full", "glibc"),
    ("heapscope-fp", "heapscope full, HEAPSCOPE_UNWIND=fp (frame-pointer build)", "glibc (same fp build)"),
    ("heapscope-sampled", "heapscope sampled 512 KiB", "glibc"),
    ("heapscope-hooks", "heapscope hooks only (HEAPSCOPE_SAMPLE=1024G: no samples)", "glibc"),
    ("forward-shim", "a preload that only forwards (bench/workloads/forward_shim.c)", "glibc"),
    ("heaptrack", "heaptrack", "glibc"),
    ("gperftools", "gperftools HEAPPROFILE", "tcmalloc alone"),
    ("jemalloc-prof", "jemalloc prof, lg_prof_sample:0 (full)", "jemalloc alone"),
    ("jemalloc-sampled", "jemalloc prof, sampled 512 KiB", "jemalloc alone"),
    ("massif", "valgrind massif", "glibc"),
]
REDUCED = {"gperftools", "jemalloc-prof", "massif"}
CHART_LABELS = {
    "heapscope": "heapscope full", "heapscope-fp": "heapscope full, fp unwind",
    "heapscope-sampled": "heapscope sampled", "heapscope-hooks": "heapscope hooks only",
    "forward-shim": "forward-only preload", "heaptrack": "heaptrack", "gperftools": "gperftools",
    "jemalloc-prof": "jemalloc full", "jemalloc-sampled": "jemalloc sampled", "massif": "massif",
}
# The issue's reference figures (measured 2026-11-24) and targets: wall-time ratios.
ISSUE_REFERENCE = {
    ("loop1", "heaptrack"): "5.0x", ("loop2", "heaptrack"): "11.4x", ("sqlite", "heaptrack"): "3.5x",
    ("loop1", "jemalloc-prof"): "43x", ("loop2", "jemalloc-prof"): "66x",
    ("loop1", "gperftools"): "96x", ("loop2", "gperftools"): "96x",
}
TARGETS = [  # workload, pair, limit, stretch, label
    ("loop1", "heapscope", 2.5, 2.0, "full tracking, loop 1 thread"),
    ("loop2", "heapscope", 2.5, 2.0, "full tracking, loop 2 threads"),
    ("sqlite", "heapscope", 1.7, 1.4, "full tracking, sqlite3"),
    ("loop1", "heapscope-fp", 2.5, 2.0, "full tracking, HEAPSCOPE_UNWIND=fp, loop 1 thread (fp build)"),
    ("loop2", "heapscope-fp", 2.5, 2.0, "full tracking, HEAPSCOPE_UNWIND=fp, loop 2 threads (fp build)"),
    ("loop1", "heapscope-sampled", 1.05, None, "sampled, loop 1 thread"),
    ("loop2", "heapscope-sampled", 1.05, None, "sampled, loop 2 threads"),
    ("sqlite", "heapscope-sampled", 1.05, None, "sampled, sqlite3"),
]
LIBUNWIND_ALONE = {"loop1": "2.45x", "loop2": "2.3x", "sqlite": "1.7x"}


def read_csv(path):
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def read_meta(path):
    meta = {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                line = line.strip()
                if "=" not in line:
                    continue
                # "quick=0 pairs=5 ..." lines carry several key=value pairs; others one value.
                key, value = line.split("=", 1)
                if " " in value and all("=" in tok for tok in line.split()):
                    for tok in line.split():
                        k, v = tok.split("=", 1)
                        meta[k] = v
                else:
                    meta[key] = value
    return meta


def fnum(s):
    try:
        return float(s)
    except (TypeError, ValueError):
        return None


def ratio_fmt(x):
    if x is None:
        return ""
    return f"{x:.2f}x" if x < 10 else f"{x:.1f}x" if x < 100 else f"{x:.0f}x"


def size_fmt(n):
    if n is None:
        return ""
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return ""


class Cell:
    """One workload x profiler: its pairs and what they give."""

    def __init__(self):
        self.base = {}  # round -> row
        self.prof = {}

    def pairs(self):
        return [(self.base[r], self.prof[r]) for r in sorted(self.prof) if r in self.base]

    def ratio(self, field):
        rs = []
        for b, p in self.pairs():
            bv, pv = fnum(b[field]), fnum(p[field])
            if bv and pv is not None and bv > 0:
                rs.append(pv / bv)
        if not rs:
            return None, None, None
        return statistics.median(rs), min(rs), max(rs)

    def median(self, role, field):
        rows = self.base.values() if role == "base" else self.prof.values()
        vals = [fnum(r[field]) for r in rows if fnum(r[field]) is not None]
        return statistics.median(vals) if vals else None

    def all_ok(self):
        return all(r["output_ok"] == "1" and r["exit"] == "0"
                   for r in list(self.base.values()) + list(self.prof.values()))

    def size(self):
        for r in self.prof.values():
            return r["size"]
        return ""


def build_cells(runs):
    cells = {}
    for row in runs:
        cell = cells.setdefault((row["workload"], row["pair"]), Cell())
        (cell.base if row["role"] == "base" else cell.prof)[int(row["round"])] = row
    return cells


def micro_results(results_dir, name):
    path = os.path.join(results_dir, f"micro-{name}.json")
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        data = json.load(f)
    out = {}
    for b in data.get("benchmarks", []):
        # With repetitions, take the median aggregate; without, the single run.
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
            continue
        name_ = b.get("run_name", b["name"])
        scale = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}[b.get("time_unit", "ns")]
        out[name_] = {"ns": b["real_time"] * scale, "cpu_ns": b["cpu_time"] * scale,
                      "frames": b.get("frames")}
    return out


def chart(cells, png, results_dir):
    """Clustered bars of the median wall ratio, log scale; returns the PNG path or None."""
    if shutil.which("gnuplot") is None:
        return None
    present = [(key, label) for key, label, _ in PAIRS
               if any((wl, key) in cells and cells[(wl, key)].pairs() for wl, _ in WORKLOADS)]
    if not present:
        return None
    dat = os.path.join(results_dir, "chart.dat")
    with open(dat, "w") as f:
        f.write("workload " + " ".join(f'"{CHART_LABELS.get(k, k)}"' for k, _ in present) + "\n")
        for wl, wl_label in WORKLOADS:
            vals = []
            for key, _ in present:
                cell = cells.get((wl, key))
                r = cell.ratio("wall_s")[0] if cell else None
                vals.append(f"{r:.4f}" if r else "NaN")
            f.write(f'"{wl_label}" ' + " ".join(vals) + "\n")
    n = len(present)
    gp = os.path.join(results_dir, "chart.gp")
    with open(gp, "w") as f:
        f.write(f"""set terminal pngcairo size 1100,560 font ",10" noenhanced
set output "{png}"
set title "Wall-time overhead of heap profilers (median of paired runs; 1x = no profiler)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y 10
set yrange [0.8:*]
set ytics (1, 1.5, 2, 2.5, 5, 10, 20, 50, 100, 200)
set grid ytics
set ylabel "profiled wall time / baseline wall time"
set key outside right top vertical
set xtics nomirror
plot for [i=2:{n + 1}] "{dat}" using i:xtic(1) title columnheader(i), \
     2.5 with lines dt 2 lw 1.5 lc rgb "#aa0000" title "target, heapscope full", \
     1.05 with lines dt 3 lw 1.5 lc rgb "#0050aa" title "target, heapscope sampled"
""")
    try:
        subprocess.run(["gnuplot", gp], check=True, capture_output=True, timeout=60)
    except (subprocess.SubprocessError, OSError) as e:
        print(f"report.py: gnuplot failed on {gp}: {e}", file=sys.stderr)
        return None
    return png


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True)
    ap.add_argument("--doc", required=True)
    ap.add_argument("--png")
    args = ap.parse_args()
    res = args.results
    runs = read_csv(os.path.join(res, "runs.csv"))
    if not runs:
        print(f"report.py: {os.path.join(res, 'runs.csv')}: no runs recorded", file=sys.stderr)
        return 1
    analysis = {(r["workload"], r["pair"]): r for r in read_csv(os.path.join(res, "analysis.csv"))}
    server = read_csv(os.path.join(res, "server.csv"))
    meta = read_meta(os.path.join(res, "meta.txt"))
    cells = build_cells(runs)
    png = args.png or os.path.splitext(args.doc)[0] + ".png"
    png_made = chart(cells, os.path.abspath(png), res)

    quick = meta.get("quick") == "1"
    pairs = int(meta.get("pairs", "0") or 0)
    L = []
    w = L.append
    w("# Benchmarks")
    w("")
    w("<!-- Generated by bench/report.py from bench/run.sh's results; edit those, not this file. -->")
    w("")
    if quick:
        w("**Quick smoke run (`bench/run.sh --quick`): tiny sizes, one pair; these numbers "
          "check the scripts, they measure nothing.**")
        w("")
    if not quick and pairs < 3:
        w(f"**Preliminary: only {pairs} pair(s) per cell; the full run makes 5.**")
        w("")
    w(f"Measured {meta.get('date', '?')} on {meta.get('cpu_model', '?')} ({meta.get('cpus', '?')} "
      f"CPUs), {meta.get('os', '?')}, kernel {meta.get('kernel', '?')}, glibc {meta.get('glibc', '?')}; "
      f"heapscope at commit {meta.get('heapscope_commit', '?')}"
      + (f" (plus {meta['heapscope_uncommitted']} files of work in progress in profiler/ and tools/)"
         if meta.get("heapscope_uncommitted", "0") not in ("0", "") else "") + ".")
    w(f"Peers: heaptrack {meta.get('heaptrack', '?')}, gperftools {meta.get('gperftools', '?')}, "
      f"jemalloc {meta.get('jemalloc', '?')}, valgrind {meta.get('valgrind', '?')}, "
      f"sqlite3 {meta.get('sqlite3', '?')} (all Debian's).")
    w("")
    busy, own, elapsed = fnum(meta.get("machine_busy_cpu_s")), fnum(meta.get("own_cpu_s")), fnum(meta.get("elapsed_s"))
    cpus = fnum(meta.get("cpus")) or 1
    if busy is not None and own is not None and elapsed:
        other = max(0.0, busy - own)
        share = other / (elapsed * cpus)
        note = (f"While the benchmarks ran ({elapsed:.0f} s), other processes used {other:.0f} CPU-seconds "
                f"({share:.0%} of the machine; load average {meta.get('load_at_start', '?')} at the start, "
                f"{meta.get('load_at_end', '?')} at the end).")
        if share > 0.05:
            note += (" **The machine was shared**, so absolute times are noisy; the paired, interleaved "
                     "runs (each profiled run next to its own baseline run) keep the ratios fair, "
                     "but read single-digit percentages with care.")
        w(note)
        w("")

    # ---- summary ----
    lines = []
    for wl, wl_label in WORKLOADS:
        def r(key):
            c = cells.get((wl, key))
            return c.ratio("wall_s")[0] if c else None
        hs, hss = r("heapscope"), r("heapscope-sampled")
        if hs is None:
            continue
        peers = [(lab, r(k)) for k, lab in (("heaptrack", "heaptrack"), ("gperftools", "gperftools"),
                                            ("jemalloc-prof", "jemalloc full"), ("massif", "massif"))]
        peers_txt = ", ".join(f"{lab} {ratio_fmt(v)}" for lab, v in peers if v is not None)
        line = f"- {wl_label}: heapscope full tracking {ratio_fmt(hs)}"
        if r("heapscope-fp") is not None:
            line += f" ({ratio_fmt(r('heapscope-fp'))} with HEAPSCOPE_UNWIND=fp on a frame-pointer build)"
        if hss is not None:
            line += f", sampled {ratio_fmt(hss)}"
        if peers_txt:
            line += f"; {peers_txt}"
        lines.append(line + ".")
    if lines:
        w("## Summary")
        w("")
        w("Median wall-time ratio to the same program without a profiler:")
        w("")
        L.extend(lines)
        w("")

    # ---- targets ----
    w("## heapscope against the targets of issue 5")
    w("")
    w("Ratio to the same program with glibc and no profiler: median of the paired runs, the "
      "range over pairs in brackets. The targets are wall-time ratios; the CPU-time ratio "
      "(user + system) is beside them because it is the steadier figure when other work "
      "shares the CPUs.")
    w("")
    w("| measure | target | measured (wall) | verdict | CPU-time ratio | libunwind capture alone (issue) |")
    w("| --- | --- | --- | --- | --- | --- |")
    for wl, pair, limit, stretch, label in TARGETS:
        cell = cells.get((wl, pair))
        med, lo, hi = cell.ratio("wall_s") if cell else (None, None, None)
        tgt = f"under {limit}x" + (f", then {stretch}x" if stretch else "")
        if med is None and pair == "heapscope-fp":
            continue  # optional row: only when the library supports frame-pointer unwinding
        if med is None:
            w(f"| {label} | {tgt} | not measured | - | | {LIBUNWIND_ALONE.get(wl, '') if pair == 'heapscope' else ''} |")
            continue
        cmed, clo, chi = cell.ratio("cpu_s")
        verdict = "meets" if med < limit else "**misses**"
        if stretch and med < stretch:
            verdict = "meets, and the stretch target"
        w(f"| {label} | {tgt} | {ratio_fmt(med)} [{ratio_fmt(lo)}-{ratio_fmt(hi)}] | {verdict} | "
          f"{ratio_fmt(cmed)} [{ratio_fmt(clo)}-{ratio_fmt(chi)}] | "
          f"{LIBUNWIND_ALONE.get(wl, '') if pair == 'heapscope' else ''} |")
    w("")

    # ---- sampled mode, part by part ----
    res_dir = res
    parts = []
    for wl, wl_label in WORKLOADS:
        def rr(key):
            c = cells.get((wl, key))
            return c.ratio("wall_s")[0] if c and c.pairs() else None
        fl, hk, sp = rr("forward-shim"), rr("heapscope-hooks"), rr("heapscope-sampled")
        if None in (fl, hk, sp):
            continue
        rate = ""
        cell = cells.get((wl, "heapscope-sampled"))
        wall = cell.median("prof", "wall_s") if cell else None
        try:
            with open(os.path.join(res_dir, f"totals-{wl}.json")) as f:
                alloc_bytes = json.load(f)["totals"]["alloc_bytes"]
            if wall:
                rate = f"{alloc_bytes / 524288 / wall:,.0f}"
        except (OSError, ValueError, KeyError):
            pass
        parts.append(f"| {wl_label} | {ratio_fmt(fl)} | {ratio_fmt(hk)} | {ratio_fmt(sp)} | {rate} |")
    if parts:
        w("### What sampled mode's cost is made of")
        w("")
        w("Three preloads, each paired with glibc alone like every row here: one that only "
          "forwards each call to glibc (bench/workloads/forward_shim.c: the floor any preload "
          "profiler pays), heapscope sampling so sparsely that no sample is taken (its hooks' own "
          "work: the re-entry guard, hook counting, the sampler's countdown, the free filter), and "
          "heapscope sampling at 512 KiB (plus capturing, interning and tracking each sampled "
          "block and its free). Samples per second is the workload's allocated bytes / 512 KiB "
          "over the sampled run's median wall time: the alloc loop writes every byte it "
          "allocates, so each sample finds heapscope's tables pushed out of the CPU caches by "
          "512 KiB of the program's own traffic.")
        w("")
        w("| workload | forward only | heapscope hooks only | heapscope sampled 512 KiB | samples per second |")
        w("| --- | --- | --- | --- | --- |")
        L.extend(parts)
        w("")

    # ---- the big table ----
    w("## All profilers, per workload")
    w("")
    w("Ratios are medians over pairs of the profiled run divided by its own baseline run "
      "(the allocator the profiler lives in, without profiling). CPU is user + system of the "
      "whole process tree (heaptrack's interpreter included). Peak RSS is the largest process's. "
      "Output is everything the profiler wrote; analysis is the profiler's own text report "
      "on that output (heapscope report, heaptrack_print, google-pprof --text, jeprof --text, "
      "ms_print), timed once.")
    w("")
    for wl, wl_label in WORKLOADS:
        rows = [(k, lab, base) for k, lab, base in PAIRS if (wl, k) in cells and cells[(wl, k)].pairs()]
        if not rows:
            continue
        w(f"### {wl_label}")
        w("")
        w("| profiler | baseline | size | pairs | wall ratio | CPU ratio | baseline wall | profiled wall "
          "| peak RSS (baseline) | output | analysis | issue's figure |")
        w("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for key, label, base in rows:
            cell = cells[(wl, key)]
            wr, wlo, whi = cell.ratio("wall_s")
            cr, _, _ = cell.ratio("cpu_s")
            size = cell.size()
            size_txt = f"{int(size):,}" + (" (reduced)" if key in REDUCED else "")
            bw, pw = cell.median("base", "wall_s"), cell.median("prof", "wall_s")
            brss, prss = cell.median("base", "maxrss_kb"), cell.median("prof", "maxrss_kb")
            out = cell.median("prof", "out_bytes")
            a = analysis.get((wl, key))
            a_txt = ""
            if a:
                a_txt = f"{fnum(a['analysis_s']):.2f} s" if a["exit"] == "0" else f"failed (exit {a['exit']})"
            ok = "" if cell.all_ok() else " (**some runs failed or printed different results**)"
            w(f"| {label}{ok} | {base} | {size_txt} | {len(cell.pairs())} | {ratio_fmt(wr)} "
              f"[{ratio_fmt(wlo)}-{ratio_fmt(whi)}] | {ratio_fmt(cr)} | {bw:.2f} s | {pw:.2f} s | "
              f"{size_fmt(prss * 1024 if prss else None)} ({size_fmt(brss * 1024 if brss else None)}) | "
              f"{size_fmt(out)} | {a_txt} | {ISSUE_REFERENCE.get((wl, key), '')} |")
        w("")
    counts = []
    for wl, wl_label in WORKLOADS:
        path = os.path.join(res, f"totals-{wl}.json")
        if os.path.exists(path):
            try:
                with open(path) as f:
                    t = json.load(f)["totals"]
                counts.append(f"{wl_label}: {t['alloc_count']:,} allocations, "
                              f"{size_fmt(t['alloc_bytes'])} allocated, {t['inuse_count']:,} blocks live at exit")
            except (OSError, ValueError, KeyError):
                pass
    if counts:
        w("Per run at full size, as counted by heapscope's full-tracking snapshot: " + "; ".join(counts) + ".")
        w("")
    size_note = (f"Sizes: the loop runs {int(meta.get('loop_n', 0)):,} iterations per thread "
                 f"(one allocation each, 1000 live blocks per thread, 512 call sites 6-20 frames deep); "
                 f"sqlite3 loads {int(meta.get('sql_rows', 0)):,} rows. "
                 f"gperftools, jemalloc full and massif run at 1/{meta.get('reduce', '?')} of that size "
                 f"(marked reduced), each paired with a baseline of the same reduced size, because at "
                 f"their 40-100x the full size would not fit the 15-minute budget; the loop is a steady "
                 f"state, so the ratio does not depend on the length. massif gets at most 3 pairs.")
    w(size_note)
    w("")
    if meta.get("have_jemalloc_prof") == "0":
        w("Debian's jemalloc here was built without profiling (`MALLOC_CONF=prof:true` is refused), "
          "so the jemalloc prof rows are empty.")
        w("")
    if meta.get("have_heapscope") == "0":
        w("**libheapscope.so was not available when this ran: the heapscope rows are missing.**")
        w("")
    if png_made:
        w(f"![wall-time overhead per profiler per workload]({os.path.basename(png_made)})")
        w("")

    # ---- big snapshot ----
    snaps = [r for r in read_csv(os.path.join(res, "snapshot.csv")) if fnum(r.get("write_s")) is not None]
    if snaps:
        def med(field):
            vals = [fnum(r[field]) for r in snaps if fnum(r.get(field)) is not None]
            return statistics.median(vals) if vals else None
        def worst(field):
            vals = [fnum(r[field]) for r in snaps if fnum(r.get(field)) is not None]
            return max(vals) if vals else None
        live, stacks = int(fnum(snaps[0]["live"])), int(fnum(snaps[0]["stacks"]))
        wr, pd, pb = med("write_s"), worst("pause_max_ms_during"), worst("pause_max_ms_before")
        w("## A snapshot of a big heap while a thread allocates")
        w("")
        w(f"`bench/workloads/snapshot_load` holds {live:,} live blocks allocated from {stacks:,} distinct "
          "call stacks (17 levels, two call sites each), under heapscope full tracking. A second "
          "thread allocates and frees in a loop, timing every iteration, while the main thread calls "
          f"`heapscope_snapshot()`. {len(snaps)} runs; the pause is the longest single "
          "allocate+free iteration of the second thread, the worst over the runs.")
        w("")
        w("| measure | target | measured | verdict |")
        w("| --- | --- | --- | --- |")
        if wr is not None:
            w(f"| snapshot written (median) | under 1 s | {wr:.3f} s | {'meets' if wr < 1 else '**misses**'} |")
        if pd is not None:
            w(f"| longest stall of the allocating thread during the write | a few ms | {pd:.2f} ms "
              f"(before the write: {pb:.2f} ms) | {'meets' if pd < 5 else '**misses**'} |")
        its, by, si, rs = med("iterations_during"), med("snapshot_bytes"), med("sites"), med("report_s")
        extra = []
        if its is not None:
            extra.append(f"the allocating thread completed {its:,.0f} allocate+free iterations during the write")
        if by is not None:
            extra.append(f"the snapshot is {size_fmt(by)}")
        if si is not None:
            extra.append(f"`heapscope report` finds {si:,.0f} allocation sites in it")
        if rs is not None:
            extra.append(f"and reads it in {rs:.2f} s")
        if extra:
            w("")
            w("Medians: " + ", ".join(extra) + ".")
        w("")

    # ---- server ----
    w("## The demo server under wrk")
    w("")
    if not server:
        w("Not measured: `build/demo/leaky_server` was not available when this ran.")
    else:
        w(f"`leaky_server --cache bounded` under `wrk -t1 -c4 -d{meta.get('server_seconds', '?')}s "
          f"--latency http://127.0.0.1:PORT/leak` (each request stores ~1 MiB in a bounded "
          f"std::map, so memory stays flat); wrk and the server share the 2 CPUs. Medians over "
          f"{meta.get('server_rounds', '?')} interleaved rounds.")
        w("")
        if meta.get("wrk_mode") == "connection-close":
            w(f"**wrk ran with `-H \"Connection: close\"`** (a new connection per request): on a "
              f"kept-alive connection this server's responses stall on Nagle's algorithm and the "
              f"client's delayed ACK (the probe managed {fnum(meta.get('probe_rps')) or 0:.0f} requests/s "
              f"on /status, ~40 ms each, the server idle), which would measure TCP timers instead of "
              f"the server. cpp-httplib needs `CPPHTTPLIB_TCP_NODELAY` for keep-alive to be fast.")
            w("")
        by = {}
        for r in server:
            by.setdefault(r["config"], []).append(r)

        def med(cfg, field):
            vals = [fnum(r[field]) for r in by.get(cfg, []) if fnum(r[field]) is not None]
            return statistics.median(vals) if vals else None

        w("| server | requests/s | vs glibc | p99 latency | server CPU per 1000 requests | peak RSS | output |")
        w("| --- | --- | --- | --- | --- | --- | --- |")
        base_rps = med("glibc", "requests_per_s")
        names = {"glibc": "no profiler", "heapscope": "heapscope full",
                 "heapscope-sampled": "heapscope sampled 512 KiB"}
        for cfg in ["glibc", "heapscope", "heapscope-sampled"]:
            if cfg not in by:
                continue
            rps, p99 = med(cfg, "requests_per_s"), med(cfg, "p99_ms")
            cpu, reqs = med(cfg, "cpu_s"), med(cfg, "requests")
            per_k = f"{cpu / reqs * 1000 * 1000:.1f} ms" if cpu is not None and reqs else ""
            vs = f"{rps / base_rps:.3f}" if rps and base_rps else ""
            w(f"| {names[cfg]} | {rps:,.0f} | {vs} | {p99:.2f} ms | {per_k} | "
              f"{size_fmt(med(cfg, 'maxrss_kb') * 1024 if med(cfg, 'maxrss_kb') else None)} | "
              f"{size_fmt(med(cfg, 'out_bytes'))} |")
    w("")

    # ---- micro ----
    w("## Micro-benchmarks (Google Benchmark, bench/micro/)")
    w("")
    plain = micro_results(res, "hook-plain")
    if plain:
        variants = [("hook-heapscope", "heapscope full (default unwinder)"),
                    ("hook-heapscope-libunwind", "full, HEAPSCOPE_UNWIND=libunwind"),
                    ("hook-heapscope-fp", "full, HEAPSCOPE_UNWIND=fp"),
                    ("hook-heapscope-sampled", "sampled 512 KiB")]
        got = [(n, lab, micro_results(res, n)) for n, lab in variants]
        got = [g for g in got if g[2]]
        w("Hook cost: `bench_hook` run plain and with `LD_PRELOAD=libheapscope.so`; time per "
          "allocation + free (median of repetitions). The AtDepth cases allocate 8 or 32 frames "
          "below the benchmark loop. bench_hook is built with frame pointers (its own code; "
          "libbenchmark and libc are Debian's, without), so the fp column walks real frames.")
        w("")
        w("| case | plain | " + " | ".join(lab for _, lab, _ in got) + " |")
        w("| --- | --- | " + " | ".join("---" for _ in got) + " |")
        for name, v in plain.items():
            cols = []
            for _, _, data in got:
                d = data.get(name)
                cols.append(f"{d['ns']:.0f} ns (+{d['ns'] - v['ns']:.0f})" if d else "")
            w(f"| {name} | {v['ns']:.1f} ns | " + " | ".join(cols) + " |")
        w("")
    cap = micro_results(res, "capture")
    if cap:
        w("Capture cost: `bench_capture` takes exactly D frames from the bottom of a D-deep chain.")
        w("")
        methods = sorted({n.split("/")[0] for n in cap})
        w("| method | " + " | ".join(f"D={d}" for d in (8, 16, 32, 64)) + " | per frame at D=64 |")
        w("| --- | --- | --- | --- | --- | --- |")
        for m in methods:
            cols = []
            for d in (8, 16, 32, 64):
                v = cap.get(f"{m}/{d}")
                cols.append(f"{v['ns']:.0f} ns" if v else "")
            v64 = cap.get(f"{m}/64")
            per = f"{v64['ns'] / 64:.1f} ns" if v64 else ""
            w(f"| {m} | " + " | ".join(cols) + f" | {per} |")
        w("")
    tab = micro_results(res, "tables")
    if tab:
        w("heapscope's tables (`bench_tables`, linked against heapscope_core):")
        w("")
        w("| case | time |")
        w("| --- | --- |")
        for name, v in tab.items():
            w(f"| {name} | {v['ns']:.1f} ns |")
        w("")
    else:
        w("`bench_tables` (live table insert/erase, stack table lookup) was not built: it needs the "
          "heapscope_core target.")
        w("")

    # ---- method notes ----
    w("## Notes on the method")
    w("")
    w("- Pairs: every profiled run is paired with a baseline run of the same program and size "
      "made right before or after it (the order alternates by round), and rounds are the outer "
      "loop, so a burst of load elsewhere hits all profilers alike. Ratios are medians of the "
      "per-pair ratios; absolute times are medians too.")
    w("- Each profiler runs with its own allocator as baseline: gperftools against "
      "`LD_PRELOAD=libtcmalloc.so.4` alone, jemalloc's profiler against `libjemalloc.so.2` alone, "
      "everything else against glibc.")
    w("- Every profiler writes one profile at exit: heapscope's exit snapshot, heaptrack's trace, "
      "gperftools with `HEAP_PROFILE_ALLOCATION_INTERVAL=0` (its default also dumps every 1 GiB "
      "allocated), jemalloc with `prof_final:true`, massif's out file.")
    w("- The loop leaves its last window (1000 blocks per thread) allocated at exit, so every "
      "exit profile has live blocks for the analysis step to report.")
    w("- heaptrack 1.4.0's `heaptrack_interpret` grew to 18 GB and died with `std::bad_alloc` "
      "on an earlier version of the loop that drew byte-granular random sizes (hundreds of "
      "thousands of distinct size/stack pairs); the loop now draws sizes per site, as real "
      "programs do, and heaptrack completes.")
    w("- Debian's libbenchmark prints \"Library was built as DEBUG\"; that concerns Google "
      "Benchmark's own code, not the measured calls, and applies to every column alike.")
    w("")
    # ---- reproduce ----
    w("## How to reproduce")
    w("")
    w("```")
    w("./bench/run.sh            # installs the peers (apt-get), builds, runs everything: ~15 min")
    w("./bench/run.sh --quick    # a 1-minute smoke run of the scripts (writes bench/results/quick/)")
    w("```")
    w("")
    w("bench/run.sh writes the raw results to bench/results/full/ (runs.csv, analysis.csv, "
      "server.csv, micro-*.json, meta.txt) and this page through bench/report.py. "
      f"Settings of this run: {pairs} pairs, loop -n {meta.get('loop_n', '?')}, "
      f"sqlite rows {meta.get('sql_rows', '?')}, reduced size 1/{meta.get('reduce', '?')}. "
      "Environment variables PAIRS, LOOP_N, SQL_ROWS, REDUCE, SERVER_SECONDS change them. "
      "Every run's output is compared with the baseline's (the loop's ledger and checksum, "
      "sqlite3's query results), so a profiler that changed the program's behaviour shows as a "
      "failed row.")
    w("")
    text = "\n".join(L)
    # Sections measured by other scripts or by hand sit between <!-- NAME: ... --> and
    # <!-- /NAME --> markers (clang-workload, fork-cost, snapshot-sizes, attach, hot-path): every
    # such block of the old page is kept, in its order, before the notes on the method.
    old = open(args.doc).read() if os.path.exists(args.doc) else ""
    kept = [m.group(0) for m in re.finditer(r"<!-- ([a-z][a-z0-9-]*): .*?<!-- /\1 -->\n?", old, re.S)]
    if kept:
        blocks = "\n".join(b if b.endswith("\n") else b + "\n" for b in kept)
        i = text.find("\n## Notes on the method")
        text = text[:i + 1] + blocks + "\n" + text[i + 1:] if i >= 0 else text + "\n" + blocks
    with open(args.doc, "w") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
