// snapshot_writer.cpp -- see snapshot_writer.h.
#include "snapshot_writer.h"

#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "config.h"
#include "counters.h"
#include "heapinfo.h"
#include "live_table.h"
#include "log.h"
#include "modules.h"
#include "record.h"
#include "stack_table.h"
#include "attach/attach_state.h"
#include "memlimit.h"
#include "peak.h"

#ifndef HEAPSCOPE_VERSION_STRING
#define HEAPSCOPE_VERSION_STRING "0"
#endif

namespace hs {
namespace {
pthread_mutex_t g_writer_mu = PTHREAD_MUTEX_INITIALIZER;
uint64_t g_seq = 0;
bool g_error_reported = false;
uint64_t g_start_ns = 0;
std::atomic<uint64_t> g_last_live{0};
std::atomic<uint64_t> g_last_peak_live{0};  // tracked live bytes in the last peak file
std::atomic<bool> g_exit_begun{false};
std::atomic<pid_t> g_writer_tid{0};  // the thread inside write_snapshot, 0 if none
// The process the series state (SEQ, chain, run id, the error report) belongs
// to. A fork child finds another pid here at its first snapshot and starts its
// own series then (writer_adopt_if_forked), not in fork's child handler: a
// child that execs or exits at once never writes those pages, so fork has no
// copy-on-write fault and no getrandom to pay for them.
pid_t g_series_pid = 0;

uint64_t now_ns(clockid_t c) {
  struct timespec ts;
  clock_gettime(c, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

// Mappings a finished Buf gave back, for the next build's: a process that
// writes often (the peak file is rewritten at each 5% of growth) faults in
// and zeroes its image's pages once, not at every file. Writer-only (the
// writer mutex), so async-signal-safe; at most kSpareBytes kept, the rest
// unmapped at once.
struct SpareMaps {
  static constexpr int kSlots = 6;
  static constexpr size_t kSpareBytes = (size_t)32 << 20;
  void* p[kSlots] = {};
  size_t cap[kSlots] = {};
  size_t total = 0;
  // A kept mapping of at least `want` bytes (the smallest), else nullptr.
  void* take(size_t want, size_t* got) {
    int best = -1;
    for (int i = 0; i < kSlots; ++i)
      if (p[i] && cap[i] >= want && (best < 0 || cap[i] < cap[best])) best = i;
    if (best < 0) return nullptr;
    void* q = p[best];
    *got = cap[best];
    total -= cap[best];
    p[best] = nullptr;
    cap[best] = 0;
    return q;
  }
  void give(void* q, size_t n) {
    if (total + n <= kSpareBytes)
      for (int i = 0; i < kSlots; ++i)
        if (!p[i]) {
          p[i] = q;
          cap[i] = n;
          total += n;
          return;
        }
    os_unmap(q, n);
  }
};
SpareMaps g_spare;

// A growable byte buffer in its own mapping.
class Buf {
 public:
  Buf() = default;
  Buf(const Buf&) = delete;  // one owner per mapping: it goes back to g_spare once
  Buf& operator=(const Buf&) = delete;
  ~Buf() {
    if (p_) g_spare.give(p_, cap_);
  }
  bool ok() const { return ok_; }
  size_t size() const { return len_; }
  const char* data() const { return p_; }
  char* at(size_t off) { return p_ + off; }

  bool reserve(size_t more) {
    if (!ok_) return false;
    if (len_ + more <= cap_) return true;
    size_t cap = cap_ ? cap_ : 1 << 16;
    while (cap < len_ + more) cap *= 2;
    if (!p_) {
      size_t got = 0;
      if (void* kept = g_spare.take(cap, &got)) {
        p_ = (char*)kept;
        cap_ = got;
        return true;
      }
    }
    void* q = p_ ? mremap(p_, cap_, cap, MREMAP_MAYMOVE) : os_map(cap);
    if (!q || q == MAP_FAILED) return ok_ = false;
    if (p_) self_memory_add((int64_t)(cap - cap_));
    p_ = (char*)q;
    cap_ = cap;
    return true;
  }
  void put(const void* src, size_t n) {
    if (!reserve(n)) return;
    memcpy(p_ + len_, src, n);
    len_ += n;
  }
  void put_u64(uint64_t v) { put(&v, 8); }
  void put_varint(uint64_t v) {
    if (!reserve(10)) return;
    len_ += hs_put_varint((uint8_t*)p_ + len_, v);
  }
  void pad8() {
    static const char zeros[8] = {};
    size_t n = hs_pad8(len_) - len_;
    if (n) put(zeros, n);
  }
  size_t begin_section(uint32_t kind) {
    HsSectionHeader h{kind, 0, 0};
    size_t off = len_;
    put(&h, sizeof h);
    return off;
  }
  void end_section(size_t off) {
    pad8();
    if (!ok_) return;
    ((HsSectionHeader*)(p_ + off))->size = len_ - off - sizeof(HsSectionHeader);
  }
  void put_string(const char* s, size_t n) {
    put(s, n);
    pad8();
  }
  void put_pair(const char* key, const char* value, size_t vlen) {
    HsStringPair sp{(uint32_t)strlen(key), (uint32_t)vlen};
    put(&sp, sizeof sp);
    put_string(key, sp.key_len);
    put_string(value, vlen);
  }
  // A META pair whose value is a file's content (up to HS_MAX_STRING bytes),
  // read straight into the buffer.
  void put_pair_from_file(const char* key, const char* path, bool drop_trailing_nul) {
    size_t at_pair = len_;
    HsStringPair sp{(uint32_t)strlen(key), 0};
    put(&sp, sizeof sp);
    put_string(key, sp.key_len);
    uint32_t n = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0 && reserve(HS_MAX_STRING)) {
      while (n < HS_MAX_STRING) {
        ssize_t r = read(fd, p_ + len_ + n, HS_MAX_STRING - n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        n += (uint32_t)r;
      }
    }
    if (fd >= 0) close(fd);
    if (!ok_) return;
    if (drop_trailing_nul && n && p_[len_ + n - 1] == 0) --n;
    len_ += n;
    ((HsStringPair*)(p_ + at_pair))->value_len = n;
    pad8();
  }
  size_t put_stat(const char* name, uint64_t value) {
    HsStat st{value, (uint32_t)strlen(name), 0};
    size_t off = len_;
    put(&st, sizeof st);
    put_string(name, st.name_len);
    return off;
  }

 private:
  char* p_ = nullptr;
  size_t len_ = 0, cap_ = 0;
  bool ok_ = true;
};

struct ModCtx {
  Buf* b;
  uint64_t count;
};

void put_module(const ModuleInfo& m, void* ctx) {
  ModCtx& mc = *(ModCtx*)ctx;
  Buf& b = *mc.b;
  ++mc.count;
  HsModule hm{m.load_bias, m.path_len, m.build_id_len, m.range_count, m.flags};
  b.put(&hm, sizeof hm);
  b.put(m.ranges, sizeof(HsRange) * m.range_count);
  b.put_string(m.path, m.path_len);
  b.put_string((const char*)m.build_id, m.build_id_len);
}

int write_all(int fd, const char* p, size_t n) {
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return errno;
    if (w == 0) return EIO;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

// The executable ranges of libheapscope itself, when it is its own module
// (preloaded or linked as a shared library; not when heapscope_core is linked
// into a test executable). Its frames -- main_then_exit_snapshot, between
// main and __libc_start_call_main in every stack -- are dropped from STACKS.
constexpr int kOwnTextMax = 4;
uint64_t g_own_text[kOwnTextMax][2];
int g_own_text_count = 0;

int own_text_cb(dl_phdr_info* info, size_t, void*) {
  const uint64_t self = (uint64_t)(uintptr_t)&own_text_cb;
  if (!info->dlpi_name || !*info->dlpi_name) return 0;  // the executable
  int n = 0;
  bool mine = false;
  uint64_t r[kOwnTextMax][2];
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const auto& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD || !(ph.p_flags & PF_X)) continue;
    uint64_t lo = info->dlpi_addr + ph.p_vaddr, hi = lo + ph.p_memsz;
    mine |= self >= lo && self < hi;
    if (n < kOwnTextMax) r[n][0] = lo, r[n][1] = hi, ++n;
  }
  if (!mine) return 0;
  memcpy(g_own_text, r, sizeof r);
  g_own_text_count = n;
  return 1;
}

void find_own_text() {
  g_own_text_count = 0;
  dl_iterate_phdr(own_text_cb, nullptr);
}

bool in_own_text(uint64_t pc) {
  for (int i = 0; i < g_own_text_count; ++i)
    if (pc >= g_own_text[i][0] && pc < g_own_text[i][1]) return true;
  return false;
}


// ---- Version 2: the frame tree, the stack numbers and the chain ----------
// Writer-only state that lives from snapshot to snapshot (guarded by the
// writer mutex; a re-entered writer is refused before it gets here), in
// mappings grown with mremap, never malloc:
//   nodes     the frame tree: node i = {pc, parent}; node 0 is the root.
//   index     open addressing (parent, pc) -> node, at most half full.
//   seen      per stack-table id: its stack number + 1 (0: not numbered yet)
//             and the fingerprints of the figures written, fp[cur] as of the
//             committed (last published) chained snapshot, fp[cur ^ 1] being built.
//   keys      per stack number: leaf << 2 | flags.
// A build only appends nodes and numbers stacks: a failed write leaves them
// valid, and the next chained file carries everything after the committed
// counts. Only a published chained snapshot advances the committed base.
struct Node {
  uint64_t pc;
  uint32_t parent;
  uint32_t child;  // a hint: the child last found or added under this node (0: none); verified on use
};
struct Slot {  // index entry; node 0 = empty
  uint64_t pc;
  uint32_t parent;
  uint32_t node;
};
struct Seen {
  uint32_t num1;  // stack number + 1
  uint32_t reserved;
  uint64_t fp[2];  // 0: no site
};

// A growable array of T in its own mapping (zero-filled on growth).
template <typename T>
class Grow {
 public:
  T* data() const { return p_; }
  size_t cap() const { return cap_; }
  bool ensure(size_t n) {
    if (n <= cap_) return true;
    size_t cap = cap_ ? cap_ : 4096;
    while (cap < n) cap *= 2;
    void* q = p_ ? mremap(p_, cap_ * sizeof(T), cap * sizeof(T), MREMAP_MAYMOVE) : os_map(cap * sizeof(T));
    if (!q || q == MAP_FAILED) return false;
    if (p_) self_memory_add((int64_t)((cap - cap_) * sizeof(T)));
    p_ = (T*)q;
    cap_ = cap;
    if (cap * sizeof(T) >= ((size_t)2 << 20)) madvise(p_, cap * sizeof(T), MADV_HUGEPAGE);  // advice only
    return true;
  }

 private:
  T* p_ = nullptr;
  size_t cap_ = 0;
};

struct ChainState {
  Grow<Node> nodes;
  uint32_t node_count = 1;  // node 0, the root
  Slot* index = nullptr;
  size_t index_cap = 0;  // a power of 2
  Grow<Seen> seen;
  Grow<uint32_t> keys;
  Grow<uint8_t> mapped;  // per stack number: 1 = kind mapped (HS_SEC_MAPPED)
  uint32_t stack_count = 0;
  int cur = 0;
  // The committed base: the last published chained-series snapshot.
  bool have_base = false;
  uint32_t chain_len = 0;  // files in the current chain, keyframe included
  uint64_t base_seq = 0;
  uint32_t base_frames = 0, base_stacks = 0;
  uint64_t base_frames_hash = 0, base_stacks_hash = 0, base_sites_hash = 0;
  char base_path[4200] = {};
  uint64_t run_id = 0, start_unix_ns = 0;
  // The previous stack inserted, outermost first, with its nodes: the next
  // stack reuses the common callers without a lookup.
  uint64_t prev_pcs[HS_MAX_DEPTH] = {};
  uint32_t prev_nodes[HS_MAX_DEPTH] = {};
  uint32_t prev_depth = 0;
  uint64_t scratch[HS_MAX_DEPTH] = {};
  uint64_t filtered[HS_MAX_DEPTH] = {};
};
constinit ChainState g_chain;  // constant-initialized: set by writer_set_start_time from an earlier constructor

// A chain is cut after this many files: the next periodic snapshot is
// self-contained again, so a reader follows at most this many files and a
// user may delete every file older than the newest self-contained one.
constexpr uint32_t kChainFiles = 32;

inline uint64_t slot_hash(uint32_t parent, uint64_t pc) { return hs_mix64(pc ^ ((uint64_t)parent << 40 | parent)); }

bool index_grow() {
  size_t cap = g_chain.index_cap ? g_chain.index_cap * 2 : (size_t)1 << 16;
  Slot* ix = (Slot*)os_map(cap * sizeof(Slot));  // counted: os_unmap below subtracts it
  if (!ix) return false;
  madvise(ix, cap * sizeof(Slot), MADV_HUGEPAGE);  // random probes: fewer TLB misses (advice only)
  for (uint32_t id = 1; id < g_chain.node_count; ++id) {
    const Node& n = g_chain.nodes.data()[id];
    for (size_t i = slot_hash(n.parent, n.pc) & (cap - 1);; i = (i + 1) & (cap - 1))
      if (!ix[i].node) {
        ix[i] = Slot{n.pc, n.parent, id};
        break;
      }
  }
  if (g_chain.index) os_unmap(g_chain.index, g_chain.index_cap * sizeof(Slot));
  g_chain.index = ix;
  g_chain.index_cap = cap;
  return true;
}

// The child of `parent` for `pc` through the index, added if new; 0 when out
// of memory or frames.
uint32_t tree_child_indexed(uint32_t parent, uint64_t pc) {
  if ((size_t)g_chain.node_count * 2 >= g_chain.index_cap && !index_grow()) return 0;
  const size_t mask = g_chain.index_cap - 1;
  for (size_t i = slot_hash(parent, pc) & mask;; i = (i + 1) & mask) {
    Slot& s = g_chain.index[i];
    if (!s.node) {
      const uint32_t id = g_chain.node_count;
      if (id > HS_MAX_FRAMES || !g_chain.nodes.ensure((size_t)id + 1)) return 0;
      g_chain.nodes.data()[id] = Node{pc, parent, 0};
      ++g_chain.node_count;
      s = Slot{pc, parent, id};
      return id;
    }
    if (s.pc == pc && s.parent == parent) return s.node;
  }
}

// The child of `parent` for `pc`, added if new; 0 when out of memory or frames.
uint32_t tree_child(uint32_t parent, uint64_t pc) {
  // The hint first: a stack's new nodes get consecutive ids, so a later stack
  // down the same path reads neighbouring Nodes instead of probing the index
  // at random (most of a first snapshot's time was those cache misses).
  if (parent < g_chain.node_count && g_chain.nodes.data()) {
    const Node* nodes = g_chain.nodes.data();
    const uint32_t h = nodes[parent].child;
    if (h && h < g_chain.node_count && nodes[h].pc == pc && nodes[h].parent == parent) return h;
  }
  const uint32_t id = tree_child_indexed(parent, pc);
  if (id && g_chain.nodes.data()) g_chain.nodes.data()[parent].child = id;
  return id;
}

// The leaf node of a stack (innermost first, own frames already removed);
// UINT32_MAX when out of memory.
uint32_t tree_insert(const uint64_t* pcs, uint32_t depth) {
  uint64_t* outer = g_chain.scratch;
  for (uint32_t k = 0; k < depth; ++k) outer[k] = pcs[depth - 1 - k];
  uint32_t node = 0, k = 0;
  while (k < depth && k < g_chain.prev_depth && outer[k] == g_chain.prev_pcs[k]) node = g_chain.prev_nodes[k++];
  for (; k < depth; ++k) {
    node = tree_child(node, outer[k]);
    if (!node) {
      g_chain.prev_depth = 0;
      return UINT32_MAX;
    }
    g_chain.prev_pcs[k] = outer[k];
    g_chain.prev_nodes[k] = node;
  }
  g_chain.prev_depth = depth;
  return node;
}

// The frame-address predictions (hsnap_format.h, "Frame addresses"): parent
// pc -> the pc of its latest child node, open addressing, at most half full,
// rebuilt by every build.
struct PredSlot {
  uint64_t parent_pc;
  uint64_t child_pc;
  uint64_t used;
};
PredSlot* g_pred = nullptr;
size_t g_pred_cap = 0, g_pred_count = 0;

bool pred_clear() {
  if (!g_pred) {
    g_pred = (PredSlot*)os_map(((size_t)1 << 14) * sizeof(PredSlot));
    if (!g_pred) return false;
    g_pred_cap = (size_t)1 << 14;
  }
  memset(g_pred, 0, g_pred_cap * sizeof(PredSlot));
  g_pred_count = 0;
  return true;
}

PredSlot* pred_find(PredSlot* t, size_t cap, uint64_t parent_pc) {
  for (size_t i = hs_mix64(parent_pc) & (cap - 1);; i = (i + 1) & (cap - 1))
    if (!t[i].used || t[i].parent_pc == parent_pc) return &t[i];
}

// The slot of parent_pc (used = 0 when new); nullptr when out of memory.
PredSlot* pred_slot(uint64_t parent_pc) {
  PredSlot* s = pred_find(g_pred, g_pred_cap, parent_pc);
  if (s->used) return s;
  if ((g_pred_count + 1) * 2 > g_pred_cap) {
    const size_t cap = g_pred_cap * 2;
    PredSlot* t = (PredSlot*)os_map(cap * sizeof(PredSlot));
    if (!t) return nullptr;
    for (size_t i = 0; i < g_pred_cap; ++i)
      if (g_pred[i].used) *pred_find(t, cap, g_pred[i].parent_pc) = g_pred[i];
    os_unmap(g_pred, g_pred_cap * sizeof(PredSlot));
    g_pred = t;
    g_pred_cap = cap;
    s = pred_find(g_pred, g_pred_cap, parent_pc);
  }
  ++g_pred_count;
  s->parent_pc = parent_pc;
  return s;
}

uint64_t make_run_id() {
  uint64_t id = 0;
#ifdef SYS_getrandom
  if (syscall(SYS_getrandom, &id, sizeof id, 1 /* GRND_NONBLOCK */) == (long)sizeof id && id) return id;
#endif
  id = hs_mix64(now_ns(CLOCK_REALTIME) ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)&id);
  return id ? id : 1;
}

// What a build wrote about the chain, for the commit after a publish.
struct BuildChain {
  bool chained_series;  // a periodic snapshot (may be the keyframe of a new chain)
  bool chained;         // builds on the committed base
  uint32_t frames, stacks;
  uint64_t frames_hash, stacks_hash, sites_hash;
};
BuildChain g_build;

// Whether a and b name files in the same directory (the chain names its
// predecessor relative to this file's directory).
bool same_dir(const char* a, const char* b) {
  const char* sa = strrchr(a, '/');
  const char* sb = strrchr(b, '/');
  const size_t na = sa ? (size_t)(sa - a) : 0, nb = sb ? (size_t)(sb - b) : 0;
  return na == nb && memcmp(a, b, na) == 0;
}

// final_path null: a standalone snapshot (write_snapshot_memfd), outside the series.
int build(Buf& b, hs_trigger trigger, uint64_t seq, uint64_t* live_out, const char* final_path) {
  const uint64_t t0 = now_ns(CLOCK_MONOTONIC);
  HsFileHeader fh;
  memset(&fh, 0, sizeof fh);
  memcpy(fh.magic, HS_MAGIC, HS_MAGIC_LEN);
  fh.version = HS_VERSION;
  fh.header_size = sizeof fh;
  fh.pid = (uint64_t)getpid();
  fh.time_unix_ns = now_ns(CLOCK_REALTIME);
  fh.uptime_ns = t0 - g_start_ns;
  fh.mode = g_cfg.sample_period ? HS_MODE_SAMPLED : HS_MODE_FULL;
  fh.trigger = trigger;
  fh.sample_period = g_cfg.sample_period;
  fh.seq = seq;
  b.put(&fh, sizeof fh);

  // META
  size_t sec = b.begin_section(HS_SEC_META);
  b.put_pair_from_file("cmdline", "/proc/self/cmdline", true);
  {
    static char exe[4096];  // writer-only (mutex): not on a signal handler's stack
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe);
    b.put_pair("exe", exe, n > 0 ? (size_t)n : 0);
  }
  const char* alloc = allocator_name();
  b.put_pair("allocator", alloc, strlen(alloc));
  const char* unw = g_cfg.unwinder == Unwinder::fp          ? "fp"
                    : g_cfg.unwinder == Unwinder::cfi     ? "cfi"
                    : g_cfg.unwinder == Unwinder::check   ? "cfi+check"
                                                           : "libunwind";
  b.put_pair("unwinder", unw, strlen(unw));
  b.put_pair("heapscope_version", HEAPSCOPE_VERSION_STRING, strlen(HEAPSCOPE_VERSION_STRING));
  struct utsname u;
  if (uname(&u) == 0) b.put_pair("hostname", u.nodename, strnlen(u.nodename, sizeof u.nodename));
  static MemLimit lim;  // writer-only (mutex), as exe above; async-signal-safe to read
  memlimit_read(&lim);
  if (lim.limit) b.put_pair("mem_limit_source", lim.source, strlen(lim.source));
  b.end_section(sec);

