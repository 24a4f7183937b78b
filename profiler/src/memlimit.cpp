// memlimit.cpp -- see memlimit.h.
#include "memlimit.h"

#include <atomic>
#include <fcntl.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "config.h"
#include "hsnap_format.h"
#include "log.h"
#include "snapshot_writer.h"

namespace hs {
namespace {
std::atomic<uint64_t> g_oom_files{0};

// The file's first bytes, NUL-terminated, trailing newline cut; false if unreadable.
bool read_small(const char* path, char* buf, size_t cap) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  size_t n = 0;
  while (n + 1 < cap) {
    ssize_t r = read(fd, buf + n, cap - 1 - n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    n += (size_t)r;
  }
  close(fd);
  while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' ')) --n;
  buf[n] = 0;
  return true;
}

// "123456" -> bytes; "max" -> UINT64_MAX; false on anything else.
bool parse_limit(const char* s, uint64_t* v) {
  if (!strcmp(s, "max")) {
    *v = UINT64_MAX;
    return true;
  }
  if (!*s) return false;
  uint64_t x = 0;
  for (; *s; ++s) {
    if (*s < '0' || *s > '9' || x > (UINT64_MAX - 9) / 10) return false;
    x = x * 10 + (uint64_t)(*s - '0');
  }
  *v = x;
  return true;
}

// Keeps (limit, usage) in *out when it is nearer its limit than what *out holds.
void consider(MemLimit* out, uint64_t limit, uint64_t usage, uint32_t kind, const char* source) {
  if (!limit || limit == UINT64_MAX) return;
  // usage/limit > out->usage/out->limit, without dividing
  if (out->limit && (unsigned __int128)usage * out->limit <= (unsigned __int128)out->usage * limit) return;
  out->limit = limit;
  out->usage = usage;
  out->kind = kind;
  size_t n = strlen(source);
  if (n >= sizeof out->source) n = sizeof out->source - 1;
  memcpy(out->source, source, n);
  out->source[n] = 0;
}

// One limit file of DIR; *limit = UINT64_MAX when absent or "max".
void read_limit(MemLimit* out, const char* dir, const char* name, uint64_t* limit, char* path, size_t cap) {
  *limit = UINT64_MAX;
  format(path, cap, "%s/%s", dir, name);
  char val[64];
  if (!read_small(path, val, sizeof val)) return;
  if (!parse_limit(val, limit)) {
    *limit = UINT64_MAX;
    if (!out->bad[0]) format(out->bad, sizeof out->bad, "%s holds \"%s\"", path, val);
  }
}

// DIR and each ancestor down to ROOT (inclusive): the limits in *out.
// v1: memory.limit_in_bytes ("unlimited" is a huge page-rounded number).
void walk(MemLimit* out, const char* root, const char* cg, bool v1) {
  char dir[1100], path[1200], val[64];
  size_t rn = format(dir, sizeof dir, "%s", root);
  size_t n = rn + format(dir + rn, sizeof dir - rn, "%s", strcmp(cg, "/") ? cg : "");
  while (n > rn && dir[n - 1] == '/') dir[--n] = 0;
  for (int depth = 0; depth < 64; ++depth) {
    uint64_t usage = 0;
    if (v1) {
      uint64_t lim;
      read_limit(out, dir, "memory.limit_in_bytes", &lim, path, sizeof path);
      if (lim >= ((uint64_t)1 << 62)) lim = UINT64_MAX;  // v1 "no limit" (PAGE_COUNTER_MAX pages)
      format(path, sizeof path, "%s/memory.usage_in_bytes", dir);
      if (lim != UINT64_MAX && read_small(path, val, sizeof val) && parse_limit(val, &usage)) {
        format(path, sizeof path, "%s/memory.limit_in_bytes", dir);
        consider(out, lim, usage, kLimitCgroup1, path);
      }
    } else {
      uint64_t max, high;
      read_limit(out, dir, "memory.max", &max, path, sizeof path);
      read_limit(out, dir, "memory.high", &high, path, sizeof path);
      format(path, sizeof path, "%s/memory.current", dir);
      if ((max != UINT64_MAX || high != UINT64_MAX) && read_small(path, val, sizeof val) &&
          parse_limit(val, &usage)) {
        format(path, sizeof path, "%s/memory.max", dir);
        consider(out, max, usage, kLimitCgroup2Max, path);
        format(path, sizeof path, "%s/memory.high", dir);
        consider(out, high, usage, kLimitCgroup2High, path);
      }
    }
    if (n <= rn) break;  // the root done
    while (n > rn && dir[n - 1] != '/') --n;  // up one level
    while (n > rn && dir[n - 1] == '/') --n;
    dir[n] = 0;
  }
}

