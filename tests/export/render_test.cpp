// render_test.cpp -- the export renderers on hand-made profiles with exact,
// known stacks: collapsed golden lines, speedscope JSON shape, svg content,
// pprof message structure (decoded with the generated protobuf classes).
#include <gtest/gtest.h>

#include <limits>
#include <map>
#include <nlohmann/json.hpp>

#include "fake_profiles.h"
#include "profile.pb.h"
#include "render/collapsed.h"
#include "render/flame_svg.h"
#include "render/pprof.h"
#include "render/speedscope.h"

using namespace heapscope;
using namespace heapscope::testing;
namespace pb = perftools::profiles;

TEST(Collapsed, GoldenLinesOutermostFirstInuseBytes) {
  Fixture f;
  EXPECT_EQ(render_collapsed(fold_flame(f.now_in, nullptr)),
            "main;handle_request;cache_insert;std::vector<int>::push_back 3000\n"
            "main;handle_request;make_buffer 1024\n");
}

TEST(Collapsed, DifferentialKeepsGrowthOnly) {
  Fixture f;
  FlameData d = fold_flame(f.now_in, &f.base_in);
  EXPECT_TRUE(d.differential);
  EXPECT_EQ(render_collapsed(d),
            "main;handle_request;cache_insert;std::vector<int>::push_back 2000\n"
            "main;handle_request;make_buffer 1024\n");
  EXPECT_EQ(d.total, 3024);
  EXPECT_EQ(d.shrunk, -4096);
}

TEST(Collapsed, SemicolonsAndNewlinesInNamesCannotBreakLines) {
  Fixture f;
  f.now_syms.add(0x401100, {fr("weird;name\nhere", "x.cpp", 1)});
  EXPECT_EQ(render_collapsed(fold_flame(f.now_in, nullptr)),
            "main;handle_request;cache_insert;std::vector<int>::push_back 3000\n"
            "main;handle_request;weird:name here 1024\n");
}

TEST(Speedscope, SchemaShape) {
  Fixture f;
  auto doc = nlohmann::json::parse(render_speedscope(fold_flame(f.now_in, nullptr), "new.hsnap"));
  EXPECT_EQ(doc["$schema"], "https://www.speedscope.app/file-format-schema.json");
  const auto& frames = doc["shared"]["frames"];
  ASSERT_TRUE(frames.is_array());
  std::vector<std::string> names;
  for (const auto& fr : frames) names.push_back(fr["name"]);
  EXPECT_EQ(names, (std::vector<std::string>{"main", "handle_request", "cache_insert",
                                             "std::vector<int>::push_back", "make_buffer"}));
  ASSERT_EQ(doc["profiles"].size(), 1u);
  const auto& p = doc["profiles"][0];
  EXPECT_EQ(p["type"], "sampled");
  EXPECT_EQ(p["unit"], "bytes");
  EXPECT_EQ(p["startValue"], 0);
  EXPECT_EQ(p["endValue"], 4024);
  EXPECT_EQ(p["samples"], nlohmann::json::parse("[[0,1,2,3],[0,1,4]]"));
  EXPECT_EQ(p["weights"], nlohmann::json::parse("[3000,1024]"));
  EXPECT_EQ(doc["activeProfileIndex"], 0);
}

TEST(Svg, TitleTotalsFramesAndScript) {
  Fixture f;
  std::string svg = render_flame_svg(fold_flame(f.now_in, nullptr), "new.hsnap");
  EXPECT_NE(svg.find("3.9 KiB in use (4024 bytes) in 2 stacks"), std::string::npos);
  EXPECT_NE(svg.find("data-n=\"cache_insert\""), std::string::npos);
  EXPECT_NE(svg.find("data-n=\"std::vector&lt;int&gt;::push_back\""), std::string::npos);
  EXPECT_NE(svg.find("<title>make_buffer (1024 bytes, 25.45%)</title>"), std::string::npos);
  EXPECT_NE(svg.find("function hsZoom("), std::string::npos);
  EXPECT_NE(svg.find("addEventListener('mouseover'"), std::string::npos);
  EXPECT_EQ(svg.find("http://www.w3.org/2000/svg\"") != std::string::npos, true);
  EXPECT_EQ(svg.find("href="), std::string::npos);  // nothing fetched from anywhere
}

TEST(Svg, DifferentialTitleShowsGrowthAndShrinkage) {
  Fixture f;
  std::string svg = render_flame_svg(fold_flame(f.now_in, &f.base_in), "from base.hsnap to new.hsnap");
  EXPECT_NE(svg.find("heapscope: growth from base.hsnap to new.hsnap: 3.0 KiB (3024 bytes) in 2 growing stacks; "
                     "4096 bytes of shrinkage not drawn"),
            std::string::npos);
  EXPECT_NE(svg.find("<title>cache_insert (2000 bytes, 66.14%)</title>"), std::string::npos);
}