  // Sites in one pass over the stack table: each stack gets its number (and
  // its frames in the tree) when first written; a chained file keeps only
  // the sites whose figures changed since the committed base.
  // The exit and peak files are self-contained and outside the chain.
  const bool series = trigger != HS_TRIGGER_EXIT && trigger != HS_TRIGGER_PEAK && final_path;
  bool chained = series && g_chain.have_base && g_chain.chain_len < kChainFiles;
  if (chained) {  // the predecessor deleted meanwhile, or elsewhere: start a new chain rather than name a lost file
    struct stat st;
    if (!same_dir(g_chain.base_path, final_path) || lstat(g_chain.base_path, &st) != 0) chained = false;
  }
  const bool sampled = g_cfg.sample_period != 0;
  const int cur = g_chain.cur, nx = cur ^ 1;
  Buf sites;
  uint64_t count = 0, written = 0, sites_hash = 0;
  int64_t prev_num = -1;
  HsTotals tot;
  memset(&tot, 0, sizeof tot);
  HsMapped mtot;
  memset(&mtot, 0, sizeof mtot);
  const uint32_t ids = g_stacks.ready() ? g_stacks.ids_issued() : 0;
  if (!g_chain.seen.ensure(ids)) return ENOMEM;
  Seen* seen = g_chain.seen.data();
  for (uint32_t id = 0; id < ids; ++id) {
    Seen& sn = seen[id];
    const StackRec* r = g_stacks.by_id(id);
    SiteFigures f{};
    if (r) f = site_figures(r);
    const bool present = r && (f.alloc_count || f.inuse_count || f.sampled_alloc);
    if (!present) {
      if (chained && sn.fp[cur] && sn.num1) {  // a site that disappeared: all-zero figures remove it
        const int64_t num = (int64_t)sn.num1 - 1;
        sites.put_varint(hs_zigzag(num - prev_num - 1));
        for (int k = 0; k < (sampled ? 6 : 4); ++k) sites.put_varint(0);
        prev_num = num;
        ++written;
      }
      sn.fp[nx] = 0;
      continue;
    }
    if (!sn.num1) {
      const uint64_t* pcs = r->pcs();
      uint32_t kept = 0;
      uint64_t* filtered = g_chain.filtered;
      for (uint32_t k = 0; k < r->depth && k < HS_MAX_DEPTH; ++k)
        if (!in_own_text(pcs[k])) filtered[kept++] = pcs[k];
      const uint32_t leaf = tree_insert(filtered, kept);
      if (leaf == UINT32_MAX || !g_chain.keys.ensure((size_t)g_chain.stack_count + 1) ||
          !g_chain.mapped.ensure((size_t)g_chain.stack_count + 1))
        return ENOMEM;
      g_chain.keys.data()[g_chain.stack_count] = leaf << 2 | (r->flags & 3u);
      g_chain.mapped.data()[g_chain.stack_count] = (r->flags & HS_STACK_MAPPED) != 0;
      sn.num1 = ++g_chain.stack_count;
    }
    const uint64_t num = sn.num1 - 1;
    const uint64_t h = hs_site_hash(num, f.inuse_bytes, f.inuse_count, f.alloc_bytes, f.alloc_count, f.sampled_inuse,
                                    f.sampled_alloc);
    const uint64_t fp = h ? h : 1;
    sites_hash += h;
    if (!chained || sn.fp[cur] != fp) {
      sites.put_varint(hs_zigzag((int64_t)num - prev_num - 1));
      sites.put_varint(f.inuse_bytes);
      sites.put_varint(f.inuse_count);
      sites.put_varint(f.alloc_bytes);
      sites.put_varint(f.alloc_count);
      if (sampled) {
        sites.put_varint(f.sampled_inuse);
        sites.put_varint(f.sampled_alloc);
      }
      prev_num = (int64_t)num;
      ++written;
    }
    sn.fp[nx] = fp;
    if (r->flags & HS_STACK_MAPPED) {  // not heap: the MAPPED section's totals
      mtot.inuse_bytes += f.inuse_bytes;
      mtot.inuse_count += f.inuse_count;
      mtot.alloc_bytes += f.alloc_bytes;
      mtot.alloc_count += f.alloc_count;
      ++count;
      continue;
    }
    tot.inuse_bytes += f.inuse_bytes;
    tot.inuse_count += f.inuse_count;
    tot.alloc_bytes += f.alloc_bytes;
    tot.alloc_count += f.alloc_count;
    ++count;
  }
  if (!sites.ok()) return ENOMEM;
  tot.free_count = tot.alloc_count - tot.inuse_count;
  *live_out = tot.inuse_bytes;

