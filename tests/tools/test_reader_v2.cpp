// test_reader_v2.cpp -- hsnap version 2 through read_profile() / read_hsnap():
// a self-contained v2 file reads exactly as the same snapshot in version 1;
// a chain reads back exactly as a self-contained file of the same state; a
// missing or corrupt predecessor is an error naming it; hostile v2 fields
// each end in a FormatError. Files come from the tests' own writer
// (hsnap_builder.h), independent of the profiler's.
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "hsnap_builder.h"
#include "reader/reader.h"
#include "test_util.h"

using namespace heapscope;
using hsnap_test::Builder;

namespace {

// A program's snapshot: stacks sharing callers, a truncated one, an
// overflow one (depth 0), sites with exact figures.
Builder first_builder() {
  Builder b;
  b.header.pid = 77;
  b.header.seq = 1;
  b.header.trigger = HS_TRIGGER_INTERVAL;
  b.meta = {{"exe", "/usr/bin/prog"}};
  b.stats = {{"hook_calls", 9}};
  b.add_module("/usr/bin/prog", 0x555555554000, 0x555555560000, 0x555555554000, HS_MODULE_MAIN, "\x01\x02");
  uint32_t a = b.add_stack({0x555555555100, 0x555555555200, 0x555555555300});
  uint32_t c = b.add_stack({0x555555555110, 0x555555555200, 0x555555555300});
  uint32_t d = b.add_stack({0x7f0000001000, 0x555555555400}, HS_STACK_TRUNCATED);
  uint32_t o = b.add_stack({}, HS_STACK_OVERFLOW);
  b.add_site(a, 1000, 10, 5000, 50);
  b.add_site(c, 24, 1, 48, 2);
  b.add_site(d, 0, 0, 4096, 1);
  b.add_site(o, 7, 7, 7, 7);
  return b;
}

// The next snapshot of the same run: two new stacks (one sharing callers),
// one site grown, one removed, one unchanged.
Builder second_builder(const Builder& first) {
  Builder b = first;
  b.header.seq = 2;
  uint32_t e = b.add_stack({0x555555555120, 0x555555555200, 0x555555555300});
  uint32_t g = b.add_stack({0x555555555900});
  b.sites[0].inuse_bytes = 2000, b.sites[0].inuse_count = 20, b.sites[0].sampled_inuse_count = 20;
  b.sites.erase(b.sites.begin() + 1);  // stack c: all freed and gone
  b.add_site(e, 64, 2, 64, 2);
  b.add_site(g, 1, 1, 1, 1);
  return b;
}

void expect_same_sites(const Profile& a, const Profile& b) {
  ASSERT_EQ(a.sites.size(), b.sites.size());
  for (size_t i = 0; i < a.sites.size(); ++i) {
    EXPECT_EQ(a.sites[i].pcs, b.sites[i].pcs) << i;
    EXPECT_EQ(a.sites[i].truncated, b.sites[i].truncated) << i;
    EXPECT_EQ(a.sites[i].counts.inuse_bytes, b.sites[i].counts.inuse_bytes) << i;
    EXPECT_EQ(a.sites[i].counts.inuse_count, b.sites[i].counts.inuse_count) << i;
    EXPECT_EQ(a.sites[i].counts.alloc_bytes, b.sites[i].counts.alloc_bytes) << i;
    EXPECT_EQ(a.sites[i].counts.alloc_count, b.sites[i].counts.alloc_count) << i;
  }
  EXPECT_EQ(a.totals.inuse_bytes, b.totals.inuse_bytes);
  EXPECT_EQ(a.totals.alloc_count, b.totals.alloc_count);
}

std::string error_of(const std::string& data, const std::string& path = "t.hsnap") {
  try {
    read_hsnap(data, path);
  } catch (const FormatError& e) {
    return e.what();
  }
  return "";
}

// A chain of three files in dir: p.77.0001 <- p.77.0002 <- p.77.0003.
struct Chain {
  Builder one, two, three;
  std::string p1, p2, p3;
  explicit Chain(const std::string& dir) : one(first_builder()), two(second_builder(one)), three(two) {
    three.header.seq = 3;
    three.sites[0].alloc_count = 99, three.sites[0].sampled_alloc_count = 99;
    three.add_site(three.add_stack({0x555555555130, 0x555555555200, 0x555555555300}), 5, 5, 5, 5);
    one.v2 = two.v2 = three.v2 = true;
    two.base = &one, two.base_name = "p.77.0001.hsnap";
    three.base = &two, three.base_name = "p.77.0002.hsnap";
    p1 = dir + "/p.77.0001.hsnap", p2 = dir + "/p.77.0002.hsnap", p3 = dir + "/p.77.0003.hsnap";
    EXPECT_TRUE(one.write(p1) && two.write(p2) && three.write(p3));
  }
  // The same state as `three`, self-contained.
  Builder whole() const {
    Builder w = three;
    w.base = nullptr;
    w.base_name.clear();
    return w;
  }
};

}  // namespace

