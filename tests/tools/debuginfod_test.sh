#!/bin/bash
# debuginfod_test.sh HEAPSCOPE PROGRAMS_DIR CONTAINERS_SOURCE
#
# Debug info by build-id from a debuginfod server (issue 10, item 4). A copy
# of the containers test program is stripped of everything (no .symtab, no
# DWARF) and its debug file (objcopy --only-keep-debug) is served by Debian's
# debuginfod on 127.0.0.1 on a free port. With DEBUGINFOD_URLS pointing at it
# (and a private DEBUGINFOD_CACHE_PATH) `heapscope report` names fill_map and
# its file:line, and says which modules were fetched (text line, JSON key)
# and which the server lacked (the stripped plugin, whose debug file it does
# not have). Without the variable nothing is fetched and the frame shows
# prog+0xOFFSET.
#
# debuginfod has no option to bind one address (it listens on every
# interface), so the whole test runs in a private network namespace
# (unshare --net, root) whose only interface is lo: the server is reachable
# at 127.0.0.1 and from nowhere else. It is stopped on every exit path.
set -u
HEAPSCOPE=$1 PROGRAMS=$2 SOURCE=$3

fail() { echo "FAIL: $*" >&2; exit 1; }

if [ -z "${HS_DEBUGINFOD_NETNS:-}" ]; then
  command -v unshare >/dev/null || fail "unshare (util-linux) is needed"
  exec env HS_DEBUGINFOD_NETNS=1 unshare --net -- bash "$0" "$@"
fi
command -v debuginfod >/dev/null || fail "debuginfod is not installed (tests/packages.txt: debuginfod)"
ip link set lo up || fail "cannot bring lo up in the test's network namespace"

