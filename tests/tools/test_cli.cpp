// test_cli.cpp -- the heapscope command end to end on generated snapshots:
// --json shape (every documented field, right types) and exact figures, text
// output lines, --help, and errors (missing file, wrong magic, trend with two
// files, bad --top) that exit non-zero naming the file.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cerrno>
#include <cstring>

#include <nlohmann/json.hpp>

#include "series.h"
#include "test_util.h"

using nlohmann::json;

namespace {

const std::string kHeapscope = HS_HEAPSCOPE_BIN;

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    const uint64_t leak[] = {1000, 2000, 3000, 4000};
    const uint64_t churn[] = {9000, 0, 9500, 0};
    for (int i = 0; i < 4; ++i) {
      auto b = series::snapshot(series::bias_for(i), uint64_t(i + 1), uint64_t(i + 1),
                                {{0, leak[i], uint64_t(i + 1), leak[i], uint64_t(i + 1)},
                                 {1, churn[i], churn[i] ? 9u : 0u, 100000ull * (i + 1), 90ull * (i + 1)}});
      snaps.push_back(dir.path + "/app.777.000" + std::to_string(i + 1) + ".hsnap");
      ASSERT_TRUE(b.write(snaps.back()));
    }
    auto e = series::snapshot(series::bias_for(9), 10, 0, {{0, 0, 0, 4000, 4}}, HS_TRIGGER_EXIT);
    exit_snap = dir.path + "/app.777.exit.hsnap";
    ASSERT_TRUE(e.write(exit_snap));
  }
  // Without DEBUGINFOD_URLS, whatever the environment: no test asks a server.
  RunResult hs(const std::string& args) {
    return run_command("env -u DEBUGINFOD_URLS " + kHeapscope + " " + args, dir.path);
  }
  // Each (arguments, stderr) case: exactly that one line, exit 2, no stdout.
  void expect_usage_errors(const std::vector<std::pair<std::string, std::string>>& cases) {
    for (const auto& [args, err] : cases) {
      RunResult r = hs(args);
      EXPECT_EQ(r.status, 2) << args;
      EXPECT_EQ(r.err, err) << args;
      EXPECT_EQ(r.out, "") << args;
    }
  }

  static void check_counts(const json& j) {
    for (const char* k : {"inuse_bytes", "inuse_count", "alloc_bytes", "alloc_count"}) {
      ASSERT_TRUE(j.contains(k)) << k;
      EXPECT_TRUE(j[k].is_number_integer()) << k;
    }
  }
  static void check_site(const json& s) {
    check_counts(s);
    ASSERT_TRUE(s.contains("origin"));
    EXPECT_TRUE(s["origin"].is_object() || s["origin"].is_null());
    if (s["origin"].is_object()) {
      EXPECT_TRUE(s["origin"]["function"].is_string() || s["origin"]["function"].is_null());
      EXPECT_TRUE(s["origin"]["file"].is_string());
      EXPECT_TRUE(s["origin"]["line"].is_number_integer());
    }
    ASSERT_TRUE(s.contains("container"));
    EXPECT_TRUE(s["container"].is_string() || s["container"].is_null());
    ASSERT_TRUE(s["frames"].is_array());
    ASSERT_FALSE(s["frames"].empty());
    for (const auto& f : s["frames"]) {
      // function: a name, or null where no symbol covers the address (never "0x...").
      ASSERT_TRUE(f.contains("function"));
      EXPECT_TRUE(f["function"].is_null() ||
                  (f["function"].is_string() && f["function"].get<std::string>().rfind("0x", 0) != 0))
          << f.dump();
      EXPECT_TRUE(f["file"].is_string());
      EXPECT_TRUE(f["line"].is_number_integer());
      // module and offset: always there (null only for an address in no module).
      ASSERT_TRUE(f.contains("module"));
      ASSERT_TRUE(f.contains("offset"));
      EXPECT_TRUE(f["module"].is_string() || f["module"].is_null());
      EXPECT_EQ(f["module"].is_null(), f["offset"].is_null()) << f.dump();
      EXPECT_TRUE(f["inlined"].is_boolean());
    }
  }

  TempDir dir;
  std::vector<std::string> snaps;
  std::string exit_snap;
};

}  // namespace

