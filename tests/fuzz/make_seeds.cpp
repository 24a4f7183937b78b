// make_seeds.cpp -- writes the small hsnap seed files of the fuzz corpus
// (tests/fuzz/corpus/hsnap/) with the tests' independent hsnap writer. Run by
// hand when the format changes: make_seeds DIR. The seeds are kept in git.
// Version-1 seeds (full, sampled, empty) and version-2 ones (v2_*): the
// chain seeds hold a chained file followed by its predecessors, newest first
// (fuzz_reader.cpp splits them at each magic).
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
    b.v2 = true;
    if (!b.write(dir + "/v2_empty.hsnap")) return 1;
  }
  // Version 2: a self-contained file with shared callers, a truncated and an
  // overflow stack; a sampled one; a chain of three.
  hsnap_test::Builder one;
  one.v2 = true;
  one.header.seq = 1;
  one.header.trigger = HS_TRIGGER_INTERVAL;
  one.meta = {{"exe", "/opt/app"}};
  one.add_module("/opt/app", 0x400000, 0x401000, 0, HS_MODULE_MAIN, "\x12\x34");
  uint32_t a = one.add_stack({0x400100, 0x400200, 0x400300});
  uint32_t c = one.add_stack({0x400110, 0x400200, 0x400300});
  uint32_t t = one.add_stack({0x400120, 0x400200}, HS_STACK_TRUNCATED);
  uint32_t o = one.add_stack({}, HS_STACK_OVERFLOW);
  one.add_site(a, 1000, 10, 2000, 20);
  one.add_site(c, 8, 1, 16, 2);
  one.add_site(t, 0, 0, 64, 1);
  one.add_site(o, 3, 3, 3, 3);
  if (!one.write(dir + "/v2_full.hsnap")) return 1;
  {
    hsnap_test::Builder s = one;
    s.header.mode = HS_MODE_SAMPLED;
    s.header.sample_period = 4096;
    s.sites[0].sampled_inuse_count = 2, s.sites[0].sampled_alloc_count = 3;
    if (!s.write(dir + "/v2_sampled.hsnap")) return 1;
  }
  hsnap_test::Builder two = one;
  two.header.seq = 2;
  two.base = &one, two.base_name = "p.4242.0001.hsnap";
  two.sites[0].inuse_bytes = 3000;
  two.sites.erase(two.sites.begin() + 1);
  two.add_site(two.add_stack({0x400130, 0x400200, 0x400300}), 5, 5, 5, 5);
  hsnap_test::Builder three = two;
  three.header.seq = 3;
  three.base = &two, three.base_name = "p.4242.0002.hsnap";
  three.add_site(three.add_stack({0x400900}), 7, 1, 7, 1);
  if (!hsnap_test::Builder::write_file(dir + "/v2_chain2.hsnap", two.bytes() + one.bytes())) return 1;
  if (!hsnap_test::Builder::write_file(dir + "/v2_chain3.hsnap", three.bytes() + two.bytes() + one.bytes())) return 1;
  return 0;
}
