// heapprofile_test.cpp -- the .heapprofile renderer (Chrome DevTools'
// sampling heap profile) on the hand-made profiles of fake_profiles.h: the
// exact tree (names, files, 0-based lines, script ids, self sizes, ids), the
// samples, growth with a base, unresolved and mapped frames, hostile names
// and a deep stack.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "fake_profiles.h"
#include "render/heapprofile.h"

using namespace heapscope;
using namespace heapscope::testing;
using nlohmann::json;

namespace {

json frame(const char* fn, const char* script, const char* url, int line) {
  return {{"functionName", fn}, {"scriptId", script}, {"url", url}, {"lineNumber", line}, {"columnNumber", -1}};
}

json node(json call_frame, int64_t self, int id, json children = json::array()) {
  return {{"callFrame", std::move(call_frame)}, {"selfSize", self}, {"id", id}, {"children", std::move(children)}};
}

json render(const FlameData& d) { return json::parse(render_heapprofile(d)); }

// Sum of selfSize over the tree, without recursion.
int64_t tree_total(const json& head) {
  int64_t sum = 0;
  std::vector<const json*> todo = {&head};
  while (!todo.empty()) {
    const json* n = todo.back();
    todo.pop_back();
    sum += (*n)["selfSize"].get<int64_t>();
    for (const auto& c : (*n)["children"]) todo.push_back(&c);
  }
  return sum;
}

}  // namespace

TEST(Heapprofile, ExactTreeAndSamples) {
  Fixture f;
  json doc = render(fold_flame(f.now_in, nullptr, FoldBy::location));
  // Site C (nothing live) is left out, as in every flame export; the inlined
  // push_back is a node of its own under cache_insert; lines are 0-based.
  json push_back = node(frame("std::vector<int>::push_back", "1", "/usr/include/c++/12/bits/stl_vector.h", 1286), 3000, 5);
  json cache_insert = node(frame("cache_insert", "1", "cache.cpp", 41), 0, 4, json::array({push_back}));
  json make_buffer = node(frame("make_buffer", "1", "buf.cpp", 9), 1024, 6);
  json handle = node(frame("handle_request", "1", "server.cpp", 76), 0, 3, json::array({cache_insert, make_buffer}));
  json main_ = node(frame("main", "1", "main.cpp", 4), 0, 2, json::array({handle}));
  json head = node(frame("(root)", "0", "", -1), 0, 1, json::array({main_}));
  EXPECT_EQ(doc["head"], head) << doc["head"].dump(2);
  EXPECT_EQ(doc["samples"], json::parse(R"([{"size":3000,"nodeId":5,"ordinal":1},{"size":1024,"nodeId":6,"ordinal":2}])"));
  EXPECT_EQ(doc.size(), 2u);  // head and samples, nothing else
  EXPECT_EQ(tree_total(doc["head"]), 4024);
}

TEST(Heapprofile, TwoLinesOfOneFunctionAreTwoNodes) {
  Fixture f;
  // A second make_buffer call site in handle_request, at another line.
  f.now.sites.push_back(site({0x401100, 0x402100, 0x403000}, 512, 1, 512, 1));
  f.now_syms.add(0x402100, {fr("handle_request", "server.cpp", 90)});
  json doc = render(fold_flame(f.now_in, nullptr, FoldBy::location));
  const json& main_ = doc["head"]["children"][0];
  ASSERT_EQ(main_["children"].size(), 2u) << doc.dump(2);
  EXPECT_EQ(main_["children"][0]["callFrame"]["lineNumber"], 76);
  EXPECT_EQ(main_["children"][1]["callFrame"]["lineNumber"], 89);
  EXPECT_EQ(main_["children"][1]["children"][0]["selfSize"], 512);
  EXPECT_EQ(tree_total(doc["head"]), 4536);
  // By name alone (the collapsed stacks' identity) they would share a node.
  json merged = render(fold_flame(f.now_in, nullptr, FoldBy::name));
  EXPECT_EQ(merged["head"]["children"][0]["children"].size(), 1u);
  EXPECT_EQ(tree_total(merged["head"]), 4536);
}