TEST(Speedscope, DifferentialWeighsGrowth) {
  Fixture f;
  auto doc = nlohmann::json::parse(render_speedscope(fold_flame(f.now_in, &f.base_in), "d"));
  EXPECT_EQ(doc["profiles"][0]["name"], "d (growth)");
  EXPECT_EQ(doc["profiles"][0]["weights"], nlohmann::json::parse("[2000,1024]"));
  EXPECT_EQ(doc["profiles"][0]["endValue"], 3024);
}

TEST(Svg, EscapesAndRepairsHostileNames) {
  EXPECT_EQ(xml_escape("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&apos;");
  EXPECT_EQ(xml_escape(std::string("x\xff\x01y\xc3\xa9")), "x??y\xc3\xa9");
  EXPECT_EQ(xml_escape("]]>"), "]]&gt;");
}

TEST(Svg, DeepStackNeedsNoRecursion) {
  Profile p;
  p.path = "deep";
  Site s;
  for (uint64_t i = 0; i < 200000; ++i) s.pcs.push_back(0x1000 + i);
  s.counts = {10, 1, 10, 1};
  p.sites.push_back(s);
  FakeSymbols syms;
  ExportInput in{&p, syms.lookup()};
  std::string svg = render_flame_svg(fold_flame(in, nullptr), "deep");
  EXPECT_NE(svg.find("data-d=\"200000\""), std::string::npos);
}

static pb::Profile decode(const std::string& bytes) {
  pb::Profile p;
  EXPECT_TRUE(p.ParseFromString(bytes));
  return p;
}

TEST(Pprof, SampleTypesStringTableAndDefault) {
  Fixture f;
  pb::Profile p = decode(pprof_message(f.now_in, nullptr));
  const auto& st = p.string_table();
  ASSERT_GT(st.size(), 0);
  EXPECT_EQ(st[0], "");
  ASSERT_EQ(p.sample_type_size(), 4);
  const char* want[4][2] = {{"alloc_objects", "count"}, {"alloc_space", "bytes"},
                            {"inuse_objects", "count"}, {"inuse_space", "bytes"}};
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(st[p.sample_type(i).type()], want[i][0]);
    EXPECT_EQ(st[p.sample_type(i).unit()], want[i][1]);
  }
  EXPECT_EQ(st[p.default_sample_type()], "inuse_space");
  EXPECT_EQ(p.time_nanos(), 1700000000000000000ll);
  EXPECT_EQ(p.period(), 1);  // not sampled: every allocation recorded
  EXPECT_EQ(st[p.period_type().type()], "space");
  EXPECT_EQ(st[p.period_type().unit()], "bytes");
}

static PprofOptions all_frames() {
  PprofOptions o;
  o.all_frames = true;
  return o;
}

TEST(Pprof, SamplesLocationsLinesMappings) {
  Fixture f;
  pb::Profile p = decode(pprof_message(f.now_in, nullptr, all_frames()));
  const auto& st = p.string_table();
  ASSERT_EQ(p.sample_size(), 3);
  // Sample A: values, leaf-first location ids with raw addresses.
  const auto& a = p.sample(0);
  EXPECT_EQ(std::vector<int64_t>(a.value().begin(), a.value().end()),
            (std::vector<int64_t>{5, 5000, 3, 3000}));
  ASSERT_EQ(a.location_id_size(), 3);
  auto loc = [&](uint64_t id) -> const pb::Location& { return p.location(static_cast<int>(id - 1)); };
  EXPECT_EQ(loc(a.location_id(0)).address(), 0x401000u);
  EXPECT_EQ(loc(a.location_id(2)).address(), 0x403000u);
  // The leaf location holds the inlined push_back first, then cache_insert.
  const auto& leaf = loc(a.location_id(0));
  ASSERT_EQ(leaf.line_size(), 2);
  auto fn = [&](uint64_t id) -> const pb::Function& { return p.function(static_cast<int>(id - 1)); };
  EXPECT_EQ(st[fn(leaf.line(0).function_id()).name()], "std::vector<int>::push_back");
  EXPECT_EQ(leaf.line(0).line(), 1287);
  EXPECT_EQ(st[fn(leaf.line(1).function_id()).name()], "cache_insert");
  EXPECT_EQ(st[fn(leaf.line(1).function_id()).filename()], "cache.cpp");
  EXPECT_EQ(leaf.line(1).line(), 42);
  // Shared pcs share locations; functions are not duplicated.
  EXPECT_EQ(a.location_id(2), p.sample(1).location_id(2));
  EXPECT_EQ(p.location_size(), 5);
  EXPECT_EQ(p.function_size(), 6);
  // Mappings: the executable ranges only, main module first, with its
  // build-id; libc's location maps to libc.
  ASSERT_EQ(p.mapping_size(), 2);
  EXPECT_EQ(p.mapping(0).file_offset(), 0x1000u);
  EXPECT_EQ(st[p.mapping(0).filename()], "/opt/demo/app");
  EXPECT_EQ(st[p.mapping(0).build_id()], "abcd0123");
  EXPECT_EQ(p.mapping(0).memory_start(), 0x400000u);
  EXPECT_EQ(p.mapping(0).memory_limit(), 0x500000u);
  EXPECT_TRUE(p.mapping(0).has_functions() && p.mapping(0).has_filenames() && p.mapping(0).has_line_numbers());
  EXPECT_EQ(leaf.mapping_id(), 1u);
  EXPECT_EQ(loc(p.sample(2).location_id(0)).mapping_id(), 2u);
  EXPECT_EQ(p.mapping(1).file_offset(), 0x28000u);
}

