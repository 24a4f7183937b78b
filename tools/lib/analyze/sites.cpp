// sites.cpp -- symbolize a Profile into SiteViews; the process-wide frame
// table; site identity keys; notes. See sites.h.
//
// Cost model: each distinct return address is symbolized once (Symbolizer
// cache) and its frames interned once per profile; a site is then a list of
// frame ids, its key their bytes, its origin and container found from
// per-frame facts computed once per distinct frame. Frames are copied out
// only for sites that are shown; in symbolize_profiles a raw stack already
// grouped by an earlier profile of the same Symbolizer is copied from there.
// The frame table's intern() takes a mutex, its reads none; everything else
// here is single-threaded per SymbolizedProfile.
#include "analyze/sites.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string_view>
#include <unordered_map>

#include "analyze/origin.h"
#include "model/strings.h"

namespace heapscope {

namespace {

struct FrameInfo {
  Frame frame;
  bool system = false;
  bool alloc_entry = false;  // is_alloc_entry_frame(frame)
  std::string container;     // container_of_function(frame.function)
  std::string qualified;     // qualified_name(frame.function)
};

// Ids index a two-level table of fixed-size chunks: a chunk never moves, so a
// reader needs no lock (an id is only known after intern() published it);
// intern() takes the mutex. kChunks * kChunk ids (268 M) is far more than
// any profile's distinct frames.
class FrameTable {
 public:
  uint32_t intern(const Frame& f) {
    std::string id = identity(f);
    std::lock_guard<std::mutex> lock(mu_);
    auto it = ids_.find(id);
    if (it != ids_.end()) return it->second;
    const uint32_t n = count_;
    if (n / kChunk >= kChunks) {
      std::fprintf(stderr, "heapscope: more than %u distinct frames; giving up\n", kChunks * kChunk);
      std::abort();
    }
    FrameInfo* chunk = chunks_[n / kChunk].load(std::memory_order_relaxed);
    if (!chunk) {
      chunk = new FrameInfo[kChunk];  // never freed: frames outlive statics
      chunks_[n / kChunk].store(chunk, std::memory_order_release);
    }
    FrameInfo& info = chunk[n % kChunk];
    info.frame = f;
    info.frame.address = 0;  // per site, see SiteView::frame_addresses
    info.system = is_system_frame(f);
    info.alloc_entry = info.system && is_alloc_entry_frame(f);
    info.container = container_of_function(f.function);
    info.qualified = qualified_name(f.function);
    count_ = n + 1;
    ids_.emplace(std::move(id), n);
    return n;
  }
  const FrameInfo& get(uint32_t id) const {
    FrameInfo* chunk = id / kChunk < kChunks ? chunks_[id / kChunk].load(std::memory_order_acquire) : nullptr;
    if (!chunk) throw std::out_of_range("heapscope: frame id " + std::to_string(id) + " was never interned");
    return chunk[id % kChunk];
  }

