#!/usr/bin/env python3
"""test_counts.py -- heapscope's totals against an independent count.

  exact:  alloc_mix (every hooked function) under LD_PRELOAD=countshim:heapscope
          and heapscope:countshim: the program's ledger == heapscope's deltas ==
          countshim's deltas over the same region, and stdout equals the plain run.
  orders: countshim, libjemalloc.so.2 and libheapscope.so preloaded in all six
          orders: no hang, same stdout, and each layer sees the program's calls
          exactly when it comes before jemalloc (jemalloc does not forward).
"""
import itertools
import re
import sys

import rel
from rel import check


def measure(res):
    m = re.search(rb"^measure (.*)$", res.err, re.M)
    check(m, "no 'measure' line on stderr\n" + res.describe())
    return {k: int(v) for k, v in (kv.split("=") for kv in m.group(1).decode().split())}


def ledger(res):
    m = re.search(rb"^ledger (.*)$", res.out, re.M)
    check(m, "no 'ledger' line on stdout\n" + res.describe())
    return {k: int(v) for k, v in (kv.split("=") for kv in m.group(1).decode().split())}


def test_exact():
    prog = rel.prog("alloc_mix")
    plain = rel.run([prog, "300"])
    check(plain.rc == 0, "plain run failed\n" + plain.describe())
    L = ledger(plain)
    for order in ([rel.SHIM, rel.LIB], [rel.LIB, rel.SHIM]):
        r = rel.run([prog, "300"], preload=order, env_extra={"HEAPSCOPE_OUT": rel.tmpdir("exact") + "/hs"})
        rel.same_behaviour(plain, r, "alloc_mix LD_PRELOAD=%s" % ":".join(order))
        m = measure(r)
        what = "alloc_mix with LD_PRELOAD=%s" % ":".join(order)
        check(m["hs_allocs"] == L["allocs"], "%s: heapscope alloc_count delta %d, ledger %d" % (what, m["hs_allocs"], L["allocs"]))
        check(m["hs_bytes"] == L["bytes"], "%s: heapscope alloc_bytes delta %d, ledger %d" % (what, m["hs_bytes"], L["bytes"]))
        check(m["hs_inuse"] == L["live"], "%s: heapscope inuse_count delta %d, ledger live %d" % (what, m["hs_inuse"], L["live"]))
        check(m["hs_inuse_bytes"] == L["live_bytes"],
              "%s: heapscope inuse_bytes delta %d, ledger %d" % (what, m["hs_inuse_bytes"], L["live_bytes"]))
        check(m["cs_allocs"] == L["allocs"], "%s: countshim allocs delta %d, ledger %d" % (what, m["cs_allocs"], L["allocs"]))
        check(m["cs_frees"] == L["frees"], "%s: countshim frees delta %d, ledger %d" % (what, m["cs_frees"], L["frees"]))
        check(m["cs_bytes"] == L["bytes"], "%s: countshim bytes delta %d, ledger %d" % (what, m["cs_bytes"], L["bytes"]))


def test_orders():
    prog = rel.prog("alloc_mix")
    argv = [prog, "100", "portable"]  # no reallocarray/pvalloc: jemalloc lacks them
    # The reference is jemalloc alone: the same allocator, without countshim or heapscope.
    plain = rel.run(argv, preload=[rel.JEMALLOC])
    check(plain.rc == 0, "alloc_mix with jemalloc alone failed\n" + plain.describe())
    L = ledger(plain)
    names = {rel.SHIM: "countshim", rel.JEMALLOC: "jemalloc", rel.LIB: "heapscope"}
    for order in itertools.permutations([rel.SHIM, rel.JEMALLOC, rel.LIB]):
        order = list(order)
        desc = "LD_PRELOAD=" + ":".join(names[x] for x in order)
        r = rel.run(argv, preload=order, timeout=30,
                    env_extra={"HEAPSCOPE_OUT": rel.tmpdir("orders") + "/hs"})
        rel.same_behaviour(plain, r, "alloc_mix " + desc)
        m = measure(r)
        je = order.index(rel.JEMALLOC)
        hs_sees = order.index(rel.LIB) < je
        cs_sees = order.index(rel.SHIM) < je
        want_hs = L["allocs"] if hs_sees else 0
        want_cs = L["allocs"] if cs_sees else 0
        check(m["hs_allocs"] == want_hs, "%s: heapscope counted %d allocations, expected %d (%s jemalloc)" % (
            desc, m["hs_allocs"], want_hs, "before" if hs_sees else "after"))
        check(m["cs_allocs"] == want_cs, "%s: countshim counted %d allocations, expected %d" % (desc, m["cs_allocs"], want_cs))
        if hs_sees:
            check(m["hs_bytes"] == L["bytes"] and m["hs_inuse"] == L["live"],
                  "%s: heapscope bytes %d live %d, ledger bytes %d live %d" % (desc, m["hs_bytes"], m["hs_inuse"], L["bytes"], L["live"]))


if __name__ == "__main__":
    rel.main({"exact": test_exact, "orders": test_orders}[sys.argv[1]])
