// test_symbolize.cpp -- symbolization, origin and container detection on
// real -O2 -g builds (tests/tools/programs): inline frames, templates, a
// dlopen'd module and a module that is gone by the time we symbolize.
#include <gtest/gtest.h>

#include <sstream>

#include "analyze/origin.h"
#include "analyze/sites.h"
#include "profile.pb.h"
#include "render/pprof.h"
#include "reader/reader.h"
#include "test_util.h"

using namespace heapscope;

namespace {

const std::string kPrograms = HS_TEST_PROGRAMS_DIR;
const std::string kSource = std::string(HS_TEST_SOURCE_DIR) + "/programs/containers.cpp";
const std::string kPluginSource = std::string(HS_TEST_SOURCE_DIR) + "/programs/plugin.cpp";

std::string dump(const SiteView& s) {
  std::ostringstream o;
  o << "origin=" << s.origin << " container='" << s.container << "'\n";
  for (const auto& f : s.frames)
    o << "  " << (f.inlined ? "[i] " : "    ") << f.function << "  " << f.file << ":" << f.line
      << "  " << f.module << "\n";
  return o.str();
}

// Runs the containers program once for the whole suite.
class Programs : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    std::string plugin = kPrograms + "/libhs_test_plugin.so";
    gone_plugin_ = dir_->path + "/libgone_plugin.so";
    ASSERT_EQ(std::system(("cp '" + plugin + "' '" + gone_plugin_ + "'").c_str()), 0);
    RunResult r = run_command(kPrograms + "/containers '" + dir_->path + "' '" + plugin + "' '" +
                                  gone_plugin_ + "' '" + kPrograms +
                                  "/libhs_test_plugin_stripped.so'",
                              dir_->path);
    ASSERT_EQ(r.status, 0) << r.err;
    std::remove(gone_plugin_.c_str());
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static std::string snap(const std::string& name) { return dir_->path + "/" + name + ".hsnap"; }

  // Every allocation of the scenario must come from the marked line, in the
  // named container.
  void expect_scenario(const std::string& name, const std::string& container,
                       const std::string& source = kSource, std::string marker = "") {
    SCOPED_TRACE(name);
    Profile p = read_profile(snap(name));
    ASSERT_FALSE(p.sites.empty());
    SymbolizedProfile sp = symbolize_profile(p);
    int line = marked_line(source, "LINE:" + (marker.empty() ? name : marker));
    ASSERT_GT(line, 0);
    for (const auto& s : sp.sites) {
      const Frame* o = s.origin_frame();
      ASSERT_NE(o, nullptr) << dump(s);
      EXPECT_EQ(o->file, source) << dump(s);
      EXPECT_EQ(o->line, line) << dump(s);
      EXPECT_EQ(s.container, container) << dump(s);
    }
  }

  static TempDir* dir_;
  static std::string gone_plugin_;
};
TempDir* Programs::dir_ = nullptr;
std::string Programs::gone_plugin_;

}  // namespace

TEST_F(Programs, MapInlinedIntoCaller) {
  expect_scenario("map", "std::map<long, CacheEntry>");
  // The -O2 build inlines map::emplace into fill_map: the inlined std:: frames
  // are expanded and the origin is fill_map itself, a real (not inlined) frame.
  SymbolizedProfile sp = symbolize_profile(read_profile(snap("map")));
  const SiteView& s = sp.sites.at(0);
  const Frame* o = s.origin_frame();
  EXPECT_EQ(o->function, "fill_map(long)") << dump(s);
  EXPECT_FALSE(o->inlined);
  int inlined_std = 0;
  for (int i = 0; i < s.origin; ++i)
    if (s.frames[i].inlined && s.frames[i].function.find("std::") != std::string::npos) ++inlined_std;
  EXPECT_GE(inlined_std, 2) << dump(s);
  EXPECT_TRUE(sp.notes.empty()) << sp.notes.at(0);
  if (getenv("HS_DUMP")) for (auto n : {"map", "function", "shared", "umap"}) {
    SymbolizedProfile d = symbolize_profile(read_profile(snap(n)));
    std::cerr << dump(d.sites.at(0));
  }
}

TEST_F(Programs, UnorderedMap) { expect_scenario("umap", "std::unordered_map<long, double>"); }
TEST_F(Programs, Vector) { expect_scenario("vector", "std::vector<int>"); }
TEST_F(Programs, Deque) { expect_scenario("deque", "std::deque<long>"); }
TEST_F(Programs, List) { expect_scenario("list", "std::list<std::pair<int, int>>"); }
TEST_F(Programs, Set) { expect_scenario("set", "std::set<int>"); }
TEST_F(Programs, String) { expect_scenario("string", "std::string"); }
TEST_F(Programs, MakeShared) { expect_scenario("shared", "std::shared_ptr<Widget>"); }
TEST_F(Programs, Function) { expect_scenario("function", "std::function<long()>"); }
TEST_F(Programs, DlopenedModule) {
  expect_scenario("plugin1", "std::vector<long>", kPluginSource, "plugin");
}

