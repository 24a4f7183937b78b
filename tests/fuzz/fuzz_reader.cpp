// fuzz_reader.cpp -- one libFuzzer target per reader, chosen at compile time
// with -DFUZZ_READER=read_hsnap | read_gperftools | read_jemalloc.
//
// Contract under test (RELIABILITY.md, "The readers"): any input ends in a
// Profile or a FormatError; never a crash, an ASan/UBSan report, a hang or
// unbounded memory. Built with clang -fsanitize=fuzzer,address,undefined and
// -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION (the foreign readers then do not
// open the ELF files their maps name, so runs are deterministic).
//
// hsnap chains: an input holding more than one snapshot (each starting with
// the magic at an 8-aligned offset) is a chain, newest first: the first
// snapshot is read, and the loader hands out the next one each time the
// reader asks for a predecessor (whatever name it asks for), so a chain's
// identity and hash checks and the state it rebuilds are fuzzed too.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "hsnap_format.h"
#include "reader/reader.h"

namespace {
heapscope::Profile read_input(std::string_view in) {
#ifdef FUZZ_HSNAP_CHAIN
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (size_t at = 8; at + HS_MAGIC_LEN <= in.size(); at += 8)
    if (std::memcmp(in.data() + at, HS_MAGIC, HS_MAGIC_LEN) == 0) {
      parts.push_back(in.substr(start, at - start));
      start = at;
    }
  parts.push_back(in.substr(start));
  size_t next = 1;
  heapscope::HsnapLoader loader = [&](const std::string& path) -> std::string {
    if (next >= parts.size()) throw heapscope::FormatError(path + ": cannot open: not in the input");
    return std::string(parts[next++]);
  };
  return heapscope::read_hsnap(parts[0], "fuzz-input", loader);
#else
  return heapscope::FUZZ_READER(in, "fuzz-input");
#endif
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    heapscope::Profile p = read_input(std::string_view(reinterpret_cast<const char*>(data), size));
    // Touch the result so the figures are computed and kept.
    volatile size_t n = p.sites.size() + p.modules.size();
    (void)n;
  } catch (const heapscope::FormatError&) {
  }
  return 0;
}
