// foreign_bad_test.cpp -- the gperftools and jemalloc readers on hand-written
// files: the t* vs tN double-count case, sampling-rate edge cases, and bad
// inputs that must each end in one FormatError "FILE: line N: what".
#include <gtest/gtest.h>

#include <string>

#include "foreign_util.h"
#include "reader/reader.h"

using namespace heapscope;
using namespace heapscope::testing;

namespace {

std::string error_of(Profile (*reader)(std::string_view, const std::string&), const std::string& text) {
  try {
    reader(text, "bad.heap");
  } catch (const FormatError& e) {
    return e.what();
  }
  return "(no error)";
}

const char* kGpHeader = "heap profile:    1:  10 [  1:  10] @ heapprofile\n";

}  // namespace

TEST(JemallocText, TStarLinesOnlyNeverTheThreadLines) {
  std::string text =
      "heap_v2/1\n"
      "  t*: 5: 5000 [7: 7000]\n"
      "  t0: 3: 3000 [4: 4000]\n"
      "  t1: 2: 2000 [3: 3000] worker\n"
      "@ 0x401000 0x402000\n"
      "  t*: 3: 3000 [4: 4000]\n"
      "  t0: 1: 1000 [2: 2000]\n"
      "  t1: 2: 2000 [2: 2000]\n"
      "@ 0x401100\n"
      "  t*: 2: 2000 [3: 3000]\n"
      "  t0: 2: 2000 [2: 2000]\n"
      "  t1: 0: 0 [1: 1000]\n"
      "\n"
      "MAPPED_LIBRARIES:\n"
      "00400000-00401000 r--p 00000000 08:01 1234 /opt/app/server\n"
      "00401000-00403000 r-xp 00001000 08:01 1234 /opt/app/server\n"
      "7f0000000000-7f0000001000 rw-p 00000000 00:00 0 \n"
      "7fff00000000-7fff00001000 r-xp 00000000 00:00 0 [vdso]\n";
  Profile p = read_jemalloc(text, "x.123.4.i5.heap");
  ASSERT_EQ(p.sites.size(), 2u);
  EXPECT_EQ(p.sites[0].pcs, (std::vector<uint64_t>{0x401000, 0x402000}));
  EXPECT_EQ(as_array(p.sites[0].counts), (std::array<int64_t, 4>{4, 4000, 3, 3000}));
  EXPECT_EQ(as_array(p.sites[1].counts), (std::array<int64_t, 4>{3, 3000, 2, 2000}));
  EXPECT_EQ(as_array(p.totals), (std::array<int64_t, 4>{7, 7000, 5, 5000}));  // not 14/14000/10/10000
  EXPECT_EQ(p.pid, 123u);
  EXPECT_EQ(p.seq, 4u);
  EXPECT_EQ(p.trigger, "interval");
  ASSERT_EQ(p.modules.size(), 1u);  // anonymous and [vdso] mappings are no modules
  EXPECT_EQ(p.modules[0].path, "/opt/app/server");
  EXPECT_TRUE(p.modules[0].main);
  EXPECT_EQ(p.modules[0].ranges.size(), 2u);
  EXPECT_EQ(p.modules[0].ranges[1].flags, 5u);  // r-x
  EXPECT_EQ(p.modules[0].load_bias, 0x400000u);  // file absent: vaddr == offset assumed
  EXPECT_EQ(p.modules[0].build_id, "");
}

TEST(JemallocText, SampledPairsScaleLikePprof) {
  // 1 block of 1024 bytes at 1 per 524288: scale 1/(1-exp(-1/512)) = 512.50.
  Profile p = read_jemalloc("heap_v2/524288\n  t*: 1: 1024 [0: 0]\n@ 0x1\n  t*: 1: 1024 [2: 2048]\n", "s.heap");
  ASSERT_EQ(p.sites.size(), 1u);
  EXPECT_TRUE(p.sampled);
  EXPECT_EQ(p.sample_period, 524288u);
  EXPECT_EQ(p.sites[0].counts.inuse_count, 512);
  EXPECT_EQ(p.sites[0].counts.inuse_bytes, 524800);
  EXPECT_EQ(p.sites[0].counts.alloc_count, 1025);
  EXPECT_EQ(p.sites[0].counts.alloc_bytes, 1049600);
}