work=$(mktemp -d /tmp/heapscope-debuginfod-XXXXXX) || fail "mktemp"
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$server_pid" 2>/dev/null
    wait "$server_pid" 2>/dev/null
  fi
  [ -n "${HS_KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

mkdir -p "$work/bin" "$work/srv" "$work/out" "$work/out2"
prog=$work/bin/prog
cp "$PROGRAMS/containers" "$prog" || fail "copy $PROGRAMS/containers"
objcopy --only-keep-debug "$prog" "$work/srv/prog.debug" || fail "objcopy --only-keep-debug"
strip --strip-all "$prog" || fail "strip"
readelf -S "$prog" | grep -q -E '\.symtab|\.debug_info' && fail "$prog still has .symtab or DWARF"
id=$(readelf -n "$prog" | awk '/Build ID:/ {print $3}')
[ -n "$id" ] || fail "$prog has no build-id"
plugin=$PROGRAMS/libhs_test_plugin_stripped.so
# The stripped program writes its own snapshots (map.hsnap, plugin1.hsnap).
"$prog" "$work/out" "$plugin" || fail "$prog failed"
line=$(grep -n 'LINE:map' "$SOURCE" | cut -d: -f1)
[ -n "$line" ] || fail "no LINE:map in $SOURCE"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
debuginfod -p "$port" -F -d "$work/db.sqlite" -c 1 -t 0 -g 0 "$work/srv" >"$work/server.log" 2>&1 &
server_pid=$!
url=http://127.0.0.1:$port
# Ready when it serves the debug file by build-id: bounded by count (600 x 0.2 s).
ready=
for _ in $(seq 1 600); do
  kill -0 "$server_pid" 2>/dev/null || fail "debuginfod exited: $(cat "$work/server.log")"
  code=$(curl -s -o /dev/null -w '%{http_code}' "$url/buildid/$id/debuginfo" || true)
  if [ "$code" = 200 ]; then ready=1; break; fi
  sleep 0.2
done
[ -n "$ready" ] || fail "debuginfod on $url never served buildid $id: $(tail -20 "$work/server.log")"

# With DEBUGINFOD_URLS: fetched by build-id, named down to the line.
export DEBUGINFOD_CACHE_PATH=$work/cache
export DEBUGINFOD_URLS=$url
"$HEAPSCOPE" report --json "$work/out/map.hsnap" >"$work/map.json" 2>"$work/map.err" ||
  fail "report --json map.hsnap: $(cat "$work/map.err")"
"$HEAPSCOPE" report --json "$work/out/plugin1.hsnap" >"$work/plugin.json" 2>"$work/plugin.err" ||
  fail "report --json plugin1.hsnap: $(cat "$work/plugin.err")"
"$HEAPSCOPE" report "$work/out/map.hsnap" >"$work/map.txt" 2>"$work/map.err" ||
  fail "report map.hsnap: $(cat "$work/map.err")"
[ -f "$work/cache/$id/debuginfo" ] || fail "nothing in the client cache at $work/cache/$id/debuginfo"
python3 - "$work" "$prog" "$plugin" "$line" "$url" <<'EOF' || exit 1
import json, sys
work, prog, plugin, line, url = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
def check(ok, what):
    if not ok:
        print("FAIL:", what, file=sys.stderr)
        sys.exit(1)
m = json.load(open(work + "/map.json"))
o = m["sites"][0]["origin"]
check(o["function"] == "fill_map(long)", "origin %r, expected fill_map(long)" % o)
check(o["file"].endswith("/containers.cpp") and o["line"] == line, "origin %r, expected containers.cpp:%d" % (o, line))
d = m["debuginfod"]
check(d is not None and d["urls"] == url and d["client"], "debuginfod key %r" % d)
check(d["fetched"] == [prog], "fetched %r, expected [%r]" % (d["fetched"], prog))
check(prog not in d["missing"], "missing %r names the fetched program" % d["missing"])
p = json.load(open(work + "/plugin.json"))["debuginfod"]
check(p["fetched"] == [prog], "plugin1: fetched %r, expected [%r]" % (p["fetched"], prog))
check(plugin in p["missing"], "plugin1: missing %r lacks %s (the server has no debug file for it)" % (p["missing"], plugin))
names = [f["function"] for s in json.load(open(work + "/plugin.json"))["sites"] for f in s["frames"]
         if f["module"] == plugin]
check(names and all(n == "plugin_fill" for n in names), "plugin frames %r, expected plugin_fill (.dynsym)" % names)
EOF
grep -q -x "debuginfod: fetched prog; not on the server: .*" "$work/map.txt" ||
  grep -q -x "debuginfod: fetched prog" "$work/map.txt" || fail "no debuginfod line in the report:
$(cat "$work/map.txt")"
grep -q "> fill_map  containers.cpp:$line" "$work/map.txt" || fail "report does not name fill_map containers.cpp:$line:
$(cat "$work/map.txt")"

# Without DEBUGINFOD_URLS: nothing asked, nothing cached, the frame is prog+0x...
unset DEBUGINFOD_URLS
export DEBUGINFOD_CACHE_PATH=$work/cache2
"$HEAPSCOPE" report --json "$work/out/map.hsnap" >"$work/bare.json" 2>"$work/bare.err" ||
  fail "report --json (no URLS): $(cat "$work/bare.err")"
"$HEAPSCOPE" report "$work/out/map.hsnap" >"$work/bare.txt" 2>>"$work/bare.err" ||
  fail "report (no URLS): $(cat "$work/bare.err")"
[ -e "$work/cache2" ] && fail "without DEBUGINFOD_URLS the client cache $work/cache2 was created"
grep -q "^debuginfod:" "$work/bare.txt" && fail "debuginfod line without DEBUGINFOD_URLS"
grep -q "fill_map" "$work/bare.txt" && fail "fill_map named without debug info:
$(cat "$work/bare.txt")"
grep -q -E '  prog\+0x[0-9a-f]+' "$work/bare.txt" || fail "no prog+0x... frame:
$(cat "$work/bare.txt")"
python3 - "$work" "$prog" <<'EOF' || exit 1
import json, sys
work, prog = sys.argv[1], sys.argv[2]
m = json.load(open(work + "/bare.json"))
def check(ok, what):
    if not ok:
        print("FAIL:", what, file=sys.stderr)
        sys.exit(1)
check(m["debuginfod"] is None, "debuginfod key %r without DEBUGINFOD_URLS" % m["debuginfod"])
f = [f for f in m["sites"][0]["frames"] if f["module"] == prog]
check(f, "no frame in %s" % prog)
check(all(x["function"] is None and x["offset"].startswith("0x") for x in f), "frames %r: expected function null, offset 0x..." % f)
EOF
echo "debuginfod_test: 1 passed, 0 failed"
