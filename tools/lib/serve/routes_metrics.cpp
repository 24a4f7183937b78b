// routes_metrics.cpp -- /metrics: every target's series (or one target's
// under /pid/<PID>/metrics or ?pid=), rendered by render/metrics.h from a
// fresh (coalesced) snapshot and the agent's window. OpenMetrics 1.0 when
// the Accept header asks for application/openmetrics-text, else the
// Prometheus text format 0.0.4. A target that does not answer is
// heapscope_target_up 0, never an HTTP error.
#include <httplib.h>

#include "render/metrics.h"
#include "serve/http.h"

namespace heapscope::serve {

void add_metrics_routes(httplib::Server& svr, Agent& agent) {
  svr.Get(R"((/pid/([^/]*))?/metrics)", [&agent](const httplib::Request& req, httplib::Response& res) {
    std::vector<std::shared_ptr<Target>> targets;
    std::string prefix_pid = req.matches.size() > 2 ? std::string(req.matches[2]) : std::string();
    if (!prefix_pid.empty() || req.has_param("pid")) {
      int status = 0;
      std::string error;
      auto t = resolve_target(agent, req, prefix_pid, &status, &error);
      if (!t) {
        res.status = status;
        res.set_content(error + "\n", "text/plain; charset=utf-8");
        return;
      }
      targets.push_back(t);
    } else {
      targets = agent.targets();
    }
    const bool om = req.get_header_value("Accept").find("application/openmetrics-text") != std::string::npos;
    // Each target's figures are valid only inside its callback: render them nested.
    std::vector<MetricsTarget> rows;
    std::string body;
    std::function<void(size_t)> step = [&](size_t i) {
      if (i == targets.size()) {
        body = render_metrics(rows, om);
        return;
      }
      targets[i]->metrics(agent.options().share_age_s, agent.options().snapshot_timeout_s,
                          [&](const MetricsTarget& m) {
                            rows.push_back(m);
                            step(i + 1);
                          });
    };
    step(0);
    res.set_content(body, metrics_content_type(om));
  });
}

}  // namespace heapscope::serve
