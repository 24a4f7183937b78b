// pprof.h -- the pprof exporter: a gzipped perftools.profiles.Profile
// (profile.proto) that `go tool pprof`, Pyroscope and Parca read.
//
// Owns: the mapping from a heapscope Profile to profile.proto: sample types
// alloc_objects/count, alloc_space/bytes, inuse_objects/count,
// inuse_space/bytes (default inuse_space); one Sample per site (per
// symbolized stack for a differential profile) with location ids leaf first;
// one Location per raw pc (address = the raw return address) whose lines are
// the symbolized frames, inlined ones first; Functions; one Mapping per mapped
// range of each module with its build-id; period type space/bytes with the
// sampling period (1 when every allocation was recorded).
// Safety: pure computation over the inputs; throws std::runtime_error only if
// zlib fails. Not thread-safe (the lookups cache).
#pragma once

#include <string>

#include "render/stacks.h"

namespace heapscope {

// The serialized, uncompressed Profile message. With base, every value is
// NEW minus BASE per symbolized stack (negative where the stack shrank).
std::string pprof_message(const ExportInput& now, const ExportInput* base);

// pprof_message() wrapped in gzip, as pprof files are stored.
std::string render_pprof(const ExportInput& now, const ExportInput* base);

// gzip (RFC 1952) of bytes, via zlib.
std::string gzip_bytes(const std::string& bytes);

}  // namespace heapscope
