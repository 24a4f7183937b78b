// routes_pprof.cpp -- /debug/pprof/ (index), heap, allocs and symbol, with
// Go's net/http/pprof semantics (docs/serve.md): gzipped profile.proto with
// Go's headers, `allocs` defaulting to alloc_space, `?seconds=N` the delta
// p1 - p0 over N s, `?debug=1` the legacy text, `gc` accepted (nothing to
// collect), Go's 400 strings with X-Go-Pprof: 1. Renders with
// render/pprof.h and render/pprof_legacy.h through the target's cached
// symbolizer; a scrape of a snapshot already rendered gets the same bytes.
#include <httplib.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "render/pprof.h"
#include "render/pprof_legacy.h"
#include "serve/http.h"

namespace heapscope::serve {
namespace {

// Go's strconv.Atoi with the error ignored: 0 unless the whole value is an integer.
long atoi_or_zero(const std::string& s) {
  if (s.empty() || s.size() > 18) return 0;
  size_t i = (s[0] == '-' || s[0] == '+') ? 1 : 0;
  if (i == s.size() || s.find_first_not_of("0123456789", i) != std::string::npos) return 0;
  return std::stol(s);
}

std::string first(const httplib::Request& req, const char* key) {
  return req.has_param(key) ? req.get_param_value(key) : std::string();
}

// The target for a route, or false with the error answered.
std::shared_ptr<Target> target_for(Agent& agent, const httplib::Request& req, httplib::Response& res) {
  int status = 0;
  std::string error;
  auto t = resolve_target(agent, req, req.matches.size() > 2 ? std::string(req.matches[2]) : std::string(), &status,
                          &error);
  if (!t) go_error(res, status, error);
  return t;
}

void serve_profile(Agent& agent, const httplib::Request& req, httplib::Response& res, const std::string& name) {
  res.set_header("X-Content-Type-Options", "nosniff");
  auto t = target_for(agent, req, res);
  if (!t) return;
  const double share = agent.options().share_age_s, timeout = agent.options().snapshot_timeout_s;
  PprofOptions po;
  po.default_sample_type = name == "allocs" ? "alloc_space" : "inuse_space";
  const std::string sec = first(req, "seconds");
  if (!sec.empty()) {
    long n = 0;
    bool ok = sec.size() <= 18 && sec.find_first_not_of("0123456789", sec[0] == '+' || sec[0] == '-' ? 1 : 0) ==
                                      std::string::npos;
    if (ok) n = atoi_or_zero(sec);
    if (!ok || n <= 0) return go_error(res, 400, "invalid value for \"seconds\" - must be a positive integer");
    if (n > kMaxDeltaSeconds) return go_error(res, 400, "profile duration exceeds server's WriteTimeout");
    if (atoi_or_zero(first(req, "debug")) != 0)
      return go_error(res, 400, "seconds and debug params are incompatible");
    auto p0 = t->snapshot(share, timeout);
    if (p0->status != 200) return go_error(res, p0->status, p0->error);
    std::this_thread::sleep_for(std::chrono::seconds(n));
    auto p1 = t->snapshot(0, timeout);
    if (p1->status != 200) return go_error(res, p1->status, p1->error);
    po.duration_nanos = int64_t(p1->profile->time_unix_ns) - int64_t(p0->profile->time_unix_ns);
    std::string body;
    t->with_symbols2(*p1, *p0,
                     [&](const ExportInput& now, const ExportInput& base) { body = render_pprof(now, &base, po); });
    res.set_header("Content-Disposition", "attachment; filename=\"" + name + "-delta\"");
    res.set_content(body, "application/octet-stream");
    return;
  }
  // gc=N: Go collects garbage first; a C/C++ heap has nothing to collect.
  auto f = t->snapshot(share, timeout);
  if (f->status != 200) return go_error(res, f->status, f->error);
  if (atoi_or_zero(first(req, "debug")) != 0) {
    auto text = t->rendered(f, "debug1", [](const ExportInput& in) { return render_pprof_legacy_text(in); });
    res.set_content(*text, "text/plain; charset=utf-8");
    return;
  }
  auto body = t->rendered(f, name, [po](const ExportInput& in) { return render_pprof(in, nullptr, po); });
  res.set_header("Content-Disposition", "attachment; filename=\"" + name + "\"");
  res.set_content(*body, "application/octet-stream");
}

// Go's symbol handler: "num_symbols: 1", then "0x<pc> <function>" for each
// `+`-separated pc of the POST body (or GET query) the symbolizer names.
void serve_symbol(Agent& agent, const httplib::Request& req, httplib::Response& res) {
  std::string input = req.method == "POST" ? req.body : std::string();
  if (req.method != "POST") {
    size_t q = req.target.find('?');
    if (q != std::string::npos) input = req.target.substr(q + 1);
  }
  std::string out = "num_symbols: 1\n";
  std::vector<uint64_t> pcs;
  size_t at = 0;
  while (at <= input.size() && pcs.size() < 100000) {
    size_t plus = input.find('+', at);
    std::string word = input.substr(at, plus == std::string::npos ? std::string::npos : plus - at);
    uint64_t pc = std::strtoull(word.c_str(), nullptr, 0);
    if (pc) pcs.push_back(pc);
    if (plus == std::string::npos) break;
    at = plus + 1;
  }
  if (!pcs.empty()) {
    auto t = target_for(agent, req, res);
    if (!t) return;
    auto f = t->snapshot(agent.options().share_age_s, agent.options().snapshot_timeout_s);
    if (f->status != 200) return go_error(res, f->status, f->error);
    t->with_symbols(*f, [&](const ExportInput& in) {
      for (uint64_t pc : pcs) {
        const std::vector<Frame>& frames = in.lookup(pc);
        if (frames.empty() || !frames.back().resolved) continue;
        char hex[24];
        std::snprintf(hex, sizeof hex, "%#llx", (unsigned long long)pc);
        out += std::string(hex) + " " + frames.back().function + "\n";
      }
    });
  }
  res.set_content(out, "text/plain; charset=utf-8");
}

std::string html_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '<') o += "&lt;";
    else if (c == '>') o += "&gt;";
    else if (c == '&') o += "&amp;";
    else if (c == '"') o += "&quot;";
    else o += c;
  }
  return o;
}