TEST(ReaderV2, SelfContainedReadsExactlyAsVersion1) {
  Builder v1 = first_builder();
  Builder v2 = v1;
  v2.v2 = true;
  Profile a = read_hsnap(v1.bytes(), "v1.hsnap");
  Profile b = read_hsnap(v2.bytes(), "v2.hsnap");
  expect_same_sites(a, b);
  ASSERT_EQ(b.sites.size(), 4u);
  EXPECT_EQ(b.sites[0].pcs, (std::vector<uint64_t>{0x555555555100, 0x555555555200, 0x555555555300}));
  EXPECT_EQ(b.sites[0].counts.inuse_bytes, 1000);
  EXPECT_TRUE(b.sites[2].truncated);
  EXPECT_TRUE(b.sites[3].pcs.empty());
  EXPECT_EQ(b.pid, 77u);
  EXPECT_EQ(b.seq, 1u);
  EXPECT_EQ(b.meta.at("exe"), "/usr/bin/prog");
  ASSERT_EQ(b.modules.size(), 1u);
  EXPECT_EQ(b.modules[0].build_id, "0102");
  // Shared callers are stored once: the v2 file is smaller.
  EXPECT_LT(v2.bytes().size(), v1.bytes().size());
}

TEST(ReaderV2, SampledFiguresRoundTrip) {
  Builder b = first_builder();
  b.v2 = true;
  b.header.mode = HS_MODE_SAMPLED;
  b.header.sample_period = 4096;
  b.sites[0].sampled_inuse_count = 3, b.sites[0].sampled_alloc_count = 4;
  Builder v1 = b;
  v1.v2 = false;
  Profile p = read_hsnap(b.bytes(), "s.hsnap");
  expect_same_sites(read_hsnap(v1.bytes(), "s1.hsnap"), p);
  EXPECT_TRUE(p.sampled);
  // A changed raw sample count is caught by the sites hash.
  std::string bytes = b.bytes();
  Builder lie = b;
  lie.sites[0].sampled_inuse_count = 5;
  std::string other = lie.bytes();
  // Same layout, different figures: splice the honest CHAIN into the lying file.
  const size_t chain_at = b.section_offsets[4];
  ASSERT_EQ(b.section_offsets, lie.section_offsets);
  other.replace(chain_at, b.section_offsets[5] - chain_at, bytes.substr(chain_at, b.section_offsets[5] - chain_at));
  EXPECT_NE(error_of(other, "lie.hsnap").find("lie.hsnap: offset "), std::string::npos);
  EXPECT_NE(error_of(other, "lie.hsnap").find("sites hash"), std::string::npos) << error_of(other, "lie.hsnap");
}

TEST(ReaderV2, ChainReadsBackExactlyAsSelfContained) {
  TempDir dir;
  Chain c(dir.path);
  Profile chained = read_profile(c.p3);
  Profile whole = read_hsnap(c.whole().bytes(), "whole.hsnap");
  expect_same_sites(chained, whole);
  EXPECT_EQ(chained.sites.size(), 6u);  // a, d, o, e, g and the new one; c was removed in file 2
  EXPECT_EQ(chained.seq, 3u);
  EXPECT_EQ(chained.path, c.p3);
  // Each file of the chain also reads alone as its own state.
  expect_same_sites(read_profile(c.p2), read_hsnap([&] {
                      Builder w = c.two;
                      w.base = nullptr, w.base_name.clear();
                      return w.bytes();
                    }(), "w2.hsnap"));
  // The chained files hold only what changed.
  EXPECT_LT(c.three.bytes().size(), c.whole().bytes().size());
}

