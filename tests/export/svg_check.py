#!/usr/bin/env python3
"""svg_check.py SVG FUNCTION BYTES -- checks a heapscope flame graph: well-formed
XML (xml.etree), self-contained (no external references), the hover / zoom /
reset script present, the total bytes in the title, and a frame FUNCTION of
exactly BYTES bytes whose hover text names its bytes and percent."""
import re
import sys
import xml.etree.ElementTree as ET

path, function, nbytes = sys.argv[1], sys.argv[2], int(sys.argv[3])
NS = "{http://www.w3.org/2000/svg}"
text = open(path, encoding="utf-8").read()
root = ET.fromstring(text)  # raises on malformed XML
assert root.tag == NS + "svg", root.tag
total = int(root.get("data-total"))
title = root.find(NS + "title").text
assert f"({total} bytes)" in title, title
script = root.find(NS + "script").text
for needed in ("function hsZoom(", "'mouseover'", "'click'", "function hsInit(", "'reset'"):
    assert needed in script, needed
assert root.find(f".//{NS}text[@id='reset']") is not None
assert root.find(f".//{NS}text[@id='details']") is not None
assert not re.search(r"(href|src)\s*=", text), "external reference"
assert "http://" not in text.replace("http://www.w3.org/2000/svg", ""), "network reference"
frames = root.find(f".//{NS}g[@id='frames']")
frame_gs = [g for g in frames if g.tag == NS + "g"]
hits = [g for g in frame_gs if g.get("data-n") == function]
assert hits, f"no frame named {function}"
assert sum(int(g.get("data-v")) for g in hits) == nbytes, [g.get("data-v") for g in hits]
tip = hits[0].find(NS + "title").text
assert re.fullmatch(re.escape(function) + r" \(\d+ bytes, \d+\.\d\d%\)", tip), tip
kinds = {g.find(NS + "rect").get("fill") for g in frame_gs}
assert len(kinds) > 1, "frames are not coloured"
print(f"svg ok: {len(frame_gs)} frames, total {total} bytes")