TEST_F(Cli, ReportJson) {
  RunResult r = hs("report --json " + snaps[2]);
  ASSERT_EQ(r.status, 0) << r.err;
  json j = json::parse(r.out);
  check_counts(j["totals"]);
  EXPECT_EQ(j["totals"]["inuse_bytes"], 12500);
  ASSERT_EQ(j["sites"].size(), 2u);
  for (const auto& s : j["sites"]) check_site(s);
  EXPECT_EQ(j["sites"][0]["inuse_bytes"], 9500);
  EXPECT_EQ(j["sites"][0]["alloc_bytes"], 300000);
  EXPECT_EQ(j["sites"][1]["inuse_bytes"], 3000);
  EXPECT_EQ(j["sites"][1]["frames"][0]["module"], "/nonexistent/app");
  // No symbol covers it (the module is missing): function null, the place
  // as module + offset (the text's app+0x1000), the raw address beside it.
  EXPECT_TRUE(j["sites"][1]["frames"][0]["function"].is_null());
  EXPECT_EQ(j["sites"][1]["frames"][0]["offset"], "0x1000");
  EXPECT_EQ(j["sites"][1]["frames"][0]["address"], "0x55550e601000");
  EXPECT_EQ(j["sites"][1]["frames"][2]["offset"], "0x9000");
  EXPECT_TRUE(j["sites"][1]["origin"]["function"].is_null());
  EXPECT_TRUE(j["debuginfod"].is_null());  // DEBUGINFOD_URLS is not set for the tests
  EXPECT_EQ(j["sites"][1]["frames"].size(), 3u);
  EXPECT_TRUE(j["sites"][1]["container"].is_null());
  ASSERT_TRUE(j["notes"].is_array());
  EXPECT_EQ(j["notes"][0], "/nonexistent/app: not found; its frames show addresses");
  EXPECT_NE(r.err.find("heapscope: note: /nonexistent/app: not found"), std::string::npos);
  RunResult top = hs("report --json --top 1 " + snaps[2]);
  EXPECT_EQ(json::parse(top.out)["sites"].size(), 1u);
}

TEST_F(Cli, DiffJson) {
  RunResult r = hs("diff --json " + snaps[0] + " " + snaps[3]);
  ASSERT_EQ(r.status, 0) << r.err;
  json j = json::parse(r.out);
  check_counts(j["totals"]);
  EXPECT_EQ(j["totals"]["inuse_bytes"], 4000);  // NEW's totals
  ASSERT_EQ(j["sites"].size(), 2u);
  for (const auto& s : j["sites"]) {
    check_site(s);
    EXPECT_TRUE(s["delta_bytes"].is_number_integer());
    EXPECT_TRUE(s["delta_count"].is_number_integer());
  }
  EXPECT_EQ(j["sites"][0]["delta_bytes"], 3000);
  EXPECT_EQ(j["sites"][0]["delta_count"], 3);
  EXPECT_EQ(j["sites"][0]["change"], "grown");
  EXPECT_EQ(j["sites"][1]["delta_bytes"], -9000);
  EXPECT_EQ(j["sites"][1]["delta_count"], -9);
  EXPECT_EQ(j["sites"][1]["change"], "gone");
}

TEST_F(Cli, TrendJsonLeavesOutExit) {
  RunResult r = hs("trend --json " + snaps[0] + " " + snaps[1] + " " + snaps[2] + " " + snaps[3] +
                   " " + exit_snap);
  ASSERT_EQ(r.status, 0) << r.err;
  json j = json::parse(r.out);
  check_counts(j["totals"]);
  EXPECT_EQ(j["totals"]["inuse_bytes"], 4000);
  ASSERT_EQ(j["sites"].size(), 2u);
  for (const auto& s : j["sites"]) {
    check_site(s);
    EXPECT_TRUE(s["delta_bytes"].is_number_integer());
    EXPECT_TRUE(s["delta_count"].is_number_integer());
    EXPECT_TRUE(s["slope_bytes_per_s"].is_number());
    EXPECT_TRUE(s["r2"].is_number());
  }
  EXPECT_EQ(j["sites"][0]["delta_bytes"], 3000);
  EXPECT_DOUBLE_EQ(j["sites"][0]["slope_bytes_per_s"].get<double>(), 1000.0);
  EXPECT_DOUBLE_EQ(j["sites"][0]["r2"].get<double>(), 1.0);
  EXPECT_EQ(j["sites"][0]["suspect"], true);
  EXPECT_EQ(j["sites"][1]["suspect"], false);
  EXPECT_NE(r.err.find("heapscope: note: " + exit_snap + ": exit snapshot left out"),
            std::string::npos)
      << r.err;
}