 private:
  static constexpr uint32_t kChunk = 4096, kChunks = 65536;
  static std::string identity(const Frame& f) {
    std::string id;
    if (f.resolved) {
      id.reserve(f.function.size() + f.file.size() + 32);
      id += f.function;
      id += '\0';
      id += f.file;
      id += '\0';
      id += std::to_string(f.line);
      id += f.inlined ? "\0i" : "\0o";
      id += '\0';
      id += basename_of(f.module);
    } else {
      char buf[40];
      std::snprintf(buf, sizeof buf, "+0x%llx", static_cast<unsigned long long>(f.rel_address));
      id = "\1" + basename_of(f.module) + (f.module.empty() ? f.function : std::string(buf));
    }
    return id;
  }
  std::mutex mu_;
  uint32_t count_ = 0;
  std::atomic<FrameInfo*> chunks_[kChunks] = {};
  std::unordered_map<std::string, uint32_t> ids_;
};

FrameTable& table() {
  static FrameTable* t = new FrameTable;  // never destroyed: frames outlive statics
  return *t;
}

void append_id(std::string& key, uint32_t id) {
  char b[4];
  std::memcpy(b, &id, 4);
  key.append(b, 4);
}

}  // namespace

const Frame& interned_frame(uint32_t id) { return table().get(id).frame; }
bool interned_is_system(uint32_t id) { return table().get(id).system; }
bool interned_is_alloc_entry(uint32_t id) { return table().get(id).alloc_entry; }
const std::string& interned_container(uint32_t id) { return table().get(id).container; }
const std::string& interned_qualified(uint32_t id) { return table().get(id).qualified; }

void fill_frames(SiteView& s) {
  if (!s.frames.empty() || s.frame_ids.empty()) return;
  s.frames.reserve(s.frame_ids.size());
  for (size_t i = 0; i < s.frame_ids.size(); ++i) {
    s.frames.push_back(interned_frame(s.frame_ids[i]));
    s.frames.back().address = i < s.frame_addresses.size() ? s.frame_addresses[i] : 0;
  }
}

std::string site_key(const std::vector<Frame>& frames) {
  std::string key;
  for (const auto& f : frames) append_id(key, table().intern(f));
  return key;
}

std::vector<std::string> profile_notes(const Profile& p) {
  std::vector<std::string> notes;
  if (p.sampled)
    notes.push_back(p.path + ": sampled profile (one sample per " +
                    std::to_string(p.sample_period) +
                    " bytes on average); figures are unbiased estimates");
  auto stat = [&](const char* name) -> uint64_t {
    for (const auto& [k, v] : p.stats)
      if (k == name) return v;
    return 0;
  };
  struct Warn {
    const char* stat;
    const char* text;
  };
  static const Warn warns[] = {
      {"dropped_events", "allocation events were dropped; figures are incomplete"},
      {"unwind_failures", "stacks could not be unwound; those allocations have short stacks"},
      {"truncated_stacks", "stacks were cut at the depth limit"},
      {"stack_table_full", "the profiler's stack table was full; some sites are merged"},
      {"unknown_frees", "frees of blocks the profiler never saw (allocated before it started)"},
      {"signal_handler_replaced", "the program replaced the profiler's snapshot signal handler"},
  };
  for (const auto& w : warns)
    if (uint64_t v = stat(w.stat))
      notes.push_back(p.path + ": profiler reports " + w.stat + " = " + std::to_string(v) + ": " +
                      w.text);
  return notes;
}

namespace {
// Return address -> its interned frame ids, for one Symbolizer: an open-
// addressing table into one pool of ids (no per-address vector, no node per
// entry: this lookup runs once per frame of every stack).
class PcIds {
 public:
  // The ids of pc, symbolizing it on first use; valid until the next call.
  std::pair<const uint32_t*, uint32_t> get(uint64_t pc, Symbolizer& symbolizer, FrameTable& t) {
    if ((count_ + 1) * 2 > slots_.size()) grow();
    const size_t mask = slots_.size() - 1;
    size_t i = hash(pc) & mask;
    for (; slots_[i].used; i = (i + 1) & mask)
      if (slots_[i].pc == pc) return {pool_.data() + slots_[i].begin, slots_[i].count};
    Slot& sl = slots_[i];
    sl.used = true;
    sl.pc = pc;
    sl.begin = uint32_t(pool_.size());
    for (const Frame& f : symbolizer.frames(pc)) pool_.push_back(t.intern(f));
    sl.count = uint32_t(pool_.size() - sl.begin);
    ++count_;
    return {pool_.data() + sl.begin, sl.count};
  }

 private:
  struct Slot {
    uint64_t pc = 0;
    uint32_t begin = 0, count = 0;
    bool used = false;
  };
  static size_t hash(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return size_t(x);
  }
  void grow() {
    std::vector<Slot> old(slots_.empty() ? 1024 : slots_.size() * 2);
    old.swap(slots_);
    const size_t mask = slots_.size() - 1;
    for (const Slot& sl : old) {
      if (!sl.used) continue;
      size_t i = hash(sl.pc) & mask;
      while (slots_[i].used) i = (i + 1) & mask;
      slots_[i] = sl;
    }
  }
  std::vector<Slot> slots_;
  size_t count_ = 0;
  std::vector<uint32_t> pool_;
};

// Open addressing over (hash, value) pairs whose keys live elsewhere: the
// caller's `same(value)` compares a candidate's key with the one looked up.
class HashSlots {
 public:
  // The value stored for a key of hash h that `same` accepts, or (when none
  // does) a new slot holding `none`; the reference is valid until the next call.
  template <class Same>
  uint64_t& find_or_add(uint64_t h, uint64_t none, Same same) {
    h |= 1;  // 0: an empty slot
    if ((count_ + 1) * 2 > slots_.size()) grow();
    const size_t mask = slots_.size() - 1;
    size_t i = h & mask;
    for (; slots_[i].hash; i = (i + 1) & mask)
      if (slots_[i].hash == h && same(slots_[i].value)) return slots_[i].value;
    slots_[i] = Slot{h, none};
    ++count_;
    return slots_[i].value;
  }

