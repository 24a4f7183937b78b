// reader.h -- read any supported heap profile file into a Profile.
//
// Owns: format detection and dispatch. One file per format:
//   hsnap_reader.cpp      heapscope's own snapshots (profiler/format/hsnap_format.h)
//   gperftools_reader.cpp gperftools HEAPPROFILE text ("heap profile: ...")
//   jemalloc_reader.cpp   jemalloc prof dumps ("heap_v2/...")
// Every reader throws FormatError naming the file, the offset and what is
// wrong; none crashes, hangs or allocates without bound on hostile input.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "model/profile.h"

namespace heapscope {

// Reads the file at path, detecting its format from its first bytes.
Profile read_profile(const std::string& path);
// The bytes of a profile file, with read_profile's checks and bounds.
std::string read_profile_bytes(const std::string& path);

// Per-format entry points over bytes already read (path is for messages).
// Each throws FormatError; "not this format" is reported by read_profile.
// A chained hsnap (version 2) names its predecessor; read_hsnap reads it
// through the loader (the file's bytes, or a FormatError naming it).
// read_profile passes one that reads the file system; without one a chained
// file is an error.
using HsnapLoader = std::function<std::string(const std::string& path)>;
Profile read_hsnap(std::string_view data, const std::string& path, const HsnapLoader& loader = {});
Profile read_gperftools(std::string_view data, const std::string& path);
Profile read_jemalloc(std::string_view data, const std::string& path);

}  // namespace heapscope