TEST(Heapprofile, DifferentialWeighsGrowth) {
  Fixture f;
  FlameData d = fold_flame(f.now_in, &f.base_in, FoldBy::location);
  json doc = render(d);
  EXPECT_EQ(tree_total(doc["head"]), 3024);
  EXPECT_EQ(doc["samples"], json::parse(R"([{"size":2000,"nodeId":5,"ordinal":1},{"size":1024,"nodeId":6,"ordinal":2}])"));
  EXPECT_EQ(d.shrunk, -4096);  // old_path shrank: not in the tree
  EXPECT_EQ(doc.dump().find("old_path"), std::string::npos);
}

TEST(Heapprofile, UnresolvedFramesMappedRootAndScriptIds) {
  Fixture f;
  // An address no symbol covers, in libc: named module+offset, url the module.
  f.now.sites.push_back(site({0x7f0000031000, 0x403000}, 64, 1, 64, 1));
  Frame raw;
  raw.function = "0x7f0000031000";
  raw.module = "/lib/x86_64-linux-gnu/libc.so.6";
  raw.rel_address = 0x31000;
  raw.address = 0x7f0000031000;
  f.now_syms.table[0x7f0000031000] = {raw};
  Site m = site({0x401100}, 4096, 1, 4096, 1);
  m.mapped = true;
  f.now.sites.push_back(m);
  json doc = render(fold_flame(f.now_in, nullptr, FoldBy::location));
  const json& kids = doc["head"]["children"];
  ASSERT_EQ(kids.size(), 2u) << doc.dump(2);
  // [mmap] sorts before main; it is in no module.
  EXPECT_EQ(kids[0]["callFrame"], frame("[mmap]", "0", "", -1));
  EXPECT_EQ(kids[0]["children"][0]["callFrame"], frame("make_buffer", "1", "buf.cpp", 9));
  EXPECT_EQ(kids[0]["children"][0]["selfSize"], 4096);
  const json& main_ = kids[1];
  EXPECT_EQ(main_["callFrame"], frame("main", "1", "main.cpp", 4));
  const json& libc = main_["children"][1];
  EXPECT_EQ(libc["callFrame"], frame("libc.so.6+0x31000", "2", "/lib/x86_64-linux-gnu/libc.so.6", -1));
  EXPECT_EQ(libc["selfSize"], 64);
  EXPECT_EQ(tree_total(doc["head"]), 4024 + 64 + 4096);
}

TEST(Heapprofile, HostileNamesStayValidJson) {
  Fixture f;
  f.now_syms.add(0x401100, {fr("we\"ird\\name\n\x01", std::string("f\xff.cpp").c_str(), 1)});
  json doc = render(fold_flame(f.now_in, nullptr, FoldBy::location));
  const json& b = doc["head"]["children"][0]["children"][0]["children"][1];
  EXPECT_EQ(b["callFrame"]["functionName"], "we\"ird\\name \x01");  // flame names are one line
  EXPECT_EQ(b["callFrame"]["url"], "f\xef\xbf\xbd.cpp");             // invalid UTF-8 replaced
}

TEST(Heapprofile, EmptyProfileIsARootAlone) {
  Profile p;
  FakeSymbols syms;
  ExportInput in{&p, syms.lookup()};
  json doc = render(fold_flame(in, nullptr, FoldBy::location));
  EXPECT_EQ(doc["head"], node(frame("(root)", "0", "", -1), 0, 1));
  EXPECT_EQ(doc["samples"], json::array());
}

TEST(Heapprofile, DeepStackNeedsNoRecursion) {
  Profile p;
  Site s;
  for (uint64_t i = 0; i < 200000; ++i) s.pcs.push_back(0x1000 + i);
  s.counts = {10, 1, 10, 1};
  p.sites.push_back(s);
  FakeSymbols syms;
  ExportInput in{&p, syms.lookup()};
  std::string out = render_heapprofile(fold_flame(in, nullptr, FoldBy::location));
  // The leaf (the innermost pc, 0x1000) is node 200001 and holds the bytes.
  EXPECT_NE(out.find("{\"functionName\":\"0x1000\",\"scriptId\":\"0\",\"url\":\"\",\"lineNumber\":-1,"
                     "\"columnNumber\":-1},\"selfSize\":10,\"id\":200001,\"children\":[]}"),
            std::string::npos);
  EXPECT_NE(out.find("\"samples\":[{\"size\":10,\"nodeId\":200001,\"ordinal\":1}]}"), std::string::npos);
  std::string closing;
  for (int i = 0; i < 200001; ++i) closing += "]}";
  EXPECT_NE(out.find(closing + ",\"samples\""), std::string::npos);
}