TEST_F(Programs, MissingModuleNamesItAndShowsAddresses) {
  Profile p = read_profile(snap("plugin2"));
  Symbolizer sym(p);
  SymbolizedProfile sp = symbolize_profile(p, sym);
  ASSERT_FALSE(sp.sites.empty());
  auto problems = sym.problems();
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0], gone_plugin_ + ": not found; its frames show addresses");
  bool saw = false;
  for (const auto& f : sp.sites[0].frames) {
    if (f.module != gone_plugin_) continue;
    saw = true;
    EXPECT_EQ(f.function.rfind("0x", 0), 0u);
    EXPECT_FALSE(f.resolved);
    EXPECT_EQ(f.line, 0);
  }
  EXPECT_TRUE(saw) << dump(sp.sites[0]);
  // The origin is the first frame in the unknown (non-system) module.
  const Frame* o = sp.sites[0].origin_frame();
  ASSERT_NE(o, nullptr);
  EXPECT_EQ(o->module, gone_plugin_);
}

// A module stripped to .dynsym (no .symtab, no DWARF): its exported function
// is named from the dynamic symbol table, without file or line.
TEST_F(Programs, StrippedModuleNamesExportedFunctionFromDynsym) {
  const std::string stripped = kPrograms + "/libhs_test_plugin_stripped.so";
  Profile p = read_profile(snap("plugin3"));
  Symbolizer sym(p);
  SymbolizedProfile sp = symbolize_profile(p, sym);
  ASSERT_FALSE(sp.sites.empty());
  for (const auto& s : sp.sites) {
    int in_module = 0;
    for (const auto& f : s.frames) {
      if (f.module != stripped) continue;
      ++in_module;
      EXPECT_EQ(f.function, "plugin_fill") << dump(s);
      EXPECT_TRUE(f.resolved) << dump(s);
      EXPECT_EQ(f.line, 0) << dump(s);
    }
    EXPECT_EQ(in_module, 1) << dump(s);
    const Frame* o = s.origin_frame();
    ASSERT_NE(o, nullptr) << dump(s);
    EXPECT_EQ(o->function, "plugin_fill") << dump(s);
  }
  auto problems = sym.problems();
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0], stripped + ": no debug info (install its -dbg/-dbgsym package or build "
                                    "with -g); frames show function names only");
}

// Debian's libjemalloc.so.2 is stripped (.dynsym only): the frame of its
// exported malloc_stats_print, which called the program back, is named.
TEST(Jemalloc, ExportedFunctionOfStrippedAllocatorIsNamed) {
  TempDir dir;
  std::string out = dir.path + "/je.hsnap";
  RunResult r = run_command(kPrograms + "/je_callback '" + out + "'", dir.path);
  ASSERT_EQ(r.status, 0) << r.err;
  Profile p = read_profile(out);
  SymbolizedProfile sp = symbolize_profile(p);
  const std::string source = std::string(HS_TEST_SOURCE_DIR) + "/programs/je_callback.cpp";
  int line = marked_line(source, "LINE:je_callback");
  int arrays = 0;
  for (const auto& s : sp.sites) {
    const Frame* o = s.origin_frame();
    ASSERT_NE(o, nullptr) << dump(s);
    if (o->line != line || s.counts.inuse_bytes != 8 * sizeof(long)) continue;
    ++arrays;
    bool named = false;
    for (const auto& f : s.frames)
      if (f.module.find("libjemalloc.so") != std::string::npos && f.function == "malloc_stats_print") {
        named = true;
        EXPECT_TRUE(f.resolved);
      }
    EXPECT_TRUE(named) << dump(s);
  }
  EXPECT_EQ("arrays=" + std::to_string(arrays) + "\n", r.out);
  EXPECT_GT(arrays, 0);
}

// Frames carry the linkage (mangled) name, and pprof's Function.system_name
// is that name while Function.name is the demangled one.
TEST_F(Programs, MangledNameInFramesAndPprofSystemName) {
  Profile p = read_profile(snap("map"));
  Symbolizer sym(p);
  ASSERT_FALSE(p.sites.empty());
  bool saw_fill = false, saw_std = false;
  for (const auto& site : p.sites)
    for (const Frame& f : sym.stack(site.pcs)) {
      if (f.function == "fill_map(long)") {
        saw_fill = true;
        EXPECT_EQ(f.mangled, "_Z8fill_mapl");
        EXPECT_FALSE(f.inlined);
      }
      if (f.inlined && f.function.find("std::map<long, CacheEntry") != std::string::npos &&
          f.function.find("::emplace<") != std::string::npos) {
        saw_std = true;
        EXPECT_EQ(f.mangled.rfind("_ZNSt3mapIl10CacheEntry", 0), 0u) << f.function << " " << f.mangled;
        EXPECT_NE(f.mangled.find("7emplace"), std::string::npos) << f.mangled;
      }
    }
  EXPECT_TRUE(saw_fill);
  EXPECT_TRUE(saw_std);

  ExportInput in{&p, symbolizer_lookup(sym)};
  perftools::profiles::Profile pp;
  ASSERT_TRUE(pp.ParseFromString(pprof_message(in, nullptr)));
  auto str = [&](int64_t i) { return pp.string_table(static_cast<int>(i)); };
  int fill = 0;
  for (const auto& fn : pp.function()) {
    if (str(fn.name()) != "fill_map(long)") continue;
    ++fill;
    EXPECT_EQ(str(fn.system_name()), "_Z8fill_mapl");
  }
  EXPECT_EQ(fill, 1);
}