TEST(ReaderV2, MissingPredecessorIsAnErrorNamingIt) {
  TempDir dir;
  Chain c(dir.path);
  ASSERT_EQ(unlink(c.p2.c_str()), 0);
  std::string e = profile_error(c.p3);
  EXPECT_EQ(e.rfind(c.p3 + ": its predecessor " + c.p2 + " (seq 2) is missing or unreadable (" + c.p2 +
                        ": cannot open: No such file or directory)",
                    0),
            0u)
      << e;
  // The file before it missing: the error names that one, reached through file 2.
  TempDir dir2;
  Chain d(dir2.path);
  ASSERT_EQ(unlink(d.p1.c_str()), 0);
  e = profile_error(d.p3);
  EXPECT_NE(e.find(d.p1 + ": cannot open"), std::string::npos) << e;
  // Without file access (read_hsnap with no loader) a chained file says so.
  e = error_of(c.three.bytes(), "x/p.77.0003.hsnap");
  EXPECT_EQ(e, "x/p.77.0003.hsnap: its predecessor x/p.77.0002.hsnap (seq 2) cannot be read here (no file access)");
}

TEST(ReaderV2, CorruptPredecessorIsAnErrorNamingIt) {
  TempDir dir;
  {
    Chain c(dir.path);
    // A figure changed inside file 2's SITES2 stream: its own hash check fails.
    std::string two = c.two.bytes();
    const size_t sites2 = c.two.section_offsets[7];  // META TOTALS STATS MODULES CHAIN FRAMES STACKS2 SITES2
    two[sites2 + 16 + 16 + 2] ^= 0x01;
    ASSERT_TRUE(Builder::write_file(c.p2, two));
    std::string e = profile_error(c.p3);
    EXPECT_EQ(e.rfind(c.p3 + ": its predecessor " + c.p2 + " is corrupt: " + c.p2 + ": offset ", 0), 0u) << e;
  }
  {
    Chain c(dir.path);
    // A valid file of another state under the predecessor's name.
    Builder other = c.two;
    other.base = nullptr, other.base_name.clear();
    other.sites[0].inuse_bytes = 1;
    ASSERT_TRUE(other.write(c.p2));
    std::string e = profile_error(c.p3);
    EXPECT_NE(e.find(c.p3 + ": its predecessor " + c.p2 + " is corrupt: " + c.p2 +
                     ": its content (8 frames, 6 stacks) is not what the next file built on"),
              std::string::npos)
        << e;
  }
  {
    Chain c(dir.path);
    // A predecessor of another process.
    Builder other = c.two;
    other.header.pid = 78;
    ASSERT_TRUE(other.write(c.p2));
    std::string e = profile_error(c.p3);
    EXPECT_NE(e.find(c.p2 + ": is not the predecessor named (pid 78, seq 2"), std::string::npos) << e;
  }
  {
    Chain c(dir.path);
    // Truncated.
    std::string two = c.two.bytes();
    ASSERT_TRUE(Builder::write_file(c.p2, two.substr(0, two.size() - 8)));
    std::string e = profile_error(c.p3);
    EXPECT_NE(e.find(c.p3 + ": its predecessor " + c.p2 + " is corrupt: " + c.p2 + ": offset "), std::string::npos)
        << e;
  }
}

