// junit.h -- JUnit XML (the Ant/Jenkins "testsuites" report CI systems read),
// for `heapscope check --junit`. One testsuite; each case passes, fails
// (<failure>) or errors (<error>). Carries every element and attribute the
// Ant JUnit schema requires (testsuite name, package, id, timestamp without
// zone, hostname, tests, failures, errors, time; properties; testcase name,
// classname, time; failure/error type; system-out; system-err).
// Pure functions; thread-safe.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "analyze/sites.h"

namespace heapscope {

struct JunitCase {
  std::string name, classname;
  double time_s = 0;
  std::string outcome;        // "" (passed), "failure" or "error"
  std::string type, message;  // of the failure or error
  std::string body;           // its text: the site's stack, what went wrong
};

struct JunitSuite {
  std::string name, package, hostname;
  long long time_unix_s = 0;  // when it ran (written as UTC, no zone, as the schema asks)
  double time_s = 0;
  std::vector<std::pair<std::string, std::string>> properties;
  std::vector<JunitCase> cases;
  std::string system_out, system_err;
};

std::string junit_xml(const JunitSuite& suite);

// Every frame of a site, innermost first, one a line: "> " marks the origin,
// "| " the rest; "function  file:line" and "(inlined)".
std::string site_stack_text(const SiteView& site);

}  // namespace heapscope