TEST_F(Programs, PerPcCacheGivesSameFrames) {
  Profile p = read_profile(snap("vector"));
  Symbolizer sym(p);
  auto a = sym.stack(p.sites[0].pcs);
  auto b = sym.stack(p.sites[0].pcs);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].function, b[i].function);
  EXPECT_EQ(&sym.frames(p.sites[0].pcs[0]), &sym.frames(p.sites[0].pcs[0]));
}

namespace {
Module& main_module(Profile& p) {
  for (auto& m : p.modules)
    if (m.main) return m;
  throw std::runtime_error("no main module");
}
}  // namespace

TEST_F(Programs, SeparateDebugInfoIsFound) {
  // A stripped copy whose debug info sits next to it (.gnu_debuglink), as
  // distributions ship -dbg packages: symbols, lines and inline frames come back.
  std::string bin = dir_->path + "/stripped";
  std::string orig = kPrograms + "/containers";
  std::string cmd = "cp '" + orig + "' '" + bin + "' && objcopy --only-keep-debug '" + orig + "' '" +
                    bin + ".debug' && objcopy --strip-debug --add-gnu-debuglink='" + bin +
                    ".debug' '" + bin + "'";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  Profile p = read_profile(snap("map"));
  main_module(p).path = bin;
  Symbolizer sym(p);
  SymbolizedProfile sp = symbolize_profile(p, sym);
  EXPECT_TRUE(sym.problems().empty()) << sym.problems().at(0);
  ASSERT_FALSE(sp.sites.empty());
  const Frame* o = sp.sites[0].origin_frame();
  ASSERT_NE(o, nullptr);
  EXPECT_EQ(o->line, marked_line(kSource, "LINE:map"));
  EXPECT_EQ(sp.sites[0].container, "std::map<long, CacheEntry>");

  // Without the debug file: function names from the symbol table, and a note.
  std::string bare = dir_->path + "/bare";
  ASSERT_EQ(std::system(("objcopy --strip-debug '" + orig + "' '" + bare + "'").c_str()), 0);
  main_module(p).path = bare;
  Symbolizer sym2(p);
  SymbolizedProfile sp2 = symbolize_profile(p, sym2);
  ASSERT_EQ(sym2.problems().size(), 1u);
  EXPECT_EQ(sym2.problems()[0], bare + ": no debug info (install its -dbg/-dbgsym package or build "
                                       "with -g); frames show function names only");
  const Frame* o2 = sp2.sites[0].origin_frame();
  ASSERT_NE(o2, nullptr);
  EXPECT_EQ(o2->function, "fill_map(long)");
  EXPECT_EQ(o2->line, 0);
}

TEST_F(Programs, BuildIdMismatchIsReported) {
  Profile p = read_profile(snap("vector"));
  Module& m = main_module(p);
  ASSERT_EQ(m.build_id.size(), 40u);  // gcc links with --build-id (sha1)
  std::string real = m.build_id;
  m.build_id = "00112233445566778899aabbccddeeff00112233";
  Symbolizer sym(p);
  SymbolizedProfile sp = symbolize_profile(p, sym);
  ASSERT_EQ(sym.problems().size(), 1u);
  EXPECT_EQ(sym.problems()[0], m.path + ": the file has build-id " + real +
                                   ", the snapshot recorded " + m.build_id +
                                   " (rebuilt since?); its frames show addresses");
  for (const auto& f : sp.sites[0].frames)
    if (f.module == m.path) EXPECT_FALSE(f.resolved);
}

// Line tables of objects compiled with relative names (`cc -c ../src/x.c`, ccache's base_dir).
TEST(SourcePath, RelativeNamesJoinTheCompilationDirectory) {
  EXPECT_EQ(source_path("/w/main/build/tests/tools", "../../../tests/tools/programs/wrappers.c"),
            "/w/main/tests/tools/programs/wrappers.c");
  EXPECT_EQ(source_path("/w/b", "./src/./x.c"), "/w/b/src/x.c");
  EXPECT_EQ(source_path("/w", "../../../x.c"), "/x.c");  // no climbing above the root
  EXPECT_EQ(source_path("/w/b", "/usr/include/c++/12/bits/stl_vector.h"), "/usr/include/c++/12/bits/stl_vector.h");
  EXPECT_EQ(source_path("", "src/x.c"), "src/x.c");          // no directory known: as given
  EXPECT_EQ(source_path("relative/dir", "src/x.c"), "src/x.c");
  EXPECT_EQ(source_path("/w/b", ""), "");
}
