// target.cpp -- see target.h.
#include "serve/target.h"

#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "control/channel_client.h"
#include "reader/reader.h"

namespace heapscope::serve {
namespace {
uint64_t mono_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

// The modules' paths and load addresses: a new layout needs a new symbolizer.
std::string layout_of(const Profile& p) {
  std::string k;
  for (const auto& m : p.modules) {
    k += m.path + '\0' + m.build_id + '\0' + std::to_string(m.load_bias) + '\0';
    for (const auto& r : m.ranges) k += std::to_string(r.start) + '-' + std::to_string(r.end) + ',';
    k += '\n';
  }
  return k;
}
}  // namespace

std::string serve_refusal(pid_t pid) {
  std::vector<uid_t> owners = process_owners(pid);
  if (owners.empty()) return "process " + std::to_string(pid) + " does not exist";
  const uid_t me = geteuid();
  if (me == 0) return "";
  for (uid_t u : owners)
    if (u == me) return "";
  std::string uids = std::to_string(owners[0]);  // real/effective, or /proc/PID's owner alone
  if (owners.size() > 1) uids += "/" + std::to_string(owners[1]);
  return "process " + std::to_string(pid) + " runs as uid " + uids + ", not as this agent's uid " + std::to_string(me) +
         ": heapscope serve serves only its own user's processes (or any, as root)";
}

Target::Target(pid_t pid, std::string service, uint64_t start_time, size_t window)
    : pid_(pid), service_(std::move(service)), start_time_(start_time), window_size_(window ? window : 1) {}

std::shared_ptr<const Fetch> Target::fetch_now(double timeout_s) {
  auto f = std::make_shared<Fetch>();
  const std::string p = std::to_string(pid_);
  std::vector<uid_t> owners = process_owners(pid_);
  const uint64_t started = process_start_time(pid_);
  if (owners.empty() || started == 0 || (start_time_ && started != start_time_)) {
    f->status = 503;
    f->error = owners.empty() || started == 0 ? "process " + p + " exited"
                                              : "process " + p + " exited (the pid now belongs to another process)";
    f->mono_ns = mono_ns();
    return f;
  }
  std::string bytes, error;
  control::Status st;
  if (!control::request_snapshot_bytes(pid_, owners, timeout_s, &bytes, &error, &st)) {
    f->status = 503;
    if (st == control::Status::no_channel)
      f->error = "process " + p + ": " + error +
                 " (no heapscope helper thread: start it under heapscope, with HEAPSCOPE_THREAD=always for a "
                 "single-threaded program)";
    else
      f->error = "process " + p + ": " + error;
    if (process_start_time(pid_) != started) f->error = "process " + p + " exited during the snapshot";
    f->mono_ns = mono_ns();
    return f;
  }
  try {
    auto prof = std::make_shared<Profile>(read_hsnap(bytes, "@heapscope/" + p, {}));
    f->profile = prof;
    f->status = 200;
  } catch (const std::exception& e) {
    f->status = 503;
    f->error = "process " + p + ": the snapshot it sent cannot be read: " + e.what();
  }
  f->mono_ns = mono_ns();
  return f;
}

std::shared_ptr<const Fetch> Target::snapshot(double max_age_s, double timeout_s) {
  std::unique_lock<std::mutex> l(mu_);
  const uint64_t now = mono_ns();
  if (last_ && last_->status == 200 && now - last_->mono_ns <= uint64_t(max_age_s * 1e9)) return last_;
  if (in_flight_) {  // share the one in flight
    const uint64_t n = fetches_;
    cv_.wait(l, [&] { return fetches_ != n; });
    return last_;
  }
  in_flight_ = true;
  l.unlock();
  std::shared_ptr<Fetch> f;
  try {
    f = std::const_pointer_cast<Fetch>(fetch_now(timeout_s));
  } catch (const std::exception& e) {
    f = std::make_shared<Fetch>();
    f->status = 503;
    f->error = "process " + std::to_string(pid_) + ": " + e.what();
    f->mono_ns = mono_ns();
  }
  l.lock();
  f->seq = ++fetches_;
  if (f->status == 200) {
    ++snapshots_;
    gone_ = false;
    const Counts& c = f->profile->totals;
    max_alloc_bytes_ = std::max(max_alloc_bytes_, c.alloc_bytes);
    max_allocs_ = std::max(max_allocs_, c.alloc_count);
    max_frees_ = std::max(max_frees_, c.alloc_count - c.inuse_count);
  } else {
    ++errors_;
    gone_ = f->error.find("exited") != std::string::npos;
  }
  last_ = f;
  in_flight_ = false;
  cv_.notify_all();
  return f;
}

std::shared_ptr<Symbols> Target::symbols_for(const std::shared_ptr<const Profile>& p) {
  std::lock_guard<std::mutex> l(symbols_mu_);
  std::string layout = layout_of(*p);
  if (!symbols_ || symbols_->layout != layout) {
    auto s = std::make_shared<Symbols>();
    s->owner = p;
    s->symbolizer = std::make_unique<Symbolizer>(*p);
    s->layout = std::move(layout);
    symbols_ = s;
  }
  return symbols_;
}

void Target::with_symbols(const Fetch& f, const std::function<void(const ExportInput&)>& fn) {
  std::shared_ptr<Symbols> s = symbols_for(f.profile);
  std::lock_guard<std::mutex> l(s->mu);
  ExportInput in{f.profile.get(), symbolizer_lookup(*s->symbolizer)};
  fn(in);
}

void Target::with_symbols2(const Fetch& p1, const Fetch& p0,
                           const std::function<void(const ExportInput&, const ExportInput&)>& fn) {
  std::shared_ptr<Symbols> s1 = symbols_for(p1.profile);
  std::lock_guard<std::mutex> l(s1->mu);
  ExportInput now{p1.profile.get(), symbolizer_lookup(*s1->symbolizer)};
  if (s1->layout == layout_of(*p0.profile)) {
    ExportInput base{p0.profile.get(), symbolizer_lookup(*s1->symbolizer)};
    fn(now, base);
    return;
  }
  Symbolizer own(*p0.profile);  // the modules moved between p0 and p1 (a dlopen): p0's own, used once
  ExportInput base{p0.profile.get(), symbolizer_lookup(own)};
  fn(now, base);
}

std::shared_ptr<const std::string> Target::rendered(const std::shared_ptr<const Fetch>& f, const std::string& key,
                                                    const std::function<std::string(const ExportInput&)>& make) {
  std::lock_guard<std::mutex> l(render_mu_);
  if (rendered_seq_ == f->seq) {
    auto it = rendered_.find(key);
    if (it != rendered_.end()) return it->second;
  } else if (f->seq > rendered_seq_) {
    rendered_.clear();  // only the newest fetch's renderings are kept
    latest_sites_.reset();
    rendered_seq_ = f->seq;
  }
  std::shared_ptr<const std::string> out;
  with_symbols(*f, [&](const ExportInput& in) { out = std::make_shared<const std::string>(make(in)); });
  if (rendered_seq_ == f->seq) rendered_[key] = out;
  return out;
}

void Target::window_tick(double timeout_s) {
  std::shared_ptr<const Fetch> f = snapshot(0.5, timeout_s);
  if (!f || f->status != 200) return;
  auto e = std::make_shared<WindowEntry>();
  e->profile = f->profile;
  std::shared_ptr<Symbols> s = symbols_for(f->profile);
  {
    std::lock_guard<std::mutex> l(s->mu);
    e->sites = symbolize_profile(*e->profile, *s->symbolizer, /*with_frames=*/false);
  }
  std::lock_guard<std::mutex> l(window_mu_);
  if (!window_.empty() && window_.back()->profile == e->profile) return;  // the same snapshot twice
  window_.push_back(e);
  while (window_.size() > window_size_) window_.pop_front();
  trend_.reset();
  if (window_.size() >= 3) {
    std::vector<const SymbolizedProfile*> in;
    for (const auto& w : window_) in.push_back(&w->sites);
    try {
      trend_ = std::make_shared<TrendResult>(make_trend(in, 0));
    } catch (const std::exception&) {
      trend_.reset();  // fewer than 3 usable snapshots: no trend yet
    }
  }
}

void Target::metrics(double max_age_s, double timeout_s, const std::function<void(const MetricsTarget&)>& fn) {
  std::shared_ptr<const Fetch> f = snapshot(max_age_s, timeout_s);
  MetricsTarget m;
  m.service = service_;
  m.pid = uint64_t(pid_);
  m.up = f && f->status == 200;
  std::shared_ptr<const Fetch> shown = m.up ? f : nullptr;
  std::shared_ptr<SymbolizedProfile> sites;
  if (shown) {
    std::lock_guard<std::mutex> l(render_mu_);
    if (rendered_seq_ == shown->seq && latest_sites_) {
      sites = latest_sites_;
    } else {
      sites = std::make_shared<SymbolizedProfile>();
      std::shared_ptr<Symbols> s = symbols_for(shown->profile);
      std::lock_guard<std::mutex> sl(s->mu);
      *sites = symbolize_profile(*shown->profile, *s->symbolizer, false);
      if (shown->seq >= rendered_seq_) {
        if (shown->seq > rendered_seq_) rendered_.clear();
        rendered_seq_ = shown->seq;
        latest_sites_ = sites;
      }
    }
    m.latest = shown->profile.get();
    m.sites = sites.get();
  }
  std::shared_ptr<TrendResult> trend;
  {
    std::lock_guard<std::mutex> l(window_mu_);
    trend = trend_;
  }
  m.trend = trend.get();
  {
    std::lock_guard<std::mutex> l(mu_);
    m.allocated_bytes = max_alloc_bytes_;
    m.allocations = max_allocs_;
    m.frees = max_frees_;
    m.snapshots = snapshots_;
    m.scrape_errors = errors_;
  }
  fn(m);
}

bool Target::gone() const {
  std::lock_guard<std::mutex> l(mu_);
  return gone_;
}
uint64_t Target::snapshots() const {
  std::lock_guard<std::mutex> l(mu_);
  return snapshots_;
}
uint64_t Target::errors() const {
  std::lock_guard<std::mutex> l(mu_);
  return errors_;
}

}  // namespace heapscope::serve