  // The frames and stacks this file adds: everything after the base.
  const uint32_t base_frames = chained ? g_chain.base_frames : 0;
  const uint32_t base_stacks = chained ? g_chain.base_stacks : 0;
  Buf frames, stacks;
  uint64_t frames_hash = chained ? g_chain.base_frames_hash : 0;
  uint64_t stacks_hash = chained ? g_chain.base_stacks_hash : 0;
  const Node* nodes = g_chain.nodes.data();
  // The address predictions replay every node from 1 (they span the chain);
  // only the nodes after the base are written.
  if (!pred_clear()) return ENOMEM;
  for (uint32_t id = 1; id < g_chain.node_count; ++id) {
    const Node& n = nodes[id];
    const uint64_t parent_pc = n.parent ? nodes[n.parent].pc : 0;
    PredSlot* ps = pred_slot(parent_pc);
    if (!ps) return ENOMEM;
    const uint64_t predicted = ps->used ? ps->child_pc : parent_pc;
    ps->used = 1;
    ps->child_pc = n.pc;
    if (id <= base_frames) continue;
    const bool miss = n.pc != predicted;
    frames.put_varint((uint64_t)(id - n.parent) << 1 | miss);
    if (miss) frames.put_varint(hs_zigzag((int64_t)(n.pc - predicted)));
    frames_hash = hs_hash_step(frames_hash, n.parent, n.pc);
  }
  const uint32_t* keys = g_chain.keys.data();
  uint64_t prev_leaf = base_stacks ? keys[base_stacks - 1] >> 2 : 0;
  for (uint32_t i = base_stacks; i < g_chain.stack_count; ++i) {
    const uint64_t leaf = keys[i] >> 2;
    stacks.put_varint(hs_zigzag((int64_t)(leaf - prev_leaf)) << 2 | (keys[i] & 3u));
    stacks_hash = hs_hash_step(stacks_hash, keys[i], 0);
    prev_leaf = leaf;
  }
  Buf mapped;  // HEAPSCOPE_MMAP: the mapped stacks among those this file adds
  uint32_t mapped_n = 0;
  for (uint32_t i = base_stacks, prev = base_stacks - 1; g_cfg.track_mmap && i < g_chain.stack_count; ++i)
    if (g_chain.mapped.data()[i]) {
      mapped.put_varint(i - prev - 1);
      prev = i;
      ++mapped_n;
    }
  if (!frames.ok() || !stacks.ok() || !mapped.ok()) return ENOMEM;
  g_build = BuildChain{series, chained, g_chain.node_count - 1, g_chain.stack_count, frames_hash, stacks_hash,
                       sites_hash};
  sec = b.begin_section(HS_SEC_TOTALS);
  b.put(&tot, sizeof tot);
  b.end_section(sec);