void serve_index(Agent& agent, const httplib::Request& req, httplib::Response& res) {
  std::string prefix = req.matches.size() > 1 ? std::string(req.matches[1]) : std::string();
  std::string body = "<html>\n<head>\n<title>/debug/pprof/</title>\n</head>\n<body>\n/debug/pprof/<br>\n<br>\n"
                     "Types of profiles available:\n<table>\n<thead><td>Count</td><td>Profile</td></thead>\n";
  body += "<tr><td>1</td><td><a href='" + html_escape(prefix) + "/debug/pprof/allocs?debug=1'>allocs</a></td></tr>\n";
  body += "<tr><td>1</td><td><a href='" + html_escape(prefix) + "/debug/pprof/heap?debug=1'>heap</a></td></tr>\n";
  body += "</table>\n<br>\n<p>\n<ul>\n"
          "<li><div class=profile-name>allocs: </div> A sampling of all past memory allocations (the same data as "
          "heap; the default sample type is alloc_space)</li>\n"
          "<li><div class=profile-name>heap: </div> Live heap blocks, with what was allocated since the start; "
          "?seconds=N for the delta over N seconds, ?debug=1 for text</li>\n"
          "<li><div class=profile-name>symbol: </div> Function names of program counters (POST hex pcs joined by +)"
          "</li>\n</ul>\n</p>\n";
  auto all = agent.targets();
  body += "<p>Processes served (by heapscope serve):</p>\n<ul>\n";
  for (const auto& t : all) {
    std::string p = std::to_string(t->pid());
    body += "<li><a href='/pid/" + p + "/debug/pprof/'>" + p + "</a> " + html_escape(t->service()) + "</li>\n";
  }
  body += "</ul>\n<p><a href='/metrics'>/metrics</a></p>\n</body>\n</html>\n";
  res.set_content(body, "text/html; charset=utf-8");
}

}  // namespace

void add_pprof_routes(httplib::Server& svr, Agent& agent) {
  const std::string pre = R"((/pid/([^/]*))?)";
  svr.Get(pre + R"(/debug/pprof/?)", [&agent](const httplib::Request& req, httplib::Response& res) {
    serve_index(agent, req, res);
  });
  svr.Get(pre + R"(/debug/pprof/heap)", [&agent](const httplib::Request& req, httplib::Response& res) {
    serve_profile(agent, req, res, "heap");
  });
  svr.Get(pre + R"(/debug/pprof/allocs)", [&agent](const httplib::Request& req, httplib::Response& res) {
    serve_profile(agent, req, res, "allocs");
  });
  auto symbol = [&agent](const httplib::Request& req, httplib::Response& res) { serve_symbol(agent, req, res); };
  svr.Get(pre + R"(/debug/pprof/symbol)", symbol);
  svr.Post(pre + R"(/debug/pprof/symbol)", symbol);
  // Go answers every other name under /debug/pprof/ this way.
  svr.Get(pre + R"(/debug/pprof/.*)", [](const httplib::Request&, httplib::Response& res) {
    res.set_header("X-Content-Type-Options", "nosniff");
    go_error(res, 404, "Unknown profile");
  });
}

}  // namespace heapscope::serve