TEST(GperftoolsText, RatesAndLegacyHeader) {
  Profile exact = read_gperftools("heap profile: 1: 10 [1: 10] @ heap_v2/1\n 1: 10 [1: 10] @ 0x1\n", "a");
  EXPECT_FALSE(exact.sampled);
  EXPECT_EQ(exact.sites[0].counts.inuse_bytes, 10);
  // "heap/R" is pprof's legacy header: the rate is R/2.
  Profile legacy = read_gperftools("heap profile: 1: 1024 [1: 1024] @ heap/1048576\n 1: 1024 [1: 1024] @ 0x1\n", "b");
  EXPECT_EQ(legacy.sample_period, 524288u);
  EXPECT_EQ(legacy.sites[0].counts.inuse_bytes, 524800);
  Profile empty = read_gperftools("heap profile: 0: 0 [0: 0] @ heapprofile\n", "c");
  EXPECT_TRUE(empty.sites.empty());
  Profile stackless = read_gperftools("heap profile: 1: 8 [1: 8] @ heapprofile\r\n 1: 8 [1: 8] @\r\n", "d");
  ASSERT_EQ(stackless.sites.size(), 1u);
  EXPECT_TRUE(stackless.sites[0].pcs.empty());
}

struct BadCase {
  const char* name;
  bool jemalloc;
  std::string text;
  std::string expected;  // substring of "bad.heap: line N: ..."
};

class BadInput : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadInput, OneClearErrorNamingFileAndLine) {
  const BadCase& c = GetParam();
  std::string err = error_of(c.jemalloc ? read_jemalloc : read_gperftools, c.text);
  EXPECT_NE(err.find(c.expected), std::string::npos) << "got: " << err;
  EXPECT_EQ(err.rfind("bad.heap: ", 0), 0u) << err;
}

static std::string frames(int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += " 0x1000";
  return s;
}