 private:
  struct Slot {
    uint64_t hash = 0;
    uint64_t value = 0;
  };
  void grow() {
    std::vector<Slot> old(slots_.empty() ? 1024 : slots_.size() * 2);
    old.swap(slots_);
    const size_t mask = slots_.size() - 1;
    for (const Slot& sl : old) {
      if (!sl.hash) continue;
      size_t i = sl.hash & mask;
      while (slots_[i].hash) i = (i + 1) & mask;
      slots_[i] = sl;
    }
  }
  std::vector<Slot> slots_;
  size_t count_ = 0;
};

uint64_t hash_bytes(const void* p, size_t n) {
  return std::hash<std::string_view>{}(std::string_view(static_cast<const char*>(p), n));
}

// Raw stacks already grouped by earlier profiles of the same Symbolizer
// (symbolize_profiles): a stack met again shares that SiteView's key, frame ids
// and addresses instead of looking up each address again. Holds (profile,
// site view) pairs of views whose first raw site has exactly that stack.
struct StackCache {
  const std::vector<SymbolizedProfile>* done = nullptr;  // reserved: never reallocates
  HashSlots slots;
};

// pc_ids caches per distinct return address; valid for one Symbolizer.
// stacks (may be null): shared with earlier profiles; this one's index in
// stacks->done is `self`.
SymbolizedProfile symbolize_cached(const Profile& profile, Symbolizer& symbolizer, bool with_frames,
                                   PcIds& pc_ids, StackCache* stacks = nullptr, uint32_t self = 0) {
  SymbolizedProfile out;
  out.profile = &profile;
  out.sites.reserve(profile.sites.size());
  FrameTable& t = table();
  HashSlots by_key;  // site key -> index into out.sites (the keys live in the views)
  // Built in scratch buffers (their capacity kept), copied at their exact size
  // into a SiteView only when the key is new.
  std::string key;
  std::vector<uint32_t> ids;
  std::vector<uint64_t> addresses;
  for (size_t i = 0; i < profile.sites.size(); ++i) {
    const Site& site = profile.sites[i];
    // An earlier view whose first raw site has this very stack (this profile's
    // own views are in out.sites, the earlier profiles' in stacks->done).
    auto view_at = [&](uint64_t at) -> std::pair<const Profile*, const SiteView*> {
      if (uint32_t(at >> 32) == self) return {&profile, &out.sites[uint32_t(at)]};
      const SymbolizedProfile& sp = (*stacks->done)[at >> 32];
      return {sp.profile, &sp.sites[uint32_t(at)]};
    };
    const SiteView* known = nullptr;
    uint64_t* slot = nullptr;  // this stack's entry in the cache, when new there
    if (stacks) {
      const uint64_t none = UINT64_MAX;
      uint64_t& found = stacks->slots.find_or_add(
          hash_bytes(site.pcs.data(), site.pcs.size() * 8), none, [&](uint64_t at) {
            auto [prof, view] = view_at(at);
            const Site& first = prof->sites[view->site_indices[0]];
            return first.mapped == site.mapped && first.pcs == site.pcs;
          });
      if (found != none) known = view_at(found).second;
      else slot = &found;
    }
    const std::string* kp = &key;
    if (known) {
      kp = &known->key.get();
    } else {
      ids.clear();
      addresses.clear();
      for (uint64_t pc : site.pcs) {
        auto [p, n] = pc_ids.get(pc, symbolizer, t);
        ids.insert(ids.end(), p, p + n);
        addresses.insert(addresses.end(), n, pc);
      }
      key.resize(ids.size() * 4);
      if (!ids.empty()) std::memcpy(key.data(), ids.data(), key.size());  // the bytes append_id appends
      if (site.mapped) append_id(key, UINT32_MAX);  // its own kind: never merged with a heap site
    }
    const size_t at = by_key.find_or_add(hash_bytes(kp->data(), kp->size()), out.sites.size(),
                                         [&](uint64_t i) { return out.sites[i].key == *kp; });
    // The view this stack went into (a merged one's first site has another
    // stack, so the entry never matches: the stack is grouped afresh).
    if (slot) *slot = uint64_t(self) << 32 | at;
    if (at != out.sites.size()) {
      SiteView& m = out.sites[at];
      m.counts.inuse_bytes += site.counts.inuse_bytes;
      m.counts.inuse_count += site.counts.inuse_count;
      m.counts.alloc_bytes += site.counts.alloc_bytes;
      m.counts.alloc_count += site.counts.alloc_count;
      m.truncated = m.truncated || site.truncated;
      m.site_indices.push_back(i);
      continue;
    }
    SiteView v;
    v.counts = site.counts;
    v.truncated = site.truncated;
    v.mapped = site.mapped;
    v.site_indices.push_back(i);
    if (known) {  // the same stack as an earlier view: its values, shared
      v.key = known->key;
      v.frame_ids = known->frame_ids;
      v.frame_addresses = known->frame_addresses;
    } else {
      v.key = key;
      v.frame_ids = ids;
      v.frame_addresses = addresses;
    }
    // Origin and container: apply_wrappers(), once every site is known.
    if (with_frames) fill_frames(v);
    out.sites.push_back(std::move(v));
  }
  out.notes = profile_notes(profile);
  for (const auto& p : symbolizer.problems()) out.notes.push_back(p);
  out.debuginfod = symbolizer.debuginfod();
  return out;
}
}  // namespace

SymbolizedProfile symbolize_profile(const Profile& profile, Symbolizer& symbolizer,
                                    bool with_frames, const AllocFns& alloc_fns) {
  PcIds pc_ids;
  SymbolizedProfile out = symbolize_cached(profile, symbolizer, with_frames, pc_ids);
  apply_wrappers({&out}, alloc_fns);
  return out;
}

SymbolizedProfile symbolize_profile(const Profile& profile, bool with_frames,
                                    const AllocFns& alloc_fns) {
  Symbolizer s(profile);
  return symbolize_profile(profile, s, with_frames, alloc_fns);
}

bool same_modules(const Profile& a, const Profile& b) {
  if (a.modules.size() != b.modules.size()) return false;
  for (size_t i = 0; i < a.modules.size(); ++i) {
    const Module &x = a.modules[i], &y = b.modules[i];
    if (x.path != y.path || x.build_id != y.build_id || x.load_bias != y.load_bias ||
        x.ranges.size() != y.ranges.size() || x.unloaded != y.unloaded)
      return false;
    for (size_t r = 0; r < x.ranges.size(); ++r)
      if (x.ranges[r].start != y.ranges[r].start || x.ranges[r].end != y.ranges[r].end) return false;
  }
  return true;
}

std::vector<SymbolizedProfile> symbolize_profiles(const std::vector<Profile>& profiles,
                                                  bool with_frames, const AllocFns& alloc_fns) {
  std::vector<SymbolizedProfile> out;
  out.reserve(profiles.size());  // StackCache::done points into it
  struct Shared {
    const Profile* owner;
    std::unique_ptr<Symbolizer> sym;
    PcIds pc_ids;
    StackCache stacks;
  };
  std::vector<std::unique_ptr<Shared>> shared;
  for (const auto& p : profiles) {
    Shared* use = nullptr;
    for (auto& sh : shared)
      if (same_modules(*sh->owner, p)) use = sh.get();
    if (!use) {
      shared.push_back(std::make_unique<Shared>(Shared{&p, std::make_unique<Symbolizer>(p), {}, {}}));
      use = shared.back().get();
      use->stacks.done = &out;
    }
    out.push_back(symbolize_cached(p, *use->sym, with_frames, use->pc_ids, &use->stacks, uint32_t(out.size())));
  }
  std::vector<SymbolizedProfile*> all;
  for (auto& sp : out) all.push_back(&sp);
  apply_wrappers(all, alloc_fns);
  return out;
}

}  // namespace heapscope