TEST(ReaderV2, HostileFieldsEndInFormatErrors) {
  Builder b = first_builder();
  b.v2 = true;
  const std::string good = b.bytes();
  const size_t chain = b.section_offsets[4] + 16, frames = b.section_offsets[5] + 16,
               stacks = b.section_offsets[6] + 16;
  auto patched = [&](size_t at, std::string with) {
    std::string d = good;
    d.replace(at, with.size(), with);
    return d;
  };
  // The first node's parent distance 2 (only the root exists).
  EXPECT_NE(error_of(patched(frames + 16, "\x04")).find("frame 1 has parent distance 2 (expected 1 to 1)"),
            std::string::npos);
  // A varint longer than 64 bits.
  EXPECT_NE(error_of(patched(frames + 16, std::string(10, '\xff'))).find("longer than 64 bits"), std::string::npos);
  // A stack ending at a frame that does not exist.
  EXPECT_NE(error_of(patched(stacks + 16, "\x78")).find("stack 0 ends at frame 15, but there are 7 frames"),
            std::string::npos);
  // CHAIN counts that disagree with the FRAMES run.
  {
    std::string d = good;
    uint32_t frames_n = 1000;
    std::memcpy(&d[chain + 28], &frames_n, 4);
    EXPECT_NE(error_of(d).find("CHAIN expects"), std::string::npos) << error_of(d);
  }
  // A predecessor named by a path, and a predecessor seq not below this seq.
  {
    Builder c = first_builder();
    Builder d = second_builder(c);
    c.v2 = d.v2 = true;
    d.base = &c, d.base_name = "../etc/p.hsnap";
    EXPECT_NE(error_of(d.bytes()).find("predecessor name \"../etc/p.hsnap\" is not a plain file name"),
              std::string::npos);
    d.base_name = "p.77.0001.hsnap";
    d.header.seq = 1;
    EXPECT_NE(error_of(d.bytes()).find("predecessor seq 1 is not below this file's seq 1"), std::string::npos);
  }
  // Version-1 sections in a version-2 file.
  {
    Builder v1 = first_builder();
    std::string d = v1.bytes();
    uint32_t two = 2;
    std::memcpy(&d[8], &two, 4);
    EXPECT_NE(error_of(d).find("a STACKS section does not belong in a version-2 file"), std::string::npos);
  }
  // A stack deeper than the limit.
  {
    Builder deep = first_builder();
    deep.v2 = true;
    std::vector<uint64_t> pcs;
    for (uint64_t i = 0; i <= HS_MAX_DEPTH; ++i) pcs.push_back(0x1000 + i);
    deep.add_site(deep.add_stack(pcs), 1, 1, 1, 1);
    EXPECT_NE(error_of(deep.bytes()).find("is deeper than the limit 512"), std::string::npos);
  }
}

// A series read in order (trend, check) takes each file's predecessor state
// from the file read just before, instead of rebuilding it from the last
// self-contained file each time; a predecessor rewritten since is read again
// (and its corruption found).
TEST(ReaderV2, SeriesReadInOrderReadsEachPredecessorOnce) {
  TempDir dir;
  Chain c(dir.path);
  int loads = 0;
  HsnapLoader counting = [&](const std::string& path) {
    ++loads;
    return read_profile_bytes(path);
  };
  auto bytes_of = [](const std::string& path) { return read_profile_bytes(path); };
  read_hsnap(bytes_of(c.p2), c.p2, counting);
  EXPECT_EQ(loads, 1);  // file 1
  Profile three = read_hsnap(bytes_of(c.p3), c.p3, counting);
  EXPECT_EQ(loads, 1);  // file 2's state was remembered
  expect_same_sites(three, read_hsnap(c.whole().bytes(), "whole.hsnap"));
  // Out of order: rebuilt from disk, the same result.
  loads = 0;
  expect_same_sites(read_hsnap(bytes_of(c.p3), c.p3, counting), three);
  EXPECT_EQ(loads, 2);
  // File 2 read, then corrupted on disk: file 3 does not take the remembered state.
  read_hsnap(bytes_of(c.p2), c.p2, counting);
  std::string corrupt = c.two.bytes();
  corrupt[c.two.section_offsets[7] + 16 + 16 + 2] ^= 0x01;
  usleep(2000);  // a new mtime even on a coarse clock
  ASSERT_TRUE(Builder::write_file(c.p2, corrupt));
  try {
    read_hsnap(bytes_of(c.p3), c.p3, counting);
    ADD_FAILURE() << "a predecessor corrupted after it was read was not noticed";
  } catch (const FormatError& e) {
    EXPECT_EQ(std::string(e.what()).rfind(c.p3 + ": its predecessor " + c.p2 + " is corrupt: ", 0), 0u) << e.what();
  }
}