TEST_F(Cli, TextOutputs) {
  RunResult r = hs("report " + snaps[3]);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("heapscope report: " + snaps[3] + " (hsnap, pid 777, #4 by interval"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("live 3.9 KiB in 4 blocks; allocated 394.5 KiB in 364 blocks since start"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("   1     3.9 KiB         4     3.9 KiB         4  app+0x1000\n"),
            std::string::npos)
      << r.out;
  RunResult d = hs("diff " + snaps[0] + " " + snaps[3]);
  ASSERT_EQ(d.status, 0) << d.err;
  EXPECT_NE(d.out.find("sites: 0 new, 1 grown, 0 shrunk, 1 gone"), std::string::npos) << d.out;
  EXPECT_NE(d.out.find("live 9.8 KiB -> 3.9 KiB (-5.9 KiB), blocks 10 -> 4 (-6)"), std::string::npos)
      << d.out;
  EXPECT_NE(d.out.find("  +2.9 KiB        +3     3.9 KiB  grown"), std::string::npos) << d.out;
  RunResult t = hs("trend " + snaps[0] + " " + snaps[1] + " " + snaps[2] + " " + snaps[3]);
  ASSERT_EQ(t.status, 0) << t.err;
  EXPECT_NE(t.out.find("heapscope trend: 4 snapshots over 3.0 s (by uptime)"), std::string::npos)
      << t.out;
  EXPECT_NE(t.out.find("1 leak suspect among 2 sites"), std::string::npos) << t.out;
  EXPECT_NE(t.out.find("   1      +1000 B      +1000 B  1.00      100%     3.9 KiB     +2.9 KiB  leak suspect: "
                       "app+0x1000\n"),
            std::string::npos)
      << t.out;
}

TEST_F(Cli, HelpForEverySubcommand) {
  for (const char* sub : {"report", "diff", "trend", "run", "snapshot", "export"}) {
    RunResult r = hs(std::string(sub) + " --help");
    EXPECT_EQ(r.status, 0) << sub << r.err;
    EXPECT_NE(r.out.find("heapscope " + std::string(sub) + " [OPTIONS]"), std::string::npos)
        << sub << r.out;
  }
}

TEST_F(Cli, ErrorsNameTheFileAndExitNonZero) {
  RunResult missing = hs("report " + dir.path + "/nope.hsnap");
  EXPECT_NE(missing.status, 0);
  EXPECT_EQ(missing.err, "heapscope: " + dir.path + "/nope.hsnap: cannot open: No such file or directory\n");
  std::string text = dir.path + "/notes.txt";
  ASSERT_TRUE(hsnap_test::Builder::write_file(text, "just text\n"));
  RunResult magic = hs("diff " + snaps[0] + " " + text);
  EXPECT_NE(magic.status, 0);
  EXPECT_EQ(magic.err, "heapscope: " + text +
                           ": not a heap profile (expected a heapscope snapshot, a gperftools or a "
                           "jemalloc heap profile)\n");
  RunResult two = hs("trend " + snaps[0] + " " + snaps[1]);
  EXPECT_EQ(two.status, 2);  // bad input, as for a file that is not a profile
  EXPECT_EQ(two.err, "heapscope: trend needs at least 3 snapshots, 2 given (" + snaps[0] + ", " +
                         snaps[1] + ")\n");
  RunResult exits = hs("trend " + snaps[0] + " " + snaps[1] + " " + exit_snap);
  EXPECT_EQ(exits.status, 2);
  EXPECT_NE(exits.err.find("trend needs at least 3 snapshots taken while the program ran; 3 given, "
                           "1 of them exit snapshots left out"),
            std::string::npos)
      << exits.err;
  for (const char* bad : {"abc", "-1"}) {
    RunResult top = hs(std::string("report --top ") + bad + " " + snaps[0]);
    EXPECT_NE(top.status, 0) << bad;
    EXPECT_NE(top.err.find("--top"), std::string::npos) << top.err;
  }
  std::string cut = dir.path + "/cut.hsnap";
  std::string data = read_text(snaps[0]);
  ASSERT_TRUE(hsnap_test::Builder::write_file(cut, data.substr(0, 100)));
  RunResult truncated = hs("report " + cut);
  EXPECT_NE(truncated.status, 0);
  EXPECT_EQ(truncated.err.rfind("heapscope: " + cut + ": offset ", 0), 0u) << truncated.err;
  RunResult dirr = hs("report " + dir.path);
  EXPECT_EQ(dirr.err, "heapscope: " + dir.path + ": is a directory, expected a heap profile file\n");
}

// What a new user types wrong: each is one line on stderr naming the value
// and what was expected, exit status 2, nothing on stdout.
TEST_F(Cli, UsageErrorsAreOneLineNamingTheValue) {
  const std::string subs = "one of run, snapshot, top, attach, detach, report, diff, trend, check, export, serve, html";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "heapscope: a subcommand is required: " + subs + "; see `heapscope --help`\n"},
      {"bogus", "heapscope: unknown subcommand 'bogus': expected " + subs + "; see `heapscope --help`\n"},
      {"--bogus", "heapscope: unknown option '--bogus': expected a subcommand (" + subs +
                      ") or --help, --version\n"},
      {"report", "heapscope report: SNAP is required; see `heapscope report --help`\n"},
      {"report " + snaps[0] + " --frobnicate",
       "heapscope report: The following argument was not expected: --frobnicate; see `heapscope report "
       "--help`\n"},
      {"report " + snaps[0] + " --top x",
       "heapscope report: --top: 'x' is not a number (expected a count of sites, 0 = all); see "
       "`heapscope report --help`\n"},
      {"report " + snaps[0] + " --top 1.5",
       "heapscope report: --top: '1.5' is not a whole number (expected a count of sites, 0 = all); see "
       "`heapscope report --help`\n"},
      {"diff " + snaps[0], "heapscope diff: NEW is required; see `heapscope diff --help`\n"},
      {"snapshot", "heapscope snapshot: PID is required; see `heapscope snapshot --help`\n"},
      {"run", "heapscope: run: no command given (usage: heapscope run [OPTIONS] -- CMD [ARGS]); see "
              "`heapscope run --help`\n"},
      {"run --interval abc -- true", "heapscope: --interval abc: expected seconds >= 0 (e.g. 5 or 0.5)\n"},
      {"snapshot abc", "heapscope: abc: not a process id (expected a positive number)\n"},
      {"snapshot 1 --timeout 0",
       "heapscope snapshot: --timeout: '0' is out of range (expected seconds, more than 0); see "
       "`heapscope snapshot --help`\n"},
      {"export " + snaps[0] + " --format pprof",
       "heapscope: export: -o FILE is required: the file to write ('-' for standard output); see "
       "`heapscope export --help`\n"},
      {"export " + snaps[0] + " -o out.pb.gz",
       "heapscope: export: --format is required: one of pprof, collapsed, speedscope, svg, heapprofile; see "
       "`heapscope export --help`\n"},
  };
  expect_usage_errors(cases);
}

