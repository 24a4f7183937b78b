// fuzz_reader.cpp -- one libFuzzer target per reader, chosen at compile time
// with -DFUZZ_READER=read_hsnap | read_gperftools | read_jemalloc.
//
// Contract under test (RELIABILITY.md, "The readers"): any input ends in a
// Profile or a FormatError; never a crash, an ASan/UBSan report, a hang or
// unbounded memory. Built with clang -fsanitize=fuzzer,address,undefined and
// -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION (the foreign readers then do not
// open the ELF files their maps name, so runs are deterministic).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "reader/reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    heapscope::Profile p =
        heapscope::FUZZ_READER(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz-input");
    // Touch the result so the figures are computed and kept.
    volatile size_t n = p.sites.size() + p.modules.size();
    (void)n;
  } catch (const heapscope::FormatError&) {
  }
  return 0;
}
