// test_render.cpp -- the text renderer's pieces: sizes, function names as
// shown, frame locations, and a report of a real -O2 program's map insertion.
#include <gtest/gtest.h>

#include <sstream>

#include "reader/reader.h"
#include "render/text.h"
#include "test_util.h"

using namespace heapscope;

TEST(Text, Sizes) {
  EXPECT_EQ(format_size(0), "0 B");
  EXPECT_EQ(format_size(1023), "1023 B");
  EXPECT_EQ(format_size(1024), "1.0 KiB");
  EXPECT_EQ(format_size(1536), "1.5 KiB");
  EXPECT_EQ(format_size(5ll << 20), "5.0 MiB");
  EXPECT_EQ(format_size(3ll << 30), "3.0 GiB");
  EXPECT_EQ(format_size(-2048), "-2.0 KiB");
  EXPECT_EQ(format_size(INT64_MIN), "-8.0 EiB");
  EXPECT_EQ(format_signed_size(2048), "+2.0 KiB");
  EXPECT_EQ(format_signed_size(0), "0 B");
  EXPECT_EQ(format_signed_size(-5), "-5 B");
}

TEST(Text, FunctionsAndLocations) {
  EXPECT_EQ(short_function("std::_Rb_tree<long, std::pair<long const, CacheEntry>, "
                           "std::_Select1st<std::pair<long const, CacheEntry> >, std::less<long>, "
                           "std::allocator<std::pair<long const, CacheEntry> > >::_M_get_node()"),
            "std::_Rb_tree<...>::_M_get_node");
  EXPECT_EQ(short_function("std::pair<std::_Rb_tree_iterator<std::pair<long const, CacheEntry> >, "
                           "bool> std::map<long, CacheEntry, std::less<long>, "
                           "std::allocator<std::pair<long const, CacheEntry> > >::emplace<long, "
                           "CacheEntry>(long&&, CacheEntry&&)"),
            "std::map<long, CacheEntry>::emplace<long, CacheEntry>");
  EXPECT_EQ(short_function("fill_map(long)"), "fill_map");
  Frame f;
  f.file = "/src/app/cache.cpp";
  f.line = 42;
  EXPECT_EQ(frame_location(f), "cache.cpp:42");
  Frame u;
  u.module = "/opt/app/libplugin.so";
  u.rel_address = 0x1a2b;
  EXPECT_EQ(frame_location(u), "libplugin.so+0x1a2b");
}

TEST(Text, ReportOfARealMapInsertion) {
  TempDir dir;
  RunResult r = run_command(std::string(HS_TEST_PROGRAMS_DIR) + "/containers '" + dir.path + "'",
                            dir.path);
  ASSERT_EQ(r.status, 0) << r.err;
  Profile p = read_profile(dir.path + "/map.hsnap");
  SymbolizedProfile sp = symbolize_profile(p, false);
  ReportResult rep = make_report(sp, 1);
  std::ostringstream out;
  render_report_text(out, sp, rep);
  std::string text = out.str();
  std::string source = std::string(HS_TEST_SOURCE_DIR) + "/programs/containers.cpp";
  std::string line = std::to_string(marked_line(source, "LINE:map"));
  EXPECT_NE(text.find("live 1.9 KiB in 20 blocks; allocated 1.9 KiB in 20 blocks since start; 1 site\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("   1     1.9 KiB        20     1.9 KiB        20  fill_map  containers.cpp:" +
                      line + "\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("container std::map<long, CacheEntry>\n"), std::string::npos) << text;
  EXPECT_NE(text.find("| std::_Rb_tree<...>::_M_get_node  stl_tree.h:"), std::string::npos) << text;
  EXPECT_NE(text.find("| std::map<long, CacheEntry>::emplace<long, CacheEntry>  stl_map.h:"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("> fill_map  containers.cpp:" + line + "\n"), std::string::npos) << text;
}