  // STATS
  // Inside an allocator call on this thread (an exit() from a signal handler
  // that interrupted free(), say) the allocator's own locks may be held:
  // asking it for figures would deadlock. The guard says so: the snapshot
  // path holds one guard itself.
  // The allocator's figures are then absent (allocator_inuse_bytes 0, the
  // others not written); the kernel's (RSS split, thread stacks) are read
  // with open/read/mincore, safe there too.
  AllocatorReading ar{};
  if (tls.guard <= 1) ar = read_allocator();  // not nested
  const MemoryFigures mf = memory_figures();
  sec = b.begin_section(HS_SEC_STATS);
  b.put_stat("hook_calls", g_counters.hook_calls.load(std::memory_order_relaxed) + tls.pending_calls);
  b.put_stat("before_start_blocks", g_counters.before_start_blocks.load(std::memory_order_relaxed));
  b.put_stat("before_start_bytes", g_counters.before_start_bytes.load(std::memory_order_relaxed));
  b.put_stat("unknown_frees", g_counters.unknown_frees.load(std::memory_order_relaxed));
  b.put_stat("truncated_stacks", g_counters.truncated_stacks.load(std::memory_order_relaxed));
  b.put_stat("unwind_failures", g_counters.unwind_failures.load(std::memory_order_relaxed));
  b.put_stat("dropped_events", g_counters.dropped_events.load(std::memory_order_relaxed));
  b.put_stat("stack_table_full", g_counters.stack_table_full.load(std::memory_order_relaxed));
  size_t self_at = b.put_stat("self_memory_bytes", 0);
  size_t ns_at = b.put_stat("snapshot_ns", 0);
  b.put_stat("live_table_entries", g_live.entries());
  b.put_stat("stacks", count);  // sites in the profile this file gives (chain followed)
  b.put_stat("allocator_inuse_bytes", ar.known ? ar.used : 0);
  b.put_stat("rss_bytes", rss_bytes());
  if (ar.known) {  // what RSS is made of (docs/snapshot-format.md, "Memory composition")
    b.put_stat("allocator_held_bytes", ar.held);
    b.put_stat("allocator_free_held_bytes", ar.free_held);
  }
  for (int i = 0; i < ar.count; ++i) b.put_stat(ar.named[i].name, ar.named[i].value);
  if (mf.rss_known) {
    b.put_stat("rss_anon_bytes", mf.rss_anon);
    b.put_stat("rss_file_bytes", mf.rss_file);
    b.put_stat("rss_shmem_bytes", mf.rss_shmem);
  }
  if (mf.stacks_known) {
    b.put_stat("thread_stack_bytes", mf.stack_bytes);
    b.put_stat("thread_stacks", mf.stacks);
  }
  b.put_stat("threads_seen", g_counters.threads_seen.load(std::memory_order_relaxed));
  b.put_stat("signal_handler_replaced", g_counters.signal_handler_replaced.load(std::memory_order_relaxed));
  AttachStat attach[kAttachStats];  // heapscope attach: attach_mode, attach_time_unix_ms, ... (attach_state.h)
  for (int i = 0, n = attach_stats(attach); i < n; ++i) b.put_stat(attach[i].name, attach[i].value);
  const PeakFigures pk = peak_figures(g_start_ns);  // peak.h: the high-water mark and when
  b.put_stat("peak_inuse_bytes", pk.inuse_bytes);
  b.put_stat("peak_uptime_ns", pk.uptime_ns);
  b.put_stat("peak_unix_ns", pk.unix_ns);
  b.put_stat("peak_snapshots", pk.snapshots + (trigger == HS_TRIGGER_PEAK));
  b.put_stat("peak_snapshot_inuse_bytes", trigger == HS_TRIGGER_PEAK ? tot.inuse_bytes : pk.snapshot_bytes);
  b.put_stat("mem_limit_bytes", lim.limit);  // memlimit.h: the limit nearest to its usage, 0 = none
  b.put_stat("mem_limit_kind", lim.kind);
  b.put_stat("mem_usage_bytes", lim.usage);
  b.put_stat("oom_snapshots", memlimit_snapshots() + (trigger == HS_TRIGGER_OOM));
  b.end_section(sec);

