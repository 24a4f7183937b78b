#!/usr/bin/env python3
"""Tests of scale_windows.py: on the shipped rules (every window divided, nothing else
changed, and promtool accepts the result) and on what it must refuse.

Usage: scale_windows_test.py RULES_FILE
"""
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "scale_windows.py")


def run(factor, text):
    return subprocess.run([sys.executable, SCRIPT, str(factor)], input=text, capture_output=True,
                          text=True, timeout=30)


def check(cond, what):
    if not cond:
        sys.exit(f"FAIL: {what}")


def main():
    rules = open(sys.argv[1]).read()
    r = run(30, rules)
    check(r.returncode == 0, f"scale_windows.py 30 < {sys.argv[1]}: exit {r.returncode}, stderr {r.stderr!r}")
    changed = [(a, b) for a, b in zip(rules.splitlines(), r.stdout.splitlines()) if a != b]
    check(len(rules.splitlines()) == len(r.stdout.splitlines()), "the line count changed")
    want = [
        ("deriv(heapscope_heap_inuse_bytes[30m]) > 0", "deriv(heapscope_heap_inuse_bytes[1m]) > 0"),
        ("predict_linear(heapscope_heap_inuse_bytes[30m], 4 * 3600) > 1.5 * heapscope_heap_inuse_bytes",
         "predict_linear(heapscope_heap_inuse_bytes[1m], 480) > 1.5 * heapscope_heap_inuse_bytes"),
        ("for: 1h", "for: 2m"),
        ("for: 15m", "for: 30s"),
        ("predict_linear(process_resident_memory_bytes[1h], 4 * 3600) >= heapscope_memory_limit_bytes",
         "predict_linear(process_resident_memory_bytes[2m], 480) >= heapscope_memory_limit_bytes"),
        ("for: 15m", "for: 30s"),
    ]
    got = [(a.strip(), b.strip()) for a, b in changed]
    check(got == want, f"changed lines {got}, expected {want}")

    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "scaled.rules.yml")
        with open(path, "w") as f:
            f.write(r.stdout)
        c = subprocess.run(["promtool", "check", "rules", path], capture_output=True, text=True, timeout=60)
        check(c.returncode == 0 and "SUCCESS: 3 rules found" in c.stdout,
              f"promtool check rules on the scaled file: exit {c.returncode}, {c.stdout} {c.stderr}")

    # Units, compound durations, milliseconds, subqueries.
    r = run(4, "  expr: max_over_time(x[1h30m:1m]) and rate(y[2s])\n  for: 10s\n")
    check(r.returncode == 0 and r.stdout == "  expr: max_over_time(x[22m30s:15s]) and rate(y[500ms])\n  for: 2s500ms\n",
          f"compound durations: {r.stdout!r} {r.stderr!r}")
    # Comments stay as they are.
    r = run(4, "# [30m] for: 1h\n")
    check(r.stdout == "# [30m] for: 1h\n", f"a comment was rewritten: {r.stdout!r}")
    # Refusals, each naming the line and the value.
    for text, message in [
        ("  expr: rate(x[7ms])\n", "line 1: 7ms: 7 / 4 is not a whole number"),
        ("  expr: rate(x[5x])\n", "line 1: '5x' is not a Prometheus duration"),
        ("  expr: predict_linear(x[1h], 3600 + 60)\n", "line 1: predict_linear's horizon '3600 + 60'"),
        ("  expr: x offset 5m\n", "line 1: `offset` is not scaled"),
        ("  for: soon\n", "line 1: 'soon' is not a Prometheus duration"),
    ]:
        r = run(4, text)
        check(r.returncode != 0 and message in r.stderr, f"{text.strip()!r}: exit {r.returncode}, stderr {r.stderr!r}, "
              f"expected {message!r}")
    r = run(0, "")
    check(r.returncode != 0 and "usage" in r.stderr, f"FACTOR 0 accepted: {r.stderr!r}")
    print("ok scale_windows")


if __name__ == "__main__":
    main()
