// junit.cpp -- JUnit XML for `heapscope check --junit`. See junit.h.
#include "render/junit.h"

#include <cstdio>
#include <ctime>

#include "render/flame_svg.h"
#include "render/text.h"

namespace heapscope {
namespace {

// XML 1.0 text: valid UTF-8 with the five entities escaped (flame_svg's
// xml_escape); control characters XML cannot carry (all below 0x20 but tab,
// newline, CR) become '?'. In attributes newlines and tabs are written as
// character references so they survive attribute-value normalization.
std::string junit_escape(const std::string& s, bool attribute) {
  std::string out;
  for (char c : xml_escape(s)) {
    if (attribute && (c == '\n' || c == '\t' || c == '\r')) out += c == '\n' ? "&#10;" : c == '\t' ? "&#9;" : "&#13;";
    else if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t' && c != '\r') out += '?';
    else out += c;
  }
  return out;
}

std::string attr(const char* name, const std::string& value) {
  return std::string(" ") + name + "=\"" + junit_escape(value, true) + "\"";
}

std::string seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", s < 0 ? 0.0 : s);
  return buf;
}

}  // namespace

std::string junit_xml(const JunitSuite& suite) {
  size_t failures = 0, errors = 0;
  for (const auto& c : suite.cases) {
    failures += c.outcome == "failure";
    errors += c.outcome == "error";
  }
  char stamp[32] = "1970-01-01T00:00:00";
  std::time_t t = std::time_t(suite.time_unix_s);
  std::tm tm{};
  if (gmtime_r(&t, &tm)) std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string x = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n";
  x += "  <testsuite" + attr("name", suite.name) + attr("package", suite.package) + attr("id", "0") +
       attr("timestamp", stamp) + attr("hostname", suite.hostname.empty() ? "localhost" : suite.hostname) +
       attr("tests", std::to_string(suite.cases.size())) + attr("failures", std::to_string(failures)) +
       attr("errors", std::to_string(errors)) + attr("time", seconds(suite.time_s)) + ">\n";
  x += "    <properties>\n";
  for (const auto& [name, value] : suite.properties)
    x += "      <property" + attr("name", name) + attr("value", value) + "/>\n";
  x += "    </properties>\n";
  for (const auto& c : suite.cases) {
    x += "    <testcase" + attr("name", c.name) + attr("classname", c.classname) + attr("time", seconds(c.time_s));
    if (c.outcome.empty()) {
      x += "/>\n";
      continue;
    }
    x += ">\n      <" + c.outcome + attr("type", c.type) + attr("message", c.message) + ">" +
         junit_escape(c.body, false) + "</" + c.outcome + ">\n    </testcase>\n";
  }
  x += "    <system-out>" + junit_escape(suite.system_out, false) + "</system-out>\n";
  x += "    <system-err>" + junit_escape(suite.system_err, false) + "</system-err>\n";
  x += "  </testsuite>\n</testsuites>\n";
  return x;
}

std::string site_stack_text(const SiteView& site) {
  std::string s;
  for (size_t i = 0; i < site.frames.size(); ++i) {
    const Frame& f = site.frames[i];
    std::string text = f.resolved ? short_function(f.function) + "  " + frame_location(f)
                                  : (f.module.empty() ? f.function : frame_location(f));
    s += (int(i) == site.origin ? "> " : "| ") + text + (f.inlined ? "  (inlined)" : "") + "\n";
  }
  if (site.truncated) s += "| ... (stack truncated at the depth limit)\n";
  return s;
}

}  // namespace heapscope
