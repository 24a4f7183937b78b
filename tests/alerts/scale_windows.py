#!/usr/bin/env python3
"""Divides every time span of a Prometheus rules file by FACTOR.

Usage: scale_windows.py FACTOR < heapscope.rules.yml > scaled.rules.yml

The time spans are exactly (docs/alerts/heapscope.rules.yml says so in its header):
  - range selectors' durations:          metric[30m]       -> metric[60s]   (FACTOR 30)
  - `for:` durations:                    for: 1h           -> for: 2m
  - predict_linear's horizon in seconds: predict_linear(x[1h], 4 * 3600) -> predict_linear(x[2m], 480)
Everything else is copied byte for byte, so the scaled file is the shipped rule text with
shorter windows. A result that is not a whole number of milliseconds, a duration it cannot
parse, or a horizon that is not a product of integers is an error naming the line.
"""
import re
import sys

UNITS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000,
         "y": 31_536_000_000}
DURATION = re.compile(r"((?:\d+(?:ms|[smhdwy]))+)")
PART = re.compile(r"(\d+)(ms|[smhdwy])")


class ScaleError(Exception):
    pass


def parse_ms(text, where):
    pos, total = 0, 0
    for m in PART.finditer(text):
        if m.start() != pos:
            break
        total += int(m.group(1)) * UNITS[m.group(2)]
        pos = m.end()
    if pos != len(text) or total == 0:
        raise ScaleError(f"{where}: {text!r} is not a Prometheus duration, expected e.g. 30m or 1h30m")
    return total


def divide(value, factor, where):
    if value % factor:
        raise ScaleError(f"{where}: {value} / {factor} is not a whole number")
    return value // factor


def format_ms(ms):
    """Largest units first, as Prometheus writes them: 90000 -> 1m30s, 2500 -> 2s500ms."""
    parts = []
    for unit in ("h", "m", "s", "ms"):
        if ms >= UNITS[unit]:
            parts.append(f"{ms // UNITS[unit]}{unit}")
            ms %= UNITS[unit]
    return "".join(parts)


def scale_duration(text, factor, where):
    return format_ms(divide(parse_ms(text, where), factor, f"{where}: {text}"))


def scale_horizons(line, factor, where):
    """predict_linear(SELECTOR, HORIZON): HORIZON, a product of integers, divided by factor."""
    out, pos = [], 0
    for m in re.finditer(r"predict_linear\s*\(", line):
        if m.start() < pos:
            continue
        depth, i, comma = 1, m.end(), None
        while i < len(line) and depth:
            c = line[i]
            if c in "([{":
                depth += 1
            elif c in ")]}":
                depth -= 1
            elif c == "," and depth == 1:
                comma = i
            i += 1
        if depth or comma is None:
            raise ScaleError(f"{where}: predict_linear( without its two arguments on one line")
        close = i - 1
        horizon = line[comma + 1:close]
        factors = [f.strip() for f in horizon.split("*")]
        if not all(re.fullmatch(r"\d+", f) for f in factors):
            raise ScaleError(f"{where}: predict_linear's horizon {horizon.strip()!r} is not a product "
                             "of integers (seconds)")
        seconds = 1
        for f in factors:
            seconds *= int(f)
        scaled = divide(seconds * 1000, factor, f"{where}: horizon {horizon.strip()}")
        text = str(scaled // 1000) if scaled % 1000 == 0 else repr(scaled / 1000)
        out.append(line[pos:comma + 1] + " " + text)
        pos = close
    out.append(line[pos:])
    return "".join(out)


def scale(text, factor):
    lines = []
    for n, line in enumerate(text.splitlines(keepends=True), 1):
        where = f"line {n}"
        if line.lstrip().startswith("#"):
            lines.append(line)
            continue
        m = re.match(r"(\s*for:\s*)(\S+)(.*)$", line, re.S)
        if m:
            line = m.group(1) + scale_duration(m.group(2), factor, where) + m.group(3)
        else:
            line = scale_horizons(line, factor, where)
            if re.search(r"\boffset\b", line):
                raise ScaleError(f"{where}: `offset` is not scaled; write the window as a range instead")
            line = re.sub(r"\[([^\]]+)\]", lambda r: "[" + ":".join(
                scale_duration(part.strip(), factor, where) if part.strip() else ""
                for part in r.group(1).split(":")) + "]", line)
        lines.append(line)
    return "".join(lines)


def main():
    if len(sys.argv) != 2 or not re.fullmatch(r"[1-9]\d*", sys.argv[1]):
        sys.exit("usage: scale_windows.py FACTOR < rules.yml > scaled.yml (FACTOR a positive integer)")
    try:
        sys.stdout.write(scale(sys.stdin.read(), int(sys.argv[1])))
    except ScaleError as e:
        sys.exit(f"scale_windows.py: stdin {e}")


if __name__ == "__main__":
    main()