  // MODULES. Nested inside an allocator or loader call on this thread (see
  // STATS above), the module list is not re-read and not waited for.
  const bool nested = tls.guard > 1;
  if (!nested) modules_refresh();
  sec = b.begin_section(HS_SEC_MODULES);
  size_t mcount_at = b.size();
  b.put_u64(0);
  ModCtx mc{&b, 0};
  modules_for_each(put_module, &mc, nested);
  uint64_t mcount = mc.count;
  if (b.ok()) *(uint64_t*)b.at(mcount_at) = mcount;
  b.end_section(sec);

  sec = b.begin_section(HS_SEC_CHAIN);
  {
    HsChain ch;
    memset(&ch, 0, sizeof ch);
    ch.run_id = g_chain.run_id;
    ch.start_unix_ns = g_chain.start_unix_ns;
    const char* base_name = "";
    if (chained) {
      ch.base_seq = g_chain.base_seq;
      ch.base_frames_hash = g_chain.base_frames_hash;
      ch.base_stacks_hash = g_chain.base_stacks_hash;
      ch.base_sites_hash = g_chain.base_sites_hash;
      const char* slash = strrchr(g_chain.base_path, '/');
      base_name = slash ? slash + 1 : g_chain.base_path;
    }
    ch.base_frames = base_frames;
    ch.frames = g_build.frames;
    ch.base_stacks = base_stacks;
    ch.stacks = g_build.stacks;
    ch.sites = (uint32_t)count;
    ch.base_name_len = (uint32_t)strlen(base_name);
    ch.frames_hash = frames_hash;
    ch.stacks_hash = stacks_hash;
    ch.sites_hash = sites_hash;
    b.put(&ch, sizeof ch);
    b.put_string(base_name, ch.base_name_len);
  }
  b.end_section(sec);
  const struct {
    uint32_t kind, first, count;
    Buf* body;
  } runs[3] = {{HS_SEC_FRAMES, base_frames + 1, g_build.frames - base_frames, &frames},
               {HS_SEC_STACKS2, base_stacks, g_build.stacks - base_stacks, &stacks},
               {HS_SEC_SITES2, 0, (uint32_t)written, &sites}};
  for (const auto& run : runs) {
    sec = b.begin_section(run.kind);
    HsRun hr{run.first, run.count, run.body->size()};
    b.put(&hr, sizeof hr);
    b.put(run.body->data(), run.body->size());
    b.end_section(sec);
  }
  if (g_cfg.track_mmap) {
    sec = b.begin_section(HS_SEC_MAPPED);
    b.put(&mtot, sizeof mtot);
    HsRun hr{base_stacks, mapped_n, mapped.size()};
    b.put(&hr, sizeof hr);
    b.put(mapped.data(), mapped.size());
    b.end_section(sec);
  }