// Files that are not heap profiles, whatever the subcommand.
TEST_F(Cli, NonProfilesAreRefusedInOneLine) {
  std::string empty = dir.path + "/empty.hsnap";
  ASSERT_TRUE(hsnap_test::Builder::write_file(empty, ""));
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"report " + empty, "heapscope: " + empty + ": empty file, expected a heap profile\n"},
      {"trend " + snaps[0] + " " + snaps[1] + " " + dir.path,
       "heapscope: " + dir.path + ": is a directory, expected a heap profile file\n"},
      {"export /dev/zero --format svg -o " + dir.path + "/z.svg",
       "heapscope: /dev/zero: not a heap profile (expected a heapscope snapshot, a gperftools or a "
       "jemalloc heap profile)\n"},
      {"export " + snaps[0] + " --base " + dir.path + "/missing.hsnap --format pprof -o " + dir.path + "/m.pb.gz",
       "heapscope: " + dir.path + "/missing.hsnap: cannot open: No such file or directory\n"},
  };
  expect_usage_errors(cases);
  EXPECT_NE(::access((dir.path + "/z.svg").c_str(), F_OK), 0) << "no output file after an error";
  EXPECT_NE(::access((dir.path + "/m.pb.gz").c_str(), F_OK), 0) << "no output file after an error";
}