TEST(Pprof, SampledProfileHasPeriod) {
  Fixture f;
  f.now.sampled = true;
  f.now.sample_period = 524288;
  pb::Profile p = decode(pprof_message(f.now_in, nullptr));
  EXPECT_EQ(p.period(), 524288);
  EXPECT_EQ(p.string_table()[p.period_type().type()], "space");
  EXPECT_EQ(p.string_table()[p.period_type().unit()], "bytes");
}

TEST(Pprof, DifferentialPerSymbolizedStack) {
  Fixture f;
  pb::Profile p = decode(pprof_message(f.now_in, &f.base_in, all_frames()));
  std::map<uint64_t, std::vector<int64_t>> by_leaf;
  for (const auto& s : p.sample())
    by_leaf[p.location(static_cast<int>(s.location_id(0) - 1)).address()] =
        std::vector<int64_t>(s.value().begin(), s.value().end());
  ASSERT_EQ(by_leaf.size(), 4u);
  EXPECT_EQ(by_leaf[0x401000], (std::vector<int64_t>{3, 3000, 2, 2000}));   // A - A'
  EXPECT_EQ(by_leaf[0x401100], (std::vector<int64_t>{1, 1024, 1, 1024}));   // new
  EXPECT_EQ(by_leaf[0x7f0000030000], (std::vector<int64_t>{7, 700, 0, 0}));  // alloc only
  EXPECT_EQ(by_leaf[0x805000], (std::vector<int64_t>{-2, -4096, -2, -4096}));  // gone
  EXPECT_EQ(p.mapping_size(), 3);  // NEW's two and BASE's app at its own address
}

// The labels of a sample, key -> value.
static std::map<std::string, std::string> labels(const pb::Profile& p, const pb::Sample& s) {
  std::map<std::string, std::string> out;
  for (const auto& l : s.label()) out[p.string_table(int(l.key()))] = p.string_table(int(l.str()));
  return out;
}

TEST(Pprof, StacksStartAtTheOriginByDefault) {
  Fixture f;
  pb::Profile p = decode(pprof_message(f.now_in, nullptr));
  const auto& st = p.string_table();
  auto loc = [&](uint64_t id) -> const pb::Location& { return p.location(static_cast<int>(id - 1)); };
  auto fn = [&](uint64_t id) -> const pb::Function& { return p.function(static_cast<int>(id - 1)); };
  ASSERT_EQ(p.sample_size(), 3);
  // A: push_back (a std:: template inlined into cache_insert, the same pc) is
  // left out of the leaf location; cache_insert is the leaf line.
  const auto& a = p.sample(0);
  ASSERT_EQ(a.location_id_size(), 3);
  const auto& leaf = loc(a.location_id(0));
  EXPECT_EQ(leaf.address(), 0x401000u);
  ASSERT_EQ(leaf.line_size(), 1);
  EXPECT_EQ(st[fn(leaf.line(0).function_id()).name()], "cache_insert");
  EXPECT_EQ(leaf.line(0).line(), 42);
  EXPECT_EQ(labels(p, a), (std::map<std::string, std::string>{{"container", "std::vector<int>"},
                                                                {"origin", "cache_insert cache.cpp:42"}}));
  EXPECT_EQ(labels(p, p.sample(1)),
            (std::map<std::string, std::string>{{"origin", "make_buffer buf.cpp:10"}}));
  // C: libc's malloc <- main: the sample starts at main.
  const auto& c = p.sample(2);
  ASSERT_EQ(c.location_id_size(), 1);
  EXPECT_EQ(loc(c.location_id(0)).address(), 0x403000u);
  EXPECT_EQ(st[fn(loc(c.location_id(0)).line(0).function_id()).name()], "main");
  EXPECT_EQ(std::vector<int64_t>(c.value().begin(), c.value().end()), (std::vector<int64_t>{7, 700, 0, 0}));
  // drop_frames names the allocation entry points, as pprof's own heap profiles do.
  const std::string& drop = st[p.drop_frames()];
  EXPECT_NE(drop.find("(malloc|calloc|realloc|"), std::string::npos) << drop;
  EXPECT_NE(drop.find("operator new"), std::string::npos) << drop;

  // all_frames: every frame, no drop_frames, the same labels.
  pb::Profile q = decode(pprof_message(f.now_in, nullptr, all_frames()));
  EXPECT_EQ(q.drop_frames(), 0);
  EXPECT_EQ(q.location(static_cast<int>(q.sample(0).location_id(0) - 1)).line_size(), 2);
  EXPECT_EQ(q.sample(2).location_id_size(), 2);
  EXPECT_EQ(labels(q, q.sample(0)), labels(p, a));
}

