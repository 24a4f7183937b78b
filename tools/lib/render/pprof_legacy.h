// pprof_legacy.h -- the legacy text heap profile Go serves for
// /debug/pprof/heap?debug=1, which `go tool pprof` and pprof's
// legacy_profile.go parser read.
//
// Owns: the text layout: `heap profile: <inuse_objs>: <inuse_B> [<alloc_objs>:
// <alloc_B>] @ heap/2` (every allocation recorded: period 1, pprof scales
// nothing) or `@ heapprofile` (sampled: heapscope's figures are unbiased
// estimates already, so pprof must not scale them again); one record per
// site, `<n>: <B> [<n>: <B>] @ 0xpc 0xpc...`, each pc followed by `#\t0xpc\t
// function+0xoff\tfile:line` lines, the offset from the covering ELF symbol's entry as Go prints it (inlined frames first); a `# heapscope`
// block of totals; and a `MAPPED_LIBRARIES:` section of /proc/PID/maps-style
// lines from the snapshot's modules, so pprof can symbolize locally too.
// As Go does, alloc_B is bumped by 1 when it equals inuse_B.
// Safety: pure; not thread-safe (the lookup caches).
#pragma once

#include <string>

#include "render/stacks.h"

namespace heapscope {

std::string render_pprof_legacy_text(const ExportInput& in);

}  // namespace heapscope