  sec = b.begin_section(HS_SEC_END);
  b.put_u64(0);
  b.end_section(sec);
  if (!b.ok()) return ENOMEM;
  *(uint64_t*)b.at(b.size() - 8) = b.size();
  ((HsStat*)b.at(self_at))->value = self_memory_bytes();
  ((HsStat*)b.at(ns_at))->value = now_ns(CLOCK_MONOTONIC) - t0;
  return 0;
}
}  // namespace

void writer_begin_exit() { g_exit_begun.store(true); }

void writer_set_start_time() {
  g_start_ns = now_ns(CLOCK_MONOTONIC);
  // A new run (the start, or heapscope attach after a detach, which zeroes
  // the figures): its first periodic snapshot is self-contained. The tree and
  // the stack numbers stay valid (the stack table keeps its ids).
  g_chain.start_unix_ns = now_ns(CLOCK_REALTIME);
  g_chain.run_id = make_run_id();
  g_chain.have_base = false;
  g_chain.chain_len = 0;
  g_series_pid = getpid();
  find_own_text();
}
uint64_t last_peak_snapshot_live_bytes() { return g_last_peak_live.load(std::memory_order_relaxed); }
uint64_t last_snapshot_live_bytes() { return g_last_live.load(std::memory_order_relaxed); }
void writer_lock() { pthread_mutex_lock(&g_writer_mu); }
void writer_unlock() { pthread_mutex_unlock(&g_writer_mu); }
bool writer_trylock() { return pthread_mutex_trylock(&g_writer_mu) == 0; }
void writer_after_fork_child(bool locked_by_prepare) {
  // Only what must hold before the child's first snapshot, and each word
  // written only when it differs (every page written is a copy-on-write fault).
  if (locked_by_prepare) pthread_mutex_init(&g_writer_mu, nullptr);
  if (g_exit_begun.load(std::memory_order_relaxed)) g_exit_begun.store(false);
  if (g_writer_tid.load(std::memory_order_relaxed)) g_writer_tid.store(0);
}