// export -o - writes to standard output.
TEST_F(Cli, ExportToStandardOutput) {
  RunResult r = hs("export " + snaps[3] + " --format collapsed -o -");
  ASSERT_EQ(r.status, 0) << r.err;
  RunResult f = hs("export " + snaps[3] + " --format collapsed -o " + dir.path + "/c.folded");
  ASSERT_EQ(f.status, 0) << f.err;
  EXPECT_EQ(r.out, read_text(dir.path + "/c.folded"));
  EXPECT_EQ(r.out.substr(r.out.size() - 6), " 4000\n") << r.out;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
}

// export -o names a device, a symlink or a directory: a device is written in
// place (not replaced by a regular file), a symlink's target is written and
// the link kept, a directory is refused.
TEST_F(Cli, ExportKeepsDevicesAndSymlinks) {
  std::string null_dev = dir.path + "/null";
  // tests/run.sh runs as root (it apt-gets); a run without root fails here rather than skipping.
  ASSERT_EQ(::mknod(null_dev.c_str(), S_IFCHR | 0666, makedev(1, 3)), 0)
      << "mknod " << null_dev << " (needs root): " << std::strerror(errno);
  RunResult r = hs("export " + snaps[3] + " --format collapsed -o " + null_dev);
  ASSERT_EQ(r.status, 0) << r.err;
  struct stat st{};
  ASSERT_EQ(::lstat(null_dev.c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode)) << "the device was replaced";
  EXPECT_EQ(st.st_rdev, makedev(1, 3));
  // A symlink to a device: the device stays.
  std::string dev_link = dir.path + "/null.link";
  ASSERT_EQ(::symlink(null_dev.c_str(), dev_link.c_str()), 0);
  ASSERT_EQ(hs("export " + snaps[3] + " --format collapsed -o " + dev_link).status, 0);
  ASSERT_EQ(::lstat(null_dev.c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode)) << "the device behind the link was replaced";
  // A symlink to a regular file: the file gets the output, the link stays.
  std::string file = dir.path + "/real.folded", link = dir.path + "/link.folded";
  ASSERT_TRUE(hsnap_test::Builder::write_file(file, "old"));
  ASSERT_EQ(::symlink("real.folded", link.c_str()), 0);
  RunResult l = hs("export " + snaps[3] + " --format collapsed -o " + link);
  ASSERT_EQ(l.status, 0) << l.err;
  ASSERT_EQ(::lstat(link.c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode)) << "the symlink was replaced";
  RunResult out = hs("export " + snaps[3] + " --format collapsed -o -");
  EXPECT_EQ(read_text(file), out.out);
  // A directory is refused, and left alone.
  RunResult d = hs("export " + snaps[3] + " --format collapsed -o " + dir.path);
  EXPECT_EQ(d.status, 1);
  const std::string dir_err = "heapscope: " + dir.path + ": is a directory (expected a file to write)\n";
  ASSERT_GE(d.err.size(), dir_err.size()) << d.err;
  EXPECT_EQ(d.err.substr(d.err.size() - dir_err.size()), dir_err) << d.err;
}

// Frames no symbol names are drawn as module+offset, so flame graphs of two
// runs loaded at different addresses (series::bias_for) fold together.
TEST_F(Cli, ExportNamesUnsymbolizedFramesByModuleOffset) {
  RunResult now = hs("export " + snaps[3] + " --format collapsed -o -");
  ASSERT_EQ(now.status, 0) << now.err;
  EXPECT_EQ(now.out.find("0x5"), std::string::npos) << "raw addresses: " << now.out;
  EXPECT_EQ(now.out.rfind("app+0x", 0), 0u) << now.out;
  RunResult growth = hs("export " + snaps[3] + " --base " + snaps[0] + " --format collapsed -o -");
  ASSERT_EQ(growth.status, 0) << growth.err;
  EXPECT_EQ(growth.out, now.out.substr(0, now.out.size() - 5) + "3000\n");
  EXPECT_NE(::access((dir.path + "/-").c_str(), F_OK), 0) << "wrote a file named '-'";
}