INSTANTIATE_TEST_SUITE_P(
    Readers, BadInput,
    ::testing::Values(
        BadCase{"gp_empty", false, "", "bad.heap: empty file"},
        BadCase{"gp_not_header", false, "heap profile of something\n", "line 1: expected a gperftools header"},
        BadCase{"gp_rate_zero", false, "heap profile: 1: 10 [1: 10] @ heap_v2/0\n", "line 1: sampling rate 0"},
        BadCase{"gp_rate_garbage", false, "heap profile: 1: 10 [1: 10] @ heap_v2/12x\n", "line 1: bad sampling rate"},
        BadCase{"gp_rate_huge", false, "heap profile: 1: 10 [1: 10] @ heap_v2/99999999999999999999\n",
                "line 1: sampling rate after heap_v2/ '99999999999999999999' overflows"},
        BadCase{"gp_growthz", false, "heap profile: 1: 10 [1: 10] @ growthz\n", "line 1: unsupported profile kind 'growthz'"},
        BadCase{"gp_count_overflow", false, std::string(kGpHeader) + " 9223372036854775808: 1 [1: 1] @ 0x1\n",
                "line 2: in-use count '9223372036854775808' overflows a signed 64-bit count"},
        BadCase{"gp_negative", false, std::string(kGpHeader) + " 1: -10 [1: 10] @ 0x1\n", "line 2: negative in-use bytes"},
        BadCase{"gp_bytes_no_blocks", false, std::string(kGpHeader) + " 0: 10 [0: 0] @ 0x1\n",
                "line 2: in-use figures: 10 bytes in 0 blocks"},
        BadCase{"gp_absurd_size", false, std::string(kGpHeader) + " 1: 9000000000000000000 [1: 1] @ 0x1\n",
                "line 2: in-use figures: average block of 9000000000000000000 bytes exceeds the address space"},
        BadCase{"gp_bad_hex", false, std::string(kGpHeader) + " 1: 10 [1: 10] @ 0xZZ\n", "line 2: expected hex digits"},
        BadCase{"gp_hex_too_long", false, std::string(kGpHeader) + " 1: 10 [1: 10] @ 0x11112222333344445\n",
                "line 2: return address '0x11112222333344445' exceeds 64 bits"},
        BadCase{"gp_no_at", false, std::string(kGpHeader) + " 1: 10 [1: 10] 0x1\n", "line 2: expected '@' before the stack"},
        BadCase{"gp_truncated", false, std::string(kGpHeader) + " 1: 10 [1:", "line 2: expected allocation bytes"},
        BadCase{"gp_deep", false, std::string(kGpHeader) + " 1: 10 [1: 10] @" + frames(513) + "\n",
                "line 2: stack has more than 512 frames"},
        BadCase{"gp_unsample_overflow", false,
                "heap profile: 3: 3 [3: 3] @ heap_v2/4611686018427387904\n 3: 3 [3: 3] @ 0x1\n",
                "line 2: unsampled figures (3 blocks, 3 bytes at 1 sample per 4611686018427387904 bytes) overflow"},
        BadCase{"gp_total_overflow", false,
                std::string(kGpHeader) + " 5000000000000000000: 5000000000000000000 [0: 0] @ 0x1\n"
                                         " 5000000000000000000: 5000000000000000000 [0: 0] @ 0x2\n",
                "bad.heap: the sites' total overflows a 64-bit count"},
        BadCase{"gp_bad_maps", false, std::string(kGpHeader) + "\nMAPPED_LIBRARIES:\nnot a maps line\n",
                "line 4: maps: expected start address (hex)"},
        BadCase{"gp_inverted_maps", false, std::string(kGpHeader) + "MAPPED_LIBRARIES:\n2000-1000 r-xp 0 08:01 1 /x\n",
                "line 3: maps: empty or inverted range"},
        BadCase{"gp_maps_perms", false, std::string(kGpHeader) + "MAPPED_LIBRARIES:\n1000-2000 zzzz 0 08:01 1 /x\n",
                "line 3: maps: bad permissions 'zzzz'"},
        BadCase{"je_empty", true, "", "bad.heap: empty file"},
        BadCase{"je_header", true, "heap_v3/1\n", "line 1: expected a jemalloc header"},
        BadCase{"je_rate_zero", true, "heap_v2/0\n", "line 1: sampling rate 0 (expected 2^lg_prof_sample"},
        BadCase{"je_rate_not_pow2", true, "heap_v2/1000\n", "line 1: sampling rate 1000 (expected 2^lg_prof_sample"},
        BadCase{"je_thread_first", true, "heap_v2/1\n@ 0x1\n  t1: 1: 8 [0: 0]\n",
                "line 3: per-thread figures before the stack's 't*:' line"},
        BadCase{"je_no_tstar", true, "heap_v2/1\n@ 0x1\n@ 0x2\n  t*: 1: 8 [0: 0]\n",
                "line 3: stack has no 't*:' figures line"},
        BadCase{"je_no_tstar_at_end", true, "heap_v2/1\n@ 0x1\n", "line 2: stack has no 't*:' figures line"},
        BadCase{"je_two_tstar", true, "heap_v2/1\n@ 0x1\n  t*: 1: 8 [0: 0]\n  t*: 1: 8 [0: 0]\n",
                "line 4: a second 't*:' line for the same stack"},
        BadCase{"je_two_totals", true, "heap_v2/1\n  t*: 1: 8 [0: 0]\n  t*: 1: 8 [0: 0]\n",
                "line 3: a second 't*:' totals line"},
        BadCase{"je_garbage", true, "heap_v2/1\nxyz\n", "line 2: expected '@ 0x...'"},
        BadCase{"je_overflow", true, "heap_v2/1\n@ 0x1\n  t*: 1: 99999999999999999999 [0: 0]\n",
                "line 3: in-use bytes '99999999999999999999' overflows"},
        BadCase{"je_negative", true, "heap_v2/1\n@ 0x1\n  t*: -1: 8 [0: 0]\n", "line 3: negative in-use count"},
        BadCase{"je_trailing", true, "heap_v2/1\n@ 0x1\n  t*: 1: 8 [0: 0] extra\n",
                "line 3: unexpected text after the t* figures"},
        BadCase{"je_bad_thread", true, "heap_v2/1\n@ 0x1\n  t*: 1: 8 [0: 0]\n  tx: 1: 8 [0: 0]\n",
                "line 4: expected thread id"},
        BadCase{"je_deep", true, "heap_v2/1\n@" + frames(600) + "\n", "line 2: stack has more than 512 frames"}),
    [](const ::testing::TestParamInfo<BadCase>& info) { return std::string(info.param.name); });

TEST(ForeignFiles, StackCountIsBounded) {
  std::string gp = kGpHeader, je = "heap_v2/1\n";
  const size_t n = (size_t(4) << 20) + 1;
  gp.reserve(n * 15);
  je.reserve(n * 20);
  for (size_t i = 0; i < n; ++i) {
    gp += " 1: 8 [1: 8] @\n";
    je += "@\n  t*: 1: 8 [1: 8]\n";
  }
  EXPECT_NE(error_of(read_gperftools, gp).find("bad.heap: line 4194306: more than 4194304 stacks"), std::string::npos);
  EXPECT_NE(error_of(read_jemalloc, je).find("bad.heap: line 8388610: more than 4194304 stacks"), std::string::npos);
}

TEST(ForeignFiles, DispatchFromReadProfileNamesTheFile) {
  TempDir tmp;
  std::string path = tmp.path + "/x.heap";
  std::ofstream(path) << "heap_v2/1\n@ 0x1\n  t*: 1: -8 [0: 0]\n";
  try {
    read_profile(path);
    FAIL() << "no error";
  } catch (const FormatError& e) {
    EXPECT_EQ(std::string(e.what()), path + ": line 3: negative in-use bytes '-8'");
  }
}
