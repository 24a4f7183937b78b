// test_live.cpp -- analyze/live (heapscope top's series) and render/top (its
// screen) on hand-made profiles whose modules do not exist (frames stay
// unresolved "module+0x..." / "0x..."): the baseline and growth figures, the
// Symbolizer reused while the modules stay the same, and the exact screen
// for a small terminal (rows shared by the two tables, lines cut to width).
#include <gtest/gtest.h>

#include "analyze/live.h"
#include "render/top.h"

using namespace heapscope;

namespace {

Profile snap(uint64_t seq, int64_t a_bytes, int64_t b_bytes, uint64_t bias = 0) {
  Profile p;
  p.path = "p.42." + std::to_string(seq) + ".hsnap";
  p.format = "hsnap";
  p.pid = 42;
  p.seq = seq;
  p.uptime_ns = seq * 2000000000ull;
  Module m;
  m.path = "/nonexistent/app";
  m.main = true;
  m.load_bias = bias;
  m.ranges = {{0x400000 + bias, 0x500000 + bias, 0, 5}};
  p.modules = {m};
  Site a, b;
  a.pcs = {0x401000 + bias, 0x402000 + bias};
  a.counts = {a_bytes, a_bytes / 100, a_bytes, a_bytes / 100};
  b.pcs = {0x403000 + bias};
  b.counts = {b_bytes, 1, b_bytes, 1};
  p.sites = {a, b};
  p.totals = {a_bytes + b_bytes, a_bytes / 100 + 1, a_bytes + b_bytes, a_bytes / 100 + 1};
  return p;
}

}  // namespace

TEST(Live, GrowthSinceTheFirstSnapshotAndOneSymbolizer) {
  LiveSeries s(10);
  s.add(snap(1, 1000, 5000));
  EXPECT_EQ(s.count(), 1u);
  EXPECT_TRUE(s.growth().sites.empty());
  s.add(snap(2, 3000, 5000));
  s.add(snap(3, 7000, 4000));
  EXPECT_EQ(s.count(), 3u);
  EXPECT_EQ(s.symbolizers_made(), 1u);  // same modules: one cache for the session
  EXPECT_EQ(s.first().seq, 1u);
  EXPECT_EQ(s.latest().seq, 3u);
  ASSERT_EQ(s.live().sites.size(), 2u);
  EXPECT_EQ(s.live().sites[0].counts.inuse_bytes, 7000);
  EXPECT_EQ(s.live().totals.inuse_bytes, 11000);
  ASSERT_EQ(s.growth().sites.size(), 2u);
  EXPECT_EQ(s.growth().sites[0].delta_bytes, 6000);
  EXPECT_EQ(s.growth().sites[1].delta_bytes, -1000);
  // Another load address (a module reloaded): a new Symbolizer; sites still match by frames.
  s.add(snap(4, 8000, 5000, 0x100000));
  EXPECT_EQ(s.symbolizers_made(), 2u);
  EXPECT_EQ(s.growth().sites[0].delta_bytes, 7000);
}

TEST(Top, ExactScreenForASmallTerminal) {
  LiveSeries s(10);
  s.add(snap(1, 1000, 5000));
  s.add(snap(3, 7000, 4000));
  TopHeader h;
  h.process = "pid 42: app --port 1";
  h.every_s = 0.5;
  h.rss = 3u << 20;
  // The module is the program itself (main): its unresolved frame is the origin, named as
  // report names it (module + ELF address, load bias 0), with no "no frame in the program" note.
  auto lines = top_lines(s, h, 60, 13);
  std::vector<std::string> want = {
      "heapscope top: pid 42: app --port 1  (every 0.5 s, q quits)",
      "live 10.7 KiB in 71 blocks (+4.9 KiB since the view started,",
      "snapshot 2: p.42.3.hsnap",
      "",
      "top sites by live bytes",
      "        live    blocks  where",
      "     6.8 KiB        70  app+0x401000",
      "     3.9 KiB         1  app+0x403000",
      "",
      "top sites by growth since the view started",
      "      growth        live  where",
      "    +5.9 KiB     6.8 KiB  app+0x401000",
  };
  EXPECT_EQ(lines, want);
  for (const auto& l : lines) EXPECT_LE(l.size(), 60u);
  std::string frame = ansi_frame({"a", "b"});
  EXPECT_EQ(frame, "\x1b[H\x1b[1ma\x1b[0m\x1b[K\r\nb\x1b[K\x1b[J");
}

TEST(Top, OneSnapshotSaysSoAndRowsAreABound) {
  LiveSeries s(10);
  s.add(snap(1, 1000, 5000));
  TopHeader h;
  h.process = "pid 42: app";
  auto lines = top_lines(s, h, 200, 40);
  EXPECT_EQ(lines.back(), "  (one snapshot so far)");
  EXPECT_NE(lines[1].find("RSS n/a"), std::string::npos);
  EXPECT_EQ(top_lines(s, h, 200, 3).size(), 3u);
}
