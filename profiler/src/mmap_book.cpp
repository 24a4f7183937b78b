// mmap_book.cpp -- see mmap_book.h.
#include "mmap_book.h"

#include <errno.h>
#include <string.h>

#include "arena.h"
#include "capture.h"
#include "config.h"
#include "counters.h"
#include "fork_gate.h"
#include "hsnap_format.h"
#include "sampler.h"
#include "stack_table.h"
#include "thread_state.h"

namespace hs {
namespace {
struct Range {
  uintptr_t start, end;
  uint32_t ref;
  uint32_t pad;
};
// Guarded by g_lock: the sorted, non-overlapping ranges.
Range* g_ranges = nullptr;
size_t g_count = 0, g_cap = 0;
std::atomic<uint64_t> g_published{0};  // g_count, for readers without the lock
std::atomic<uint32_t> g_lock{0};
constexpr size_t kFirstCap = 4096;        // 128 KiB
constexpr size_t kMaxCap = (size_t)1 << 22;  // 4 Mi ranges (the kernel allows 65530 VMAs by default)

// The counters of a mapped stack: bytes, and count = ranges (sampled mode
// keeps its fixed-point counts: mappings are never sampled, weight 1).
void book_in(uint32_t ref, uint64_t bytes, uint64_t ranges) {
  constexpr auto rl = std::memory_order_relaxed;
  StackRec* r = g_stacks.from_ref(ref);
  if (bytes) r->alloc_bytes.fetch_add(bytes, rl);
  if (!ranges) return;
  if (!g_cfg.sample_period) {
    r->alloc_count.fetch_add(ranges, rl);
    return;
  }
  r->alloc_count.fetch_add(ranges << kCountFpShift, rl);
  r->side->sampled_inuse.fetch_add(ranges, rl);
  r->side->sampled_alloc.fetch_add(ranges, rl);
}
void book_out(uint32_t ref, uint64_t bytes, uint64_t ranges) {
  constexpr auto rl = std::memory_order_relaxed;
  StackRec* r = g_stacks.from_ref(ref);
  if (bytes) r->free_bytes.fetch_add(bytes, rl);
  if (!ranges) return;
  if (!g_cfg.sample_period) {
    r->free_count.fetch_add(ranges, rl);
    return;
  }
  r->free_count.fetch_add(ranges << kCountFpShift, rl);
  r->side->sampled_inuse.fetch_sub(ranges, rl);
}

uintptr_t page_up(uintptr_t n) { return (n + 4095) & ~(uintptr_t)4095; }

// Under g_lock. Room for one more range (false: the book is full or mmap failed).
bool ensure_room() {
  if (g_count < g_cap) return true;
  size_t cap = g_cap ? g_cap * 2 : kFirstCap;
  if (cap > kMaxCap) return false;
  Range* n = (Range*)os_map(cap * sizeof(Range));
  if (!n) return false;
  if (g_ranges) {
    memcpy(n, g_ranges, g_count * sizeof(Range));
    os_unmap(g_ranges, g_cap * sizeof(Range));
  }
  g_ranges = n;
  g_cap = cap;
  return true;
}

// Under g_lock: the first range whose end is above a.
size_t first_ending_above(uintptr_t a) {
  size_t lo = 0, hi = g_count;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (g_ranges[mid].end <= a) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

void insert_at(size_t i, const Range& r) {
  memmove(g_ranges + i + 1, g_ranges + i, (g_count - i) * sizeof(Range));
  g_ranges[i] = r;
  ++g_count;
}
void erase_at(size_t i) {
  memmove(g_ranges + i, g_ranges + i + 1, (g_count - i - 1) * sizeof(Range));
  --g_count;
}

// Under g_lock: every tracked byte of [lo, hi) leaves the book as pieces,
// each one range in its own right (a piece cut from a range counts as a new
// range of that stack); pieces beyond MapPieces::kMax are freed on the spot.
void take_locked(uintptr_t lo, uintptr_t hi, MapPieces* out) {
  out->n = 0;
  size_t i = first_ending_above(lo);
  while (i < g_count && g_ranges[i].start < hi) {
    Range& r = g_ranges[i];
    const uintptr_t s = r.start > lo ? r.start : lo, e = r.end < hi ? r.end : hi;
    const uint32_t ref = r.ref;
    if (s == r.start && e == r.end) {
      erase_at(i);
    } else if (s > r.start && e < r.end) {  // the middle: r splits in two around the piece
      const Range right{e, r.end, ref, 0};
      r.end = s;
      if (ensure_room()) {
        insert_at(i + 1, right);
        book_in(ref, 0, 2);  // left, right and the piece, from one range
      } else {               // no room for the right part: it leaves the books
        book_out(ref, right.end - right.start, 0);
        book_in(ref, 0, 1);
        bump(g_counters.dropped_events);
      }
      i += 2;
    } else {  // one end
      if (s > r.start) r.end = s;
      else r.start = e;
      book_in(ref, 0, 1);
      ++i;
    }
    if (out->n < MapPieces::kMax) out->p[out->n++] = {s, e, ref};
    else book_out(ref, e - s, 1);
  }
  g_published.store(g_count, std::memory_order_relaxed);
}

void restore_locked(const MapPieces& m) {
  for (int k = 0; k < m.n; ++k) {
    const auto& p = m.p[k];
    size_t i = first_ending_above(p.start);
    if (!ensure_room()) {
      book_out(p.ref, p.end - p.start, 1);
      bump(g_counters.dropped_events);
      continue;
    }
    insert_at(i, Range{p.start, p.end, p.ref, 0});  // back where it was: the span is still ours
  }
  g_published.store(g_count, std::memory_order_relaxed);
}

void release_pieces(const MapPieces& m) {
  for (int k = 0; k < m.n; ++k) book_out(m.p[k].ref, m.p[k].end - m.p[k].start, 1);
}

// Under g_lock: [lo, hi) becomes one range of ref (whatever overlapped it is freed).
bool put_locked(uintptr_t lo, uintptr_t hi, uint32_t ref) {
  MapPieces gone;
  take_locked(lo, hi, &gone);
  release_pieces(gone);
  if (!ensure_room()) {
    bump(g_counters.dropped_events);
    return false;
  }
  insert_at(first_ending_above(lo), Range{lo, hi, ref, 0});
  g_published.store(g_count, std::memory_order_relaxed);
  return true;
}

struct BookLock {
  Guard guard;  // a signal handler's mmap on this thread is then forwarded, never waits here
  BookLock() { gate_lock(g_lock); }
  ~BookLock() { gate_unlock(g_lock); }
};
}  // namespace

void mapped_add(void* p, size_t len, uintptr_t ra, uintptr_t fp) {
  if (!len || !g_stacks.ready()) return;
  const int saved_errno = errno;
  StackRec* r;
  {
    Guard guard;  // the unwinder may allocate
    const uint32_t max = g_cfg.depth;
    uintptr_t buf[max + kCaptureSkip];
    const Unwinder how = g_cfg.unwinder == Unwinder::check ? Unwinder::cfi : g_cfg.unwinder;
    CaptureResult c = capture_stack(buf, max, ra, fp, how);
    if (c.depth == 0) bump(g_counters.unwind_failures);
    if (c.truncated) bump(g_counters.truncated_stacks);
    r = g_stacks.intern(c.pcs, c.depth, (c.truncated ? HS_STACK_TRUNCATED : 0) | HS_STACK_MAPPED);
  }
  const uintptr_t lo = (uintptr_t)p, hi = lo + page_up(len);
  const uint32_t ref = g_stacks.ref_of(r);
  {
    BookLock lock;
    if (put_locked(lo, hi, ref)) book_in(ref, hi - lo, 1);
  }
  errno = saved_errno;
}

void mapped_add_ref(uintptr_t q, size_t len, uint32_t ref) {
  if (!len) return;
  const uintptr_t hi = q + page_up(len);
  BookLock lock;
  if (put_locked(q, hi, ref)) book_in(ref, hi - q, 1);
}

void mapped_take(uintptr_t lo, uintptr_t hi, MapPieces* out) {
  out->n = 0;
  if (hi <= lo || g_published.load(std::memory_order_relaxed) == 0) return;  // nothing tracked: no lock
  hi = page_up(hi);
  BookLock lock;
  take_locked(lo, hi, out);
}

void mapped_restore(const MapPieces& m) {
  if (!m.n) return;
  BookLock lock;
  restore_locked(m);
}

void mapped_release(const MapPieces& m) { release_pieces(m); }

void mapped_moved(const MapPieces& m, uintptr_t q, size_t new_len, bool keep_old) {
  const uintptr_t hi = q + page_up(new_len);
  if (!m.n) {  // an untracked mapping moved: it stays untracked, but what it landed on is gone
    MapPieces gone;
    mapped_take(q, hi, &gone);
    release_pieces(gone);
    return;
  }
  const uint32_t s = m.p[0].ref;
  BookLock lock;
  if (keep_old) {  // MREMAP_DONTUNMAP: the old range stays mapped (empty) beside the new one
    restore_locked(m);
    if (put_locked(q, hi, s)) book_in(s, hi - q, 1);
    return;
  }
  uint64_t bytes = 0, ranges = 0;  // of stack s among the pieces
  for (int k = 0; k < m.n; ++k) {
    const auto& p = m.p[k];
    if (p.ref == s) bytes += p.end - p.start, ++ranges;
    else book_out(p.ref, p.end - p.start, 1);  // merged into s's range
  }
  if (!put_locked(q, hi, s)) {
    book_out(s, bytes, ranges);
    return;
  }
  // The pieces become the one new range: only the difference is booked.
  const uint64_t now = hi - q;
  if (now > bytes) book_in(s, now - bytes, 0);
  else book_out(s, bytes - now, 0);
  if (ranges > 1) book_out(s, 0, ranges - 1);
}

uint32_t mapped_ref_at(uintptr_t a) {
  if (g_published.load(std::memory_order_relaxed) == 0) return UINT32_MAX;
  BookLock lock;
  size_t i = first_ending_above(a);
  return i < g_count && g_ranges[i].start <= a ? g_ranges[i].ref : UINT32_MAX;
}

uint64_t mapped_ranges() { return g_published.load(std::memory_order_relaxed); }

void mapped_wait_unlocked() { gate_wait_free(g_lock); }
void mapped_clear_held_after_fork() { gate_clear_in_child(g_lock); }

void mapped_clear() {
  BookLock lock;
  g_count = 0;
  g_published.store(0, std::memory_order_relaxed);
}
}  // namespace hs
