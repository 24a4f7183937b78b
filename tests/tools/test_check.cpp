// test_check.cpp -- `heapscope check` end to end with the real profiler:
// programs/check_prog (leak, bounded, fail, quick) under periodic snapshots.
// Exit codes (0 pass, 1 leak, 2 CMD failed, 3 no verdict), the suspects
// printed as trend prints them, --max-growth, --ignore, the JUnit file
// validated with xmllint against junit_required.xsd (the elements and
// attributes the Ant/Jenkins JUnit format requires), usage errors.
// Every spawn is bounded by `timeout`; check_prog's waits are bounded too.
// No assertion on a time: check_prog's series is the same however slow the
// machine (it waits for the snapshots, see check_prog.cpp).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "render/junit.h"
#include "test_util.h"

namespace {

const std::string kHeapscope = HS_HEAPSCOPE_BIN;
const std::string kProg = std::string(HS_TEST_PROGRAMS_DIR) + "/check_prog";
const std::string kSource = std::string(HS_TEST_SOURCE_DIR) + "/programs/check_prog.cpp";
const std::string kSchema = std::string(HS_TEST_SOURCE_DIR) + "/junit_required.xsd";

class Check : public ::testing::Test {
 protected:
  // heapscope check ARGS -- check_prog MODE, from the temporary directory.
  RunResult check(const std::string& args, const std::string& mode) {
    return check_command(args, kProg + " " + mode);
  }
  // heapscope check ARGS -- COMMAND (a shell command line), from the temporary directory.
  RunResult check_command(const std::string& args, const std::string& command) {
    return run_command("cd '" + dir.path + "' && HEAPSCOPE_LIB='" + std::string(HS_PROFILER_LIB) +
                           "' timeout 120 " + kHeapscope + " check " + args + " -- " + command,
                       dir.path);
  }
  // The snapshot files (*.hsnap) in the temporary directory.
  size_t snapshots() {
    size_t n = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir.path)) n += e.path().extension() == ".hsnap";
    return n;
  }
  // xmllint's verdict on FILE against the schema: "" when it validates.
  std::string validate(const std::string& file) {
    RunResult r = run_command("timeout 60 xmllint --noout --schema '" + kSchema + "' '" + file + "'", dir.path);
    return r.status == 0 ? "" : r.err + " (status " + std::to_string(r.status) + ")";
  }
  std::string where(const std::string& function, const std::string& marker) {
    return "(anonymous namespace)::" + function + "  check_prog.cpp:" +
           std::to_string(marked_line(kSource, "LINE:" + marker));
  }
  TempDir dir;
};

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST_F(Check, LeakingProgramFailsNamingTheSiteAsTrendDoes) {
  RunResult r = check("--interval 0.1 --junit leaks.xml", "leak");
  ASSERT_EQ(r.status, 1) << r.out << r.err;
  // The cache grows by 5 steps x 32769 bytes; the 4 KiB-a-step log (+20 KiB)
  // stays under the default --max-growth of 64 KiB.
  EXPECT_NE(r.out.find("1 leak suspect among"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("+160.0 KiB  leak suspect: " + where("cache_put", "cache_put")), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("   #      slope/s   slope/snap    r2  monotone        live        delta  where"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(r.out.find("leak suspect: " + where("log_line", "log_line")), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(": FAIL: 1 site keeps growing by more than 64.0 KiB (--max-growth)\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("within --max-growth"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("CMD failed"), std::string::npos) << r.out;

  const std::string xml = dir.path + "/leaks.xml";
  struct stat st{};
  ASSERT_EQ(stat(xml.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(validate(xml), "");
  std::string x = read_text(xml);
  EXPECT_NE(x.find("tests=\"2\" failures=\"1\" errors=\"0\""), std::string::npos) << x;
  EXPECT_NE(x.find("<testcase name=\"leak: " + where("cache_put", "cache_put") + "\""), std::string::npos) << x;
  EXPECT_NE(x.find("<failure type=\"leak suspect\" message=\"keeps growing: +160.0 KiB over "),
            std::string::npos)
      << x;
  // The failure's text is the site's whole stack, the origin marked.
  EXPECT_NE(x.find("&gt; " + where("cache_put", "cache_put") + "\n| main  check_prog.cpp:"), std::string::npos) << x;
  EXPECT_NE(x.find("container std::string\n"), std::string::npos) << x;
}

TEST_F(Check, SchemaRejectsAReportMissingARequiredAttribute) {
  // The schema has teeth: the same report without testsuite's hostname fails.
  RunResult r = check("--interval 0.1 --junit leaks.xml", "leak");
  ASSERT_EQ(r.status, 1) << r.out << r.err;
  std::string x = read_text(dir.path + "/leaks.xml");
  size_t at = x.find(" hostname=\"");
  ASSERT_NE(at, std::string::npos) << x;
  x.erase(at, x.find('"', at + 11) + 1 - at);
  {
    std::ofstream out(dir.path + "/broken.xml");
    out << x;
  }
  EXPECT_NE(validate(dir.path + "/broken.xml").find("'hostname' is required"), std::string::npos);
}

TEST_F(Check, BoundedProgramPasses) {
  RunResult r = check("--interval 0.1 --junit ok.xml", "bounded");
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_EQ(count(r.out, ": pass: no site keeps growing by more than 64.0 KiB over "), 1u) << r.out;
  EXPECT_EQ(r.out.find("leak suspect:"), std::string::npos) << r.out;
  EXPECT_EQ(validate(dir.path + "/ok.xml"), "");
  std::string x = read_text(dir.path + "/ok.xml");
  EXPECT_NE(x.find("tests=\"2\" failures=\"0\" errors=\"0\""), std::string::npos) << x;
  EXPECT_NE(x.find(": no site keeps growing\" classname=\"heapscope.check.pid"), std::string::npos) << x;
}

TEST_F(Check, MaxGrowthAndIgnoreDecideWhichSitesFail) {
  // With --max-growth 8K the log (+20 KiB) fails too.
  RunResult both = check("--interval 0.1 --max-growth 8K", "leak");
  ASSERT_EQ(both.status, 1) << both.out << both.err;
  EXPECT_NE(both.out.find("leak suspect: " + where("cache_put", "cache_put")), std::string::npos) << both.out;
  EXPECT_NE(both.out.find("+20.0 KiB  leak suspect: " + where("log_line", "log_line")), std::string::npos)
      << both.out;
  EXPECT_NE(both.out.find(": FAIL: 2 sites keep growing by more than 8.0 KiB"), std::string::npos) << both.out;

  RunResult one = check("--interval 0.1 --max-growth 8K --ignore 'log_line' --junit one.xml", "leak");
  ASSERT_EQ(one.status, 1) << one.out << one.err;
  EXPECT_NE(one.out.find("leak suspect: " + where("cache_put", "cache_put")), std::string::npos) << one.out;
  EXPECT_EQ(one.out.find("leak suspect: " + where("log_line", "log_line")), std::string::npos) << one.out;
  EXPECT_NE(one.out.find(": FAIL: 1 site keeps growing by more than 8.0 KiB"), std::string::npos) << one.out;
  EXPECT_NE(one.out.find("ignored (--ignore): " + where("log_line", "log_line") + "  +20.0 KiB\n"),
            std::string::npos)
      << one.out;
  EXPECT_EQ(validate(dir.path + "/one.xml"), "");
  EXPECT_NE(read_text(dir.path + "/one.xml").find("<property name=\"ignore\" value=\"log_line\"/>"),
            std::string::npos);

  // A regex on the file:line of the frame ignores the cache too: a pass.
  RunResult none = check("--interval 0.1 --max-growth 8K --ignore log_line --ignore 'check_prog\\.cpp:" +
                             std::to_string(marked_line(kSource, "LINE:cache_put")) + "$'",
                         "leak");
  ASSERT_EQ(none.status, 0) << none.out << none.err;
  EXPECT_NE(none.out.find(": pass: no site keeps growing by more than 8.0 KiB"), std::string::npos) << none.out;
  EXPECT_NE(none.out.find("ignored (--ignore): " + where("cache_put", "cache_put") + "  +160.0 KiB\n"),
            std::string::npos)
      << none.out;
}

TEST_F(Check, ProgramThatFailsByItselfExitsTwoAndSaysSo) {
  RunResult r = check("--interval 0.1 --junit failed.xml", "fail");
  ASSERT_EQ(r.status, 2) << r.out << r.err;
  EXPECT_NE(r.out.find("heapscope check: CMD failed by itself: exited with status 3 (exit 2, whatever the "
                       "leak verdict)\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find(": pass: no site keeps growing"), std::string::npos) << r.out;  // still judged
  EXPECT_EQ(validate(dir.path + "/failed.xml"), "");
  std::string x = read_text(dir.path + "/failed.xml");
  EXPECT_NE(x.find("failures=\"0\" errors=\"1\""), std::string::npos) << x;
  EXPECT_NE(x.find("<error type=\"exit status\" message=\"CMD failed by itself: exited with status 3\">"),
            std::string::npos)
      << x;
}

TEST_F(Check, ProgramKilledByASignalExitsTwoNamingIt) {
  RunResult r = check("--interval 0.1", "kill");
  ASSERT_EQ(r.status, 2) << r.out << r.err;
  EXPECT_NE(r.out.find("heapscope check: CMD failed by itself: killed by SIGTERM (status 143) (exit 2, whatever "
                       "the leak verdict)\n"),
            std::string::npos)
      << r.out;
}

TEST_F(Check, RunTooShortForThreeSnapshotsGivesNoVerdict) {
  RunResult r = check("--interval 30 --junit short.xml", "quick");
  ASSERT_EQ(r.status, 3) << r.out << r.err;
  EXPECT_NE(r.out.find("heapscope check: no verdict: CMD ran for "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" s, too short for 3 periodic snapshots one every 30 s; use a shorter --interval (e.g. "
                       "--interval "),
            std::string::npos)
      << r.out;
  EXPECT_EQ(validate(dir.path + "/short.xml"), "");
  EXPECT_NE(read_text(dir.path + "/short.xml").find("<error type=\"no verdict\""), std::string::npos);
}

TEST_F(Check, JunitEscapesWhatXmlCannotCarry) {
  // Names with markup, quotes, newlines, a control character and invalid
  // UTF-8 still give a valid file, the text intact where XML can carry it.
  heapscope::JunitSuite suite;
  suite.name = "heapscope check";
  suite.package = "heapscope";
  suite.hostname = "h";
  suite.time_unix_s = 86400 * 365;
  suite.properties = {{"command", "sh -c 'a < b && \"c\"'\n"}};
  heapscope::JunitCase c;
  c.name = "leak: std::map<int, X>::operator[]  a&b.cpp:1";
  c.classname = "heapscope.check.pid1";
  c.outcome = "failure";
  c.type = "leak suspect";
  c.message = "line one\nline\ttwo \x01 \xff";
  c.body = "> f<T>  x.cpp:2\n| g  \x02y.cpp:3\n";
  suite.cases.push_back(c);
  suite.system_out = "out ]]> & <";
  std::string xml = heapscope::junit_xml(suite);
  {
    std::ofstream out(dir.path + "/escaped.xml");
    out << xml;
  }
  EXPECT_EQ(validate(dir.path + "/escaped.xml"), "") << xml;
  EXPECT_NE(xml.find("timestamp=\"1971-01-01T00:00:00\""), std::string::npos) << xml;
  EXPECT_NE(xml.find("name=\"leak: std::map&lt;int, X&gt;::operator[]  a&amp;b.cpp:1\""), std::string::npos) << xml;
  EXPECT_NE(xml.find("message=\"line one&#10;line&#9;two ? ?\""), std::string::npos) << xml;
  EXPECT_NE(xml.find(">&gt; f&lt;T&gt;  x.cpp:2\n| g  ?y.cpp:3\n</failure>"), std::string::npos) << xml;
  EXPECT_NE(xml.find("value=\"sh -c &apos;a &lt; b &amp;&amp; &quot;c&quot;&apos;&#10;\""), std::string::npos) << xml;
}

TEST_F(Check, UsageErrorsNameTheValue) {
  struct Case {
    std::string args, err;
  } cases[] = {
      {"--interval 0", "heapscope: check: --interval 0: expected seconds > 0 between periodic snapshots (e.g. 1 "
                       "or 0.2)\n"},
      {"--max-growth 1x", "heapscope: check: --max-growth 1x: expected bytes, a whole number with an optional K, "
                          "M or G suffix (e.g. 65536 or 64K; 0 = any steady growth fails)\n"},
      {"--ignore '('", "heapscope: check: --ignore '(': not a regular expression (Mismatched '(' and ')' in "
                       "regular expression; expected an ECMAScript regex such as 'LruCache::put' or "
                       "'libfoo\\.so')\n"},
      // An empty pattern matches every site: it would turn the gate off.
      {"--ignore ''", "heapscope: check: --ignore '': empty pattern (it matches everything; expected an "
                      "ECMAScript regex such as 'LruCache::put' or 'libfoo\\.so')\n"},
  };
  for (const auto& c : cases) {
    RunResult r = check(c.args, "quick");
    EXPECT_EQ(r.status, 2) << c.args;
    EXPECT_EQ(r.err, c.err) << c.args;
    EXPECT_EQ(r.out, "") << c.args;
  }
  RunResult none = run_command("timeout 60 " + kHeapscope + " check --", dir.path);
  EXPECT_EQ(none.status, 2);
  EXPECT_EQ(none.err, "heapscope: check: no command given (usage: heapscope check [OPTIONS] -- CMD [ARGS]); see "
                      "`heapscope check --help`\n");
}

// --junit FILE that cannot be written is a usage error before CMD runs (it
// was found only after the run: a directory gave exit 1, the leak verdict's
// code, and a fifo hung the gate until a reader came).
TEST_F(Check, JunitPathIsCheckedBeforeCommandRuns) {
  ASSERT_EQ(::mkdir((dir.path + "/adir").c_str(), 0700), 0);
  ASSERT_EQ(::mkfifo((dir.path + "/afifo").c_str(), 0600), 0);
  ASSERT_EQ(::symlink("elsewhere.xml", (dir.path + "/alink").c_str()), 0);
  struct Case {
    std::string path, err;
  } cases[] = {
      {"adir", "heapscope: check: --junit adir: is a directory (expected a file to write)\n"},
      {"afifo", "heapscope: check: --junit afifo: is a fifo (expected a regular file or a new name)\n"},
      {"alink", "heapscope: check: --junit alink: is a symlink (expected a regular file or a new name; heapscope "
                "does not follow symlinks)\n"},
      {"missing/x.xml", "heapscope: check: --junit missing/x.xml: directory missing: No such file or directory "
                        "(expected an existing directory to write the file in)\n"},
  };
  for (const auto& c : cases) {
    RunResult r = check("--interval 0.1 --junit " + c.path, "leak");
    EXPECT_EQ(r.status, 2) << c.path << ": " << r.out << r.err;
    EXPECT_EQ(r.err, c.err) << c.path;
    EXPECT_EQ(r.out, "") << c.path;
    EXPECT_EQ(snapshots(), 0u) << c.path << ": CMD ran";
  }
  struct stat st{};
  ASSERT_EQ(::lstat((dir.path + "/afifo").c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  ASSERT_EQ(::lstat((dir.path + "/alink").c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
}

// An error after CMD ran (here the --junit directory is gone by then) exits
// 4, never 1: a leak gate must not report a leak it did not find, nor hide
// one behind the verdict's code. The verdict is still printed.
TEST_F(Check, ErrorAfterTheRunExitsFourNotTheLeakCode) {
  ASSERT_EQ(::mkdir((dir.path + "/sub").c_str(), 0700), 0);
  RunResult r = check_command("--interval 0.1 --junit sub/leaks.xml", "sh -c 'rmdir sub; " + kProg + " bounded; true'");
  ASSERT_EQ(r.status, 4) << r.out << r.err;
  EXPECT_NE(r.out.find(": pass: no site keeps growing"), std::string::npos) << r.out;
  EXPECT_EQ(r.err.rfind("heapscope: check: "), r.err.find("heapscope: check: ")) << r.err;
  const std::string tail = " (exit 4: heapscope's own error after CMD ran)\n";
  ASSERT_GE(r.err.size(), tail.size()) << r.err;
  EXPECT_EQ(r.err.substr(r.err.size() - tail.size()), tail) << r.err;
  EXPECT_NE(r.err.find("heapscope: check: --junit sub/leaks.xml: "), std::string::npos) << r.err;

  // The same with the leaking program: 4 as well, not the verdict's 1.
  ASSERT_EQ(::mkdir((dir.path + "/sub").c_str(), 0700), 0);
  RunResult leak = check_command("--interval 0.1 --junit sub/leaks.xml", "sh -c 'rmdir sub; " + kProg + " leak; true'");
  ASSERT_EQ(leak.status, 4) << leak.out << leak.err;
  EXPECT_NE(leak.out.find(": FAIL: 1 site keeps growing"), std::string::npos) << leak.out;
}

// --junit onto an existing file replaces it atomically (a new inode: a hard
// link to the old one keeps the old text) and makes it 0600 whatever mode it
// had (it was truncated in place, keeping 0644); no temporary is left.
TEST_F(Check, JunitReplacesAnExistingFileAtomicallyAs0600) {
  const std::string xml = dir.path + "/old.xml", keep = dir.path + "/keep.xml";
  {
    std::ofstream out(xml);
    out << "old";
  }
  ASSERT_EQ(::chmod(xml.c_str(), 0644), 0);
  ASSERT_EQ(::link(xml.c_str(), keep.c_str()), 0);
  RunResult r = check("--interval 0.1 --junit old.xml", "bounded");
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  struct stat st{};
  ASSERT_EQ(::stat(xml.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(validate(xml), "");
  EXPECT_EQ(read_text(keep), "old") << "written in place, not replaced";
  for (const auto& e : std::filesystem::directory_iterator(dir.path))
    EXPECT_EQ(e.path().filename().string().find(".tmp."), std::string::npos) << e.path();
}

}  // namespace