// Under the writer mutex, before a snapshot: in a fork child (a pid other than
// the series' own) the snapshots start a series of their own: SEQ from 1, a new
// run id, a first file that is self-contained. The inherited frame tree and
// stack numbers stay valid. getpid() here, not on the hot path.
static void writer_adopt_if_forked() {
  const pid_t me = getpid();
  if (me == g_series_pid) return;
  g_series_pid = me;
  g_seq = 0;
  g_error_reported = false;
  g_chain.have_base = false;
  g_chain.chain_len = 0;
  g_chain.run_id = make_run_id();
}

// Publishes tmp under final_path without replacing an existing file (a
// snapshot of an earlier process with the same PID and prefix: containers
// run as PID 1, PIDs are reused). Returns 0 or an errno value (EEXIST when
// final_path exists).
static int publish_noreplace(const char* tmp, const char* final_path) {
#ifdef SYS_renameat2
  if (syscall(SYS_renameat2, AT_FDCWD, tmp, AT_FDCWD, final_path, 1u /* RENAME_NOREPLACE */) == 0) return 0;
  if (errno != ENOSYS && errno != EINVAL) return errno;  // EINVAL: file system without the flag
#endif
  if (link(tmp, final_path) != 0) return errno;
  unlink(tmp);  // ours: the final name now holds the file
  return 0;
}

int write_snapshot_to(const char* final_path, hs_trigger trigger, uint64_t seq) {
  char tmp[4200];
  size_t n = strlen(final_path);
  if (n + 16 > sizeof tmp) return ENAMETOOLONG;
  Buf b;
  uint64_t live = 0;
  int err = build(b, trigger, seq, &live, final_path);
  if (err) return err;
  // FINAL.tmp, or FINAL.tmp.N when a temporary of that name exists (left by a
  // killed earlier process, or planted): never opened through, never deleted.
  int fd = -1;
  for (unsigned k = 0; k < 16 && fd < 0; ++k) {
    memcpy(tmp, final_path, n);
    if (k == 0)
      memcpy(tmp + n, ".tmp", 5);
    else
      format(tmp + n, sizeof tmp - n, ".tmp.%u", k);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 && errno != EEXIST) return errno;
  }
  if (fd < 0) return EEXIST;
  err = write_all(fd, b.data(), b.size());
  // The peak file is rewritten on the allocating thread at each new high
  // (peak.h): no fsync for it. A killed process (the OOM killer) loses
  // nothing of the page cache; only a machine crash could leave it stale.
  if (!err && trigger != HS_TRIGGER_PEAK && fsync(fd) != 0 && errno != EINVAL) err = errno;
  if (close(fd) != 0 && !err && errno != EINTR) err = errno;
  if (!err) {
    if (trigger == HS_TRIGGER_EXIT || trigger == HS_TRIGGER_PEAK) {
      // PREFIX.PID.exit.hsnap and .peak.hsnap are fixed names (the contract): an
      // earlier process's file of the same PID and prefix is replaced, by design
      // (and the peak file by each higher peak).
      if (rename(tmp, final_path) != 0) err = errno;
    } else {
      err = publish_noreplace(tmp, final_path);
    }
  }
  if (err) {
    unlink(tmp);  // ours: created above with O_EXCL
    return err;
  }
  if (trigger == HS_TRIGGER_PEAK) g_last_peak_live.store(live, std::memory_order_relaxed);
  else g_last_live.store(live, std::memory_order_relaxed);  // a peak file is no baseline for HEAPSCOPE_ALERT
  if (g_build.chained_series && seq != 0) {  // commit: the next periodic snapshot builds on this one
    g_chain.cur ^= 1;
    g_chain.have_base = true;
    g_chain.chain_len = g_build.chained ? g_chain.chain_len + 1 : 1;
    g_chain.base_seq = seq;
    g_chain.base_frames = g_build.frames;
    g_chain.base_stacks = g_build.stacks;
    g_chain.base_frames_hash = g_build.frames_hash;
    g_chain.base_stacks_hash = g_build.stacks_hash;
    g_chain.base_sites_hash = g_build.sites_hash;
    memcpy(g_chain.base_path, final_path, n + 1);
  }
  return 0;
}

