// test_reader.cpp -- read_profile() / read_hsnap(): valid files convert
// exactly; truncated, corrupted, hostile and non-profile inputs each end in a
// FormatError naming the file (and the offset where one applies), never a crash.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "hsnap_builder.h"
#include "reader/reader.h"
#include "test_util.h"

using namespace heapscope;
using hsnap_test::Builder;

namespace {

Builder sample_builder() {
  Builder b;
  b.header.pid = 1234;
  b.header.time_unix_ns = 1700000000000000000ull;
  b.header.uptime_ns = 5000000000ull;
  b.header.seq = 3;
  b.header.trigger = HS_TRIGGER_INTERVAL;
  b.meta = {{"cmdline", std::string("prog\0--x", 8)}, {"allocator", "glibc"}};
  b.stats = {{"dropped_events", 0}, {"unwind_failures", 2}};
  b.add_module("/usr/bin/prog", 0x555555554000, 0x555555560000, 0x555555554000, HS_MODULE_MAIN,
               std::string("\xab\x01\xcd\xef", 4));
  b.add_module("/lib/x86_64-linux-gnu/libc.so.6", 0x7f0000000000, 0x7f0000100000, 0x7f0000000000);
  uint32_t s0 = b.add_stack({0x555555555123, 0x555555555456});
  uint32_t s1 = b.add_stack({0x7f0000001000, 0x555555555789, 0x555555555abc}, HS_STACK_TRUNCATED);
  b.add_site(s0, 1000, 10, 5000, 50);
  b.add_site(s1, 24, 1, 48, 2);
  return b;
}

std::string read_error(const std::string& data, const std::string& path = "t.hsnap") {
  try {
    read_hsnap(data, path);
  } catch (const FormatError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(Reader, ValidSnapshotConvertsExactly) {
  TempDir dir;
  std::string path = dir.path + "/ok.hsnap";
  ASSERT_TRUE(sample_builder().write(path));
  Profile p = read_profile(path);
  EXPECT_EQ(p.path, path);
  EXPECT_EQ(p.format, "hsnap");
  EXPECT_EQ(p.pid, 1234u);
  EXPECT_EQ(p.time_unix_ns, 1700000000000000000ull);
  EXPECT_EQ(p.uptime_ns, 5000000000ull);
  EXPECT_EQ(p.seq, 3u);
  EXPECT_EQ(p.trigger, "interval");
  EXPECT_FALSE(p.sampled);
  EXPECT_FALSE(p.is_exit());
  EXPECT_EQ(p.meta.at("allocator"), "glibc");
  EXPECT_EQ(p.meta.at("cmdline"), std::string("prog\0--x", 8));
  ASSERT_EQ(p.stats.size(), 2u);
  EXPECT_EQ(p.stats[1].first, "unwind_failures");
  EXPECT_EQ(p.stats[1].second, 2u);
  EXPECT_EQ(p.totals.inuse_bytes, 1024);
  EXPECT_EQ(p.totals.inuse_count, 11);
  EXPECT_EQ(p.totals.alloc_bytes, 5048);
  EXPECT_EQ(p.totals.alloc_count, 52);
  ASSERT_EQ(p.modules.size(), 2u);
  EXPECT_EQ(p.modules[0].path, "/usr/bin/prog");
  EXPECT_EQ(p.modules[0].build_id, "ab01cdef");
  EXPECT_TRUE(p.modules[0].main);
  EXPECT_FALSE(p.modules[1].main);
  EXPECT_EQ(p.modules[0].load_bias, 0x555555554000u);
  ASSERT_EQ(p.modules[0].ranges.size(), 1u);
  EXPECT_EQ(p.modules[0].ranges[0].end, 0x555555560000u);
  ASSERT_EQ(p.sites.size(), 2u);
  EXPECT_EQ(p.sites[0].pcs, (std::vector<uint64_t>{0x555555555123, 0x555555555456}));
  EXPECT_EQ(p.sites[0].counts.inuse_bytes, 1000);
  EXPECT_EQ(p.sites[0].counts.alloc_count, 50);
  EXPECT_FALSE(p.sites[0].truncated);
  EXPECT_TRUE(p.sites[1].truncated);
  EXPECT_EQ(p.sites[1].pcs.size(), 3u);
}

TEST(Reader, ExitTriggerAndSampledMode) {
  Builder b = sample_builder();
  b.header.trigger = HS_TRIGGER_EXIT;
  b.header.mode = HS_MODE_SAMPLED;
  b.header.sample_period = 524288;
  Profile p = read_hsnap(b.bytes(), "x.hsnap");
  EXPECT_TRUE(p.is_exit());
  EXPECT_TRUE(p.sampled);
  EXPECT_EQ(p.sample_period, 524288u);
}

TEST(Reader, UnknownSectionIsSkipped) {
  Builder b = sample_builder();
  std::string data = b.bytes();
  // Insert an unknown section (kind 99, 16 bytes) before END and fix END.
  size_t end_at = b.section_offsets.back();
  std::string extra(16 + 16, '\0');
  HsSectionHeader sh{99, 0, 16};
  std::memcpy(extra.data(), &sh, sizeof sh);
  data.insert(end_at, extra);
  uint64_t size = data.size();
  std::memcpy(data.data() + data.size() - 8, &size, 8);
  Profile p = read_hsnap(data, "u.hsnap");
  EXPECT_EQ(p.sites.size(), 2u);
}

TEST(Reader, TruncatedAtEveryOffsetIsACleanError) {
  std::string data = sample_builder().bytes();
  for (size_t n = 8; n < data.size(); ++n) {
    std::string err = read_error(data.substr(0, n), "cut.hsnap");
    ASSERT_NE(err, "") << "truncated at " << n << " parsed without error";
    EXPECT_EQ(err.rfind("cut.hsnap: offset ", 0), 0u) << err;
    EXPECT_NE(err.find("truncated"), std::string::npos) << "at " << n << ": " << err;
  }
}

TEST(Reader, TruncatedAtSectionBoundariesNamesTheEnd) {
  Builder b = sample_builder();
  std::string data = b.bytes();
  for (size_t off : b.section_offsets) {
    std::string err = read_error(data.substr(0, off), "s.hsnap");
    if (off == b.section_offsets.back())
      EXPECT_EQ(err, "s.hsnap: offset " + std::to_string(off) +
                         ": truncated: the file ends without an END section");
    else
      EXPECT_NE(err, "") << off;
  }
}

TEST(Reader, ByteFlipsNeverCrash) {
  std::string data = sample_builder().bytes();
  unsigned seed = 12345;
  int errors = 0;
  for (size_t i = 0; i < data.size(); ++i) {
    for (unsigned char mask : {0xffu, 0x80u, 0x01u}) {
      std::string bad = data;
      bad[i] = char(bad[i] ^ mask);
      try {
        read_hsnap(bad, "flip.hsnap");
      } catch (const FormatError& e) {
        ++errors;
        EXPECT_EQ(std::string(e.what()).rfind("flip.hsnap: ", 0), 0u);
      }
    }
  }
  // Random multi-byte corruption.
  for (int round = 0; round < 2000; ++round) {
    std::string bad = data;
    for (int k = 0; k < 4; ++k) {
      seed = seed * 1103515245u + 12345u;
      bad[(seed >> 8) % bad.size()] = char(seed >> 24);
    }
    try {
      read_hsnap(bad, "rnd.hsnap");
    } catch (const FormatError&) {
    }
  }
  EXPECT_GT(errors, 100);
}

TEST(Reader, HugeCountsAreRefused) {
  Builder b = sample_builder();
  std::string data = b.bytes();
  const char* names[] = {"module count", "stack count", "site count"};
  size_t sec_index[] = {3, 4, 5};  // META, TOTALS, STATS, MODULES, STACKS, SITES, END
  for (int i = 0; i < 3; ++i) {
    std::string bad = data;
    uint64_t huge = uint64_t(1) << 63;
    size_t at = b.section_offsets[sec_index[i]] + 16;
    std::memcpy(bad.data() + at, &huge, 8);
    EXPECT_EQ(read_error(bad, "h.hsnap"),
              "h.hsnap: offset " + std::to_string(at) + ": " + names[i] +
                  " 9223372036854775808 does not fit in the " +
                  std::to_string(b.section_offsets[sec_index[i] + 1] - at - 8) +
                  " bytes that remain in the section");
  }
  // A section size near 2^64 cannot wrap around.
  std::string bad = data;
  uint64_t huge = ~uint64_t(0) - 7;
  std::memcpy(bad.data() + b.section_offsets[0] + 8, &huge, 8);
  EXPECT_NE(read_error(bad).find("section size 18446744073709551608 exceeds"), std::string::npos);
}

TEST(Reader, FiguresAbove2To63AreRefused) {
  Builder b = sample_builder();
  b.sites[0].inuse_bytes = uint64_t(1) << 63;
  b.auto_totals = false;
  EXPECT_NE(read_error(b.bytes()).find("site inuse_bytes 9223372036854775808 is larger than 2^63-1"),
            std::string::npos);
}

TEST(Reader, DepthAboveLimitIsRefused) {
  Builder b = sample_builder();
  b.stacks[0].pcs.assign(HS_MAX_DEPTH + 1, 0x1000);
  EXPECT_NE(read_error(b.bytes()).find("stack 0 depth 513 exceeds the limit 512"), std::string::npos);
  // A depth field larger than the frames that follow.
  Builder c = sample_builder();
  c.stacks[1].depth_override = 100;
  EXPECT_NE(read_error(c.bytes()).find("truncated: stack frames needs 800 bytes"), std::string::npos);
}

TEST(Reader, StackIdOutOfRangeIsRefused) {
  Builder b = sample_builder();
  b.sites[1].stack = 99;
  std::string data = b.bytes();
  size_t site1 = b.section_offsets[5] + 16 + 8 + sizeof(HsSite);
  EXPECT_EQ(read_error(data), "t.hsnap: offset " + std::to_string(site1) +
                                  ": site 1 refers to stack 99, but there are 2 stacks");
}

TEST(Reader, EndSizeMismatchAndMissingEnd) {
  Builder b = sample_builder();
  b.end_size_adjust = 8;
  std::string data = b.bytes();
  EXPECT_EQ(read_error(data), "t.hsnap: offset " + std::to_string(data.size() - 8) +
                                  ": truncated or padded: END says the file has " +
                                  std::to_string(data.size() + 8) + " bytes, it has " +
                                  std::to_string(data.size()));
  Builder c = sample_builder();
  c.write_end = false;
  std::string d2 = c.bytes();
  EXPECT_EQ(read_error(d2), "t.hsnap: offset " + std::to_string(d2.size()) +
                                ": truncated: the file ends without an END section");
  // Trailing bytes after END.
  std::string d3 = sample_builder().bytes() + std::string(8, '\0');
  EXPECT_NE(read_error(d3).find("END says the file has"), std::string::npos);
}

TEST(Reader, NewerVersionIsRefusedNamingBoth) {
  Builder b = sample_builder();
  b.header.version = 7;
  EXPECT_EQ(read_error(b.bytes(), "new.hsnap"),
            "new.hsnap: format version 7 is newer than this heapscope reads (2)");
}

TEST(Reader, BadModuleFields) {
  Builder b = sample_builder();
  b.modules[0].ranges.assign(HS_MAX_RANGES + 1, HsRange{1, 2, 0, 5});
  EXPECT_NE(read_error(b.bytes()).find("module 0 has 257 ranges, more than the limit 256"),
            std::string::npos);
  Builder c = sample_builder();
  c.header.mode = 9;
  EXPECT_EQ(read_error(c.bytes()), "t.hsnap: offset 40: mode 9 is unknown (expected 0 or 1)");
}

TEST(ReadProfile, NonProfilesAreRefusedNamingTheFile) {
  TempDir dir;
  std::string empty = dir.path + "/empty.hsnap";
  ASSERT_TRUE(Builder::write_file(empty, ""));
  EXPECT_EQ(profile_error(empty), empty + ": empty file, expected a heap profile");
  std::string text = dir.path + "/notes.txt";
  ASSERT_TRUE(Builder::write_file(text, "hello world\n"));
  EXPECT_EQ(profile_error(text),
            text + ": not a heap profile (expected a heapscope snapshot, a gperftools or a "
                   "jemalloc heap profile)");
  EXPECT_EQ(profile_error(dir.path), dir.path + ": is a directory, expected a heap profile file");
  EXPECT_EQ(profile_error("/dev/zero"),
            "/dev/zero: not a heap profile (expected a heapscope snapshot, a gperftools or a "
            "jemalloc heap profile)");
  EXPECT_EQ(profile_error(dir.path + "/missing.hsnap"),
            dir.path + "/missing.hsnap: cannot open: No such file or directory");
  std::string shortmagic = dir.path + "/short.hsnap";
  ASSERT_TRUE(Builder::write_file(shortmagic, std::string(HS_MAGIC, 8) + "abc"));
  EXPECT_EQ(profile_error(shortmagic),
            shortmagic + ": offset 11: truncated: the file header needs 64 bytes, the file has 11");
}

TEST(ReadProfile, PipesAreReadWithinBounds) {
  TempDir dir;
  std::string fifo = dir.path + "/fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  // No writer: an empty file, not a hang.
  EXPECT_EQ(profile_error(fifo), fifo + ": empty file, expected a heap profile");
  // A pipe holding a whole snapshot (as with `heapscope report <(zcat f.gz)`).
  std::string data = sample_builder().bytes();
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  ASSERT_EQ(write(fds[1], data.data(), data.size()), ssize_t(data.size()));
  close(fds[1]);
  std::string path = "/dev/fd/" + std::to_string(fds[0]);
  Profile p = read_profile(path);
  EXPECT_EQ(p.sites.size(), 2u);
  close(fds[0]);
  // A pipe cut short: the same clean error as a truncated file.
  ASSERT_EQ(pipe(fds), 0);
  ASSERT_EQ(write(fds[1], data.data(), 100), 100);
  close(fds[1]);
  path = "/dev/fd/" + std::to_string(fds[0]);
  EXPECT_EQ(profile_error(path).rfind(path + ": offset ", 0), 0u);
  close(fds[0]);
}