uint64_t vm_size() {
  char buf[4096];
  if (!read_small("/proc/self/status", buf, sizeof buf)) return 0;
  const char* p = strstr(buf, "\nVmSize:");
  if (!p) return 0;
  p += 8;
  while (*p == ' ' || *p == '\t') ++p;
  uint64_t kb = 0;
  for (; *p >= '0' && *p <= '9'; ++p) kb = kb * 10 + (uint64_t)(*p - '0');
  return kb * 1024;
}
}  // namespace

const char* memlimit_kind_name(uint32_t kind) {
  switch (kind) {
    case kLimitCgroup2Max: return "cgroup v2 memory.max";
    case kLimitCgroup2High: return "cgroup v2 memory.high";
    case kLimitCgroup1: return "cgroup v1 memory.limit_in_bytes";
    case kLimitRlimitAs: return "RLIMIT_AS";
    default: return "none";
  }
}

void memlimit_read(MemLimit* out) {
  out->limit = out->usage = 0;
  out->kind = kLimitNone;
  out->source[0] = out->bad[0] = 0;
  struct rlimit rl;
  if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
    consider(out, (uint64_t)rl.rlim_cur, vm_size(), kLimitRlimitAs, "RLIMIT_AS");
  // "ID:controllers:path" lines; v2 is "0::path", v1's memory controller
  // has "memory" among its comma-separated controllers.
  char buf[4096];
  if (!read_small(g_cfg.cgroup_file, buf, sizeof buf)) return;
  const char* v2 = nullptr;
  for (char* line = buf; line && *line;) {
    char* end = strchr(line, '\n');
    if (end) *end = 0;
    char* c1 = strchr(line, ':');
    char* c2 = c1 ? strchr(c1 + 1, ':') : nullptr;
    if (c2 && c2[1] == '/') {
      *c2 = 0;
      const char* ctl = c1 + 1;
      if (!*ctl && line[0] == '0' && c1 == line + 1) v2 = c2 + 1;
      for (const char* p = ctl; *p;) {
        const char* comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == 6 && !memcmp(p, "memory", 6)) {
          char root[1100];
          format(root, sizeof root, "%s/memory", g_cfg.cgroup_root);
          walk(out, root, c2 + 1, true);
        }
        if (!comma) break;
        p = comma + 1;
      }
    }
    line = end ? end + 1 : nullptr;
  }
  if (v2) walk(out, g_cfg.cgroup_root, v2, false);
}

bool memlimit_init() {
  MemLimit m;
  memlimit_read(&m);
  return m.limit != 0;
}

uint64_t memlimit_snapshots() { return g_oom_files.load(std::memory_order_relaxed); }

void memlimit_check() {
  static std::atomic<bool> busy{false};
  static int level = 0;  // thresholds crossed (under busy)
  static bool bad_reported = false;
  if (!g_cfg.oom_ppm || busy.exchange(true)) return;
  static MemLimit m;  // under busy: off the (possibly small) stack
  memlimit_read(&m);
  if (m.bad[0] && !bad_reported) {
    bad_reported = true;
    log_line("%s: expected a number of bytes or max; that limit is ignored", m.bad);
  }
  uint32_t t[3];
  int nt = 0;
  t[nt++] = g_cfg.oom_ppm;
  for (uint32_t f : {950000u, 990000u})
    if (f > g_cfg.oom_ppm) t[nt++] = f;
  const uint64_t ppm = m.limit ? (uint64_t)((unsigned __int128)m.usage * 1000000u / m.limit) : 0;
  if (level && ppm < (uint64_t)t[0] * 9 / 10) level = 0;  // fell well back: armed again
  int reach = 0;
  while (reach < nt && ppm >= t[reach]) ++reach;
  if (reach > level) {
    level = reach;
    char path[4200];
    const bool ok = write_snapshot(HS_TRIGGER_OOM, path, sizeof path) == 0;
    if (ok) g_oom_files.fetch_add(1, std::memory_order_relaxed);
    const bool file = m.kind != kLimitRlimitAs;  // a cgroup limit: name its file too
    log_line("memory usage %lu bytes is %lu.%lu%% of its limit %lu bytes (%s%s%s; HEAPSCOPE_OOM threshold %u.%u%%): %s%s",
             (unsigned long)m.usage, (unsigned long)(ppm / 10000), (unsigned long)(ppm / 1000 % 10),
             (unsigned long)m.limit, memlimit_kind_name(m.kind), file ? ", " : "", file ? m.source : "",
             t[reach - 1] / 10000,
             t[reach - 1] / 1000 % 10, ok ? "wrote " : "the snapshot could not be written", ok ? path : "");
  }
  busy.store(false);
}
}  // namespace hs