TEST(Pprof, AllocationWrappersAreDroppedBelowTheOrigin) {
  Profile prof;
  prof.path = "wrap.hsnap";
  prof.format = "hsnap";
  prof.sites = {site({0x1000, 0x2000, 0x3000}, 100, 1, 100, 1),   // xmalloc <- parse <- main
                site({0x1100, 0x2100, 0x3000}, 200, 2, 200, 2)};  // xmemdup <- load <- main
  FakeSymbols syms;
  syms.add(0x1000, {fr("xmalloc", "wrapper.c", 7)});
  syms.add(0x1100, {fr("xmemdup", "wrapper.c", 20)});
  syms.add(0x2000, {fr("parse", "parse.c", 31)});
  syms.add(0x2100, {fr("load", "load.c", 12)});
  syms.add(0x3000, {fr("main", "main.c", 5)});
  ExportInput in{&prof, syms.lookup()};
  auto leaf_function = [](const pb::Profile& p, int sample) {
    const auto& l = p.location(static_cast<int>(p.sample(sample).location_id(0) - 1));
    return p.string_table(int(p.function(static_cast<int>(l.line(0).function_id() - 1)).name()));
  };
  // No wrappers known: the wrappers are the origins.
  pb::Profile p = decode(pprof_message(in, nullptr));
  EXPECT_EQ(leaf_function(p, 0), "xmalloc");
  EXPECT_EQ(leaf_function(p, 1), "xmemdup");
  // xmalloc detected, xmemdup named by --alloc-fn: their callers are.
  WrapperSet wrappers({Wrapper{"xmalloc", "wrapper.c", 5, ""}}, AllocFns({"xmem.*"}));
  PprofOptions o;
  o.wrappers = &wrappers;
  p = decode(pprof_message(in, nullptr, o));
  EXPECT_EQ(leaf_function(p, 0), "parse");
  EXPECT_EQ(p.sample(0).location_id_size(), 2);
  EXPECT_EQ(labels(p, p.sample(0)).at("origin"), "parse parse.c:31");
  EXPECT_EQ(leaf_function(p, 1), "load");
  EXPECT_EQ(labels(p, p.sample(1)).at("origin"), "load load.c:12");
}

TEST(Pprof, GzipWrapper) {
  Fixture f;
  std::string gz = render_pprof(f.now_in, nullptr);
  ASSERT_GT(gz.size(), 18u);
  EXPECT_EQ(static_cast<unsigned char>(gz[0]), 0x1f);
  EXPECT_EQ(static_cast<unsigned char>(gz[1]), 0x8b);
}

TEST(Renderers, ExtremeFiguresSaturateInsteadOfOverflowing) {
  Fixture f;
  const int64_t max = std::numeric_limits<int64_t>::max();
  for (auto& s : f.now.sites) s.counts = {max, max, max, max};
  f.now.sites.push_back(f.now.sites[0]);  // same stack twice: the sum saturates
  FlameData d = fold_flame(f.now_in, nullptr);
  EXPECT_EQ(d.total, max);
  EXPECT_EQ(render_collapsed(d),
            "main;handle_request;cache_insert;std::vector<int>::push_back 9223372036854775807\n"
            "main;handle_request;make_buffer 9223372036854775807\n"
            "main;malloc 9223372036854775807\n");
  EXPECT_NE(render_flame_svg(d, "x").find("(9223372036854775807 bytes)"), std::string::npos);
  pb::Profile p = decode(pprof_message(f.now_in, &f.base_in));
  for (const auto& s : p.sample())
    for (int64_t v : s.value()) EXPECT_NE(v, std::numeric_limits<int64_t>::min());
  EXPECT_EQ(sat_sub(std::numeric_limits<int64_t>::min(), 1), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(sat_add(max, 1), max);
}