static int write_snapshot_impl(hs_trigger trigger, char* path_out, size_t path_len, bool only_if_free) {
  if (g_run_state.load() == kDisabled) return EPERM;  // e.g. after heapscope detach: inert
  char path[4200];
  // Writing files are cancellation points: never leave the mutex locked.
  int old_cancel = 0;
  pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old_cancel);
  const pid_t self = (pid_t)gettid();
  if (g_writer_tid.load() == self) {  // re-entered on this thread (a signal handler): cannot wait for ourselves
    pthread_setcancelstate(old_cancel, nullptr);
    errno = EDEADLK;
    return -1;
  }
  if (!only_if_free) {
    pthread_mutex_lock(&g_writer_mu);
  } else if (pthread_mutex_trylock(&g_writer_mu) != 0) {
    pthread_setcancelstate(old_cancel, nullptr);
    errno = EBUSY;
    return -1;
  }
  const bool background = trigger == HS_TRIGGER_SIGNAL || trigger == HS_TRIGGER_INTERVAL ||
                          trigger == HS_TRIGGER_ALERT || trigger == HS_TRIGGER_PEAK || trigger == HS_TRIGGER_OOM;
  if (background && g_exit_begun.load()) {
    pthread_mutex_unlock(&g_writer_mu);
    pthread_setcancelstate(old_cancel, nullptr);
    errno = ECANCELED;
    return -1;
  }
  g_writer_tid.store(self);
  writer_adopt_if_forked();
  int err = 0;
  if (trigger == HS_TRIGGER_EXIT || trigger == HS_TRIGGER_PEAK) {
    format(path, sizeof path, "%s.%d.%s.hsnap", g_cfg.out_prefix, (int)getpid(),
           trigger == HS_TRIGGER_EXIT ? "exit" : "peak");
    err = write_snapshot_to(path, trigger, 0);
  } else {
    // A SEQ taken by an earlier process with this PID is skipped, not replaced (bounded).
    for (int tries = 0; tries < 1000; ++tries) {
      uint64_t seq = ++g_seq;
      format(path, sizeof path, "%s.%d.%04lu.hsnap", g_cfg.out_prefix, (int)getpid(), (unsigned long)seq);
      if (path_out && strlen(path) >= path_len) {  // the caller could not get the path: write nothing
        --g_seq;
        err = ERANGE;
        break;
      }
      err = write_snapshot_to(path, trigger, seq);
      if (err != EEXIST) break;
    }
  }
  if (err && err != ERANGE) {
    bump(g_counters.snapshot_failures);
    if (!g_error_reported) {
      g_error_reported = true;
      const char* desc = strerrordesc_np(err);
      log_line("cannot write snapshot %s: errno %d (%s); the program continues, later failures are not reported",
               path, err, desc ? desc : "?");
    }
  } else if (!err) {
    bump(g_counters.snapshots_written);
  }
  g_writer_tid.store(0);
  pthread_mutex_unlock(&g_writer_mu);
  pthread_setcancelstate(old_cancel, nullptr);
  if (err) {
    errno = err;
    return -1;
  }
  if (path_out && path_len) {
    size_t n = strlen(path);
    if (n >= path_len) n = path_len - 1;
    memcpy(path_out, path, n);
    path_out[n] = 0;
  }
  return 0;
}

int write_snapshot_memfd(uint64_t* len) {
  if (g_run_state.load() == kDisabled) {
    errno = EPERM;
    return -1;
  }
  int old_cancel = 0;
  pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old_cancel);
  const pid_t self = (pid_t)gettid();
  if (g_writer_tid.load() == self) {
    pthread_setcancelstate(old_cancel, nullptr);
    errno = EDEADLK;
    return -1;
  }
  pthread_mutex_lock(&g_writer_mu);
  int err = 0, fd = -1;
  if (g_exit_begun.load()) {
    err = ECANCELED;
  } else {
    g_writer_tid.store(self);
    writer_adopt_if_forked();
    Buf b;
    uint64_t live = 0;
    err = build(b, HS_TRIGGER_SIGNAL, 0, &live, nullptr);
    if (!err) {
      fd = (int)syscall(SYS_memfd_create, "heapscope-snapshot", 1u /* MFD_CLOEXEC */);
      if (fd < 0) err = errno;
    }
    if (!err) err = write_all(fd, b.data(), b.size());
    if (!err && lseek(fd, 0, SEEK_SET) != 0) err = errno;
    if (err && fd >= 0) {
      close(fd);
      fd = -1;
    }
    if (!err) *len = b.size();
    g_writer_tid.store(0);
  }
  pthread_mutex_unlock(&g_writer_mu);
  pthread_setcancelstate(old_cancel, nullptr);
  if (err) {
    errno = err;
    return -1;
  }
  return fd;
}

int write_snapshot(hs_trigger trigger, char* path_out, size_t path_len) {
  return write_snapshot_impl(trigger, path_out, path_len, false);
}
int write_snapshot_if_free(hs_trigger trigger) { return write_snapshot_impl(trigger, nullptr, 0, true); }
}  // namespace hs