TEST_F(Cli, RunMechanicsWithoutTheProfiler) {
  // Any shared object serves as the "profiler" here; run's own behaviour is tested.
  std::string lib = std::string(HS_TEST_PROGRAMS_DIR) + "/libhs_test_plugin.so";
  std::string env = "HEAPSCOPE_LIB='" + lib + "' ";
  RunResult r = run_command(env + "LD_PRELOAD=libm.so.6 " + kHeapscope +
                                " run --out rel --interval 0.5 --sample 4096 --signal USR1 --stats 2 "
                                "-- sh -c 'echo \"$LD_PRELOAD|$HEAPSCOPE_OUT|$HEAPSCOPE_INTERVAL|"
                                "$HEAPSCOPE_SAMPLE|$HEAPSCOPE_SIGNAL|$HEAPSCOPE_STATS\"; exit 5'",
                            dir.path);
  EXPECT_EQ(r.status, 5) << r.err;
  char cwd[4096];
  ASSERT_NE(getcwd(cwd, sizeof cwd), nullptr);
  EXPECT_EQ(r.out, lib + ":libm.so.6|" + std::string(cwd) + "/rel|0.5|4096|USR1|2\n");
  EXPECT_NE(r.err.find("heapscope: snapshots go to rel."), std::string::npos) << r.err;
  // Without "--" the command starts at the first argument that is not ours.
  RunResult bare = run_command(env + kHeapscope + " run sh -c 'echo ok $0' arg", dir.path);
  EXPECT_EQ(bare.status, 0) << bare.err;
  EXPECT_EQ(bare.out, "ok arg\n");
  RunResult missing = run_command(env + kHeapscope + " run -- no-such-command-xyz", dir.path);
  EXPECT_EQ(missing.status, 127);
  EXPECT_EQ(missing.err, "heapscope: no-such-command-xyz: command not found\n");
  std::string stat_prog = std::string(HS_TEST_PROGRAMS_DIR) + "/static_prog";
  RunResult st = run_command(env + kHeapscope + " run -- " + stat_prog, dir.path);
  EXPECT_NE(st.status, 0);
  EXPECT_EQ(st.err, "heapscope: " + stat_prog +
                        ": statically linked, so LD_PRELOAD cannot reach it. Link the profiler in "
                        "instead (-lheapscope, or target heapscope::heapscope) and run it with the "
                        "same HEAPSCOPE_* variables\n");
  RunResult nolib = run_command("HEAPSCOPE_LIB=/nonexistent/lib.so " + kHeapscope + " run -- true", dir.path);
  EXPECT_NE(nolib.status, 0);
  EXPECT_EQ(nolib.err, "heapscope: /nonexistent/lib.so: HEAPSCOPE_LIB names no file (expected the "
                       "path of libheapscope.so)\n");
  RunResult badsig = run_command(env + kHeapscope + " run --signal FOO -- true", dir.path);
  EXPECT_NE(badsig.status, 0);
  EXPECT_EQ(badsig.err, "heapscope: --signal FOO: not a signal (expected a signal name or number "
                        "such as SIGUSR2, usr1, RTMIN+2 or 12)\n");
  // SIGTERM sent to heapscope reaches the command; heapscope exits 128+15.
  RunResult term = run_command(env + kHeapscope + " run -- sleep 30 & sleep 0.3; kill -TERM $!; wait $!",
                               dir.path);
  EXPECT_EQ(term.status, 128 + 15) << term.err;
}

TEST_F(Cli, JsonSurvivesBytesThatAreNotUtf8) {
  auto b = series::snapshot(series::bias_for(0), 1, 1, {{0, 10, 1, 10, 1}});
  b.modules[0].path = "/nonexistent/\xff\xfe-app";
  std::string bad = dir.path + "/bad-utf8.hsnap";
  ASSERT_TRUE(b.write(bad));
  RunResult r = hs("report --json " + bad);
  ASSERT_EQ(r.status, 0) << r.err;
  json j = json::parse(r.out);
  EXPECT_EQ(j["sites"][0]["frames"][0]["module"], "/nonexistent/\xef\xbf\xbd\xef\xbf\xbd-app");
}
