// make_seeds.cpp -- writes the small hsnap seed files of the fuzz corpus
// (tests/fuzz/corpus/hsnap/) with the tests' independent hsnap writer. Run by
// hand when the format changes: make_seeds DIR. The seeds are kept in git.
#include <string>

#include "hsnap_builder.h"

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  std::string dir = argv[1];
  {
    hsnap_test::Builder b;
    b.meta = {{"exe", "/opt/app"}, {"allocator", "glibc"}};
    b.add_module("/opt/app", 0x400000, 0x401000, 0, HS_MODULE_MAIN, "\x12\x34");
    uint32_t s = b.add_stack({0x400100, 0x400200});
    b.add_site(s, 1000, 10, 2000, 20);
    b.stats = {{"hook_calls", 5}};
    if (!b.write(dir + "/full.hsnap")) return 1;
  }
  {
    hsnap_test::Builder b;
    b.header.mode = HS_MODE_SAMPLED;
    b.header.sample_period = 4096;
    b.header.trigger = HS_TRIGGER_EXIT;
    b.add_module("/lib/libc.so.6", 0x7f0000000000, 0x7f0000100000, 0x7f0000000000);
    uint32_t a = b.add_stack({0x7f0000000010});
    uint32_t c = b.add_stack({0x7f0000000020, 0x7f0000000010});
    b.add_site(a, 4096, 1, 4096, 1);
    b.add_site(c, 0, 0, 8192, 2);
    if (!b.write(dir + "/sampled.hsnap")) return 1;
  }
  {
    hsnap_test::Builder b;  // no sites, no modules
    if (!b.write(dir + "/empty.hsnap")) return 1;
  }
  return 0;
}
