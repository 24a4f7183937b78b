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
// By default each sample's stack starts at its origin (origin.h, allocation
// wrappers skipped: wrappers.h), the frames below it (allocator, operator
// new, std:: templates, wrappers) dropped as pprof's own drop_frames does: the
// location of the origin's pc keeps only the lines from the origin outward.
// A sample with no frame of the program's own code starts at the library
// that allocated (find_library_frame), or keeps everything when there is
// none. The Profile's drop_frames names the allocation entry points, so pprof
// drops the same frames from such a sample. Each sample carries the labels
// "origin" ("function file:line") and "container" ("std::map<long, Entry>")
// when it has them. PprofOptions::all_frames keeps every frame (and sets no
// drop_frames).
// Safety: pure computation over the inputs; throws std::runtime_error only if
// zlib fails. Not thread-safe (the lookups cache).
#pragma once

#include <string>

#include "analyze/wrappers.h"
#include "render/stacks.h"

namespace heapscope {

struct PprofOptions {
  bool all_frames = false;              // keep the frames below the origin too
  const WrapperSet* wrappers = nullptr;  // skipped when choosing origins; none when null
  // Profile.default_sample_type: "inuse_space" (the export, Go's /heap), or
  // "alloc_space" (Go's /debug/pprof/allocs).
  std::string default_sample_type = "inuse_space";
  // Profile.duration_nanos when > 0 (a delta over a time span: heapscope
  // serve's ?seconds=N, NEW's time minus BASE's).
  int64_t duration_nanos = 0;
};

// The serialized, uncompressed Profile message. With base, every value is
// NEW minus BASE per symbolized stack (negative where the stack shrank).
std::string pprof_message(const ExportInput& now, const ExportInput* base,
                          const PprofOptions& options = {});

// pprof_message() wrapped in gzip, as pprof files are stored.
std::string render_pprof(const ExportInput& now, const ExportInput* base,
                         const PprofOptions& options = {});

// gzip (RFC 1952) of bytes, via zlib.
std::string gzip_bytes(const std::string& bytes);

}  // namespace heapscope
