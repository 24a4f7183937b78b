// snapshot_writer.cpp -- see snapshot_writer.h.
#include "snapshot_writer.h"

#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
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
std::atomic<bool> g_exit_begun{false};
std::atomic<pid_t> g_writer_tid{0};  // the thread inside write_snapshot, 0 if none

uint64_t now_ns(clockid_t c) {
  struct timespec ts;
  clock_gettime(c, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

// A growable byte buffer in its own mapping.
class Buf {
 public:
  ~Buf() {
    if (p_) os_unmap(p_, cap_);
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

int build(Buf& b, hs_trigger trigger, uint64_t seq, uint64_t* live_out) {
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
    char exe[4096];
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
  b.end_section(sec);

  // Stacks and sites are built in one pass (sites into their own buffer), so
  // each site's figures belong to the stack written with it.
  Buf stacks, sites;
  size_t stacks_count_at = stacks.size();
  stacks.put_u64(0);
  sites.put_u64(0);
  uint64_t count = 0;
  HsTotals tot;
  memset(&tot, 0, sizeof tot);
  const uint32_t ids = g_stacks.ready() ? g_stacks.ids_issued() : 0;
  for (uint32_t id = 0; id < ids; ++id) {
    const StackRec* r = g_stacks.by_id(id);
    if (!r) continue;
    SiteFigures f = site_figures(r);
    if (!f.alloc_count && !f.inuse_count && !f.sampled_alloc) continue;
    const uint64_t* pcs = r->pcs();
    uint32_t kept = 0;
    for (uint32_t k = 0; k < r->depth; ++k) kept += !in_own_text(pcs[k]);
    HsStack hs{kept, r->flags};
    stacks.put(&hs, sizeof hs);
    if (kept == r->depth) {
      if (r->depth) stacks.put(pcs, sizeof(uint64_t) * r->depth);
    } else {
      for (uint32_t k = 0; k < r->depth; ++k)
        if (!in_own_text(pcs[k])) stacks.put(&pcs[k], sizeof(uint64_t));
    }
    HsSite s{(uint32_t)count, 0, f.inuse_bytes, f.inuse_count, f.alloc_bytes, f.alloc_count, f.sampled_inuse,
             f.sampled_alloc};
    sites.put(&s, sizeof s);
    tot.inuse_bytes += f.inuse_bytes;
    tot.inuse_count += f.inuse_count;
    tot.alloc_bytes += f.alloc_bytes;
    tot.alloc_count += f.alloc_count;
    ++count;
  }
  if (!stacks.ok() || !sites.ok()) return ENOMEM;
  *(uint64_t*)stacks.at(stacks_count_at) = count;
  *(uint64_t*)sites.at(0) = count;
  tot.free_count = tot.alloc_count - tot.inuse_count;
  *live_out = tot.inuse_bytes;

  sec = b.begin_section(HS_SEC_TOTALS);
  b.put(&tot, sizeof tot);
  b.end_section(sec);

  // STATS
  // Inside an allocator call on this thread (an exit() from a signal handler
  // that interrupted free(), say) the allocator's own locks may be held:
  // asking it for figures would deadlock. The guard says so: the snapshot
  // path holds one guard itself.
  HeapFigures hf{false, 0, 0};
  if (tls.guard <= 1) hf = allocator_figures();  // not nested
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
  b.put_stat("stacks", count);
  b.put_stat("allocator_inuse_bytes", hf.known ? hf.used : 0);
  b.put_stat("rss_bytes", rss_bytes());
  b.put_stat("threads_seen", g_counters.threads_seen.load(std::memory_order_relaxed));
  b.put_stat("signal_handler_replaced", g_counters.signal_handler_replaced.load(std::memory_order_relaxed));
  AttachStat attach[kAttachStats];  // heapscope attach: attach_mode, attach_time_unix_ms, ... (attach_state.h)
  for (int i = 0, n = attach_stats(attach); i < n; ++i) b.put_stat(attach[i].name, attach[i].value);
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

  sec = b.begin_section(HS_SEC_STACKS);
  b.put(stacks.data(), stacks.size());
  b.end_section(sec);
  sec = b.begin_section(HS_SEC_SITES);
  b.put(sites.data(), sites.size());
  b.end_section(sec);

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
  find_own_text();
}
uint64_t last_snapshot_live_bytes() { return g_last_live.load(std::memory_order_relaxed); }
void writer_lock() { pthread_mutex_lock(&g_writer_mu); }
void writer_unlock() { pthread_mutex_unlock(&g_writer_mu); }
bool writer_trylock() { return pthread_mutex_trylock(&g_writer_mu) == 0; }
void writer_after_fork_child() {
  pthread_mutex_init(&g_writer_mu, nullptr);
  g_exit_begun.store(false);
  g_writer_tid.store(0);
  g_seq = 0;
  g_error_reported = false;
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
  int err = build(b, trigger, seq, &live);
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
  if (!err && fsync(fd) != 0 && errno != EINVAL) err = errno;
  if (close(fd) != 0 && !err && errno != EINTR) err = errno;
  if (!err) {
    if (trigger == HS_TRIGGER_EXIT) {
      // PREFIX.PID.exit.hsnap is a fixed name (the contract): an exit file of an
      // earlier process with the same PID and prefix is replaced, by design.
      if (rename(tmp, final_path) != 0) err = errno;
    } else {
      err = publish_noreplace(tmp, final_path);
    }
  }
  if (err) {
    unlink(tmp);  // ours: created above with O_EXCL
    return err;
  }
  g_last_live.store(live, std::memory_order_relaxed);
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
  const bool background = trigger == HS_TRIGGER_SIGNAL || trigger == HS_TRIGGER_INTERVAL || trigger == HS_TRIGGER_ALERT;
  if (background && g_exit_begun.load()) {
    pthread_mutex_unlock(&g_writer_mu);
    pthread_setcancelstate(old_cancel, nullptr);
    errno = ECANCELED;
    return -1;
  }
  g_writer_tid.store(self);
  int err = 0;
  if (trigger == HS_TRIGGER_EXIT) {
    format(path, sizeof path, "%s.%d.exit.hsnap", g_cfg.out_prefix, (int)getpid());
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

int write_snapshot(hs_trigger trigger, char* path_out, size_t path_len) {
  return write_snapshot_impl(trigger, path_out, path_len, false);
}
int write_snapshot_if_free(hs_trigger trigger) { return write_snapshot_impl(trigger, nullptr, 0, true); }
}  // namespace hs
