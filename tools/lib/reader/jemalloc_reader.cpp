// jemalloc_reader.cpp -- jemalloc heap profile dumps (MALLOC_CONF=prof:true;
// files named PREFIX.PID.SEQ.{f,i,m,u}N.heap) into a Profile.
//
// Format (text, jemalloc's prof_dump):
//   heap_v2/524288                      1 sample per 2^lg_prof_sample bytes on average
//     t*: 28106: 56637512 [0: 0]        process totals
//     t3: 352: 16777344 [0: 0]          per-thread totals (optional thread name after ']')
//   @ 0x7fd6deca2630 0x7fd6deca2d21 ... one stack, innermost first
//     t*: 13: 6688 [0: 0]               the stack's figures over all threads
//     t3: 12: 6496 [0: 0]               ... and per thread
//   MAPPED_LIBRARIES:
//   <a copy of /proc/self/maps>
// Figures are "inuse_count: inuse_bytes [alloc_count: alloc_bytes]" (the
// allocation pair is 0 unless prof_accum). Only each stack's t* line is used:
// the tN lines split the same allocations by thread, and adding them to t*
// would count everything twice. Sampled figures (rate > 1) are unsampled as
// pprof does (foreign::unsample); heap_v2/1 (lg_prof_sample:0) is exact.
// jemalloc's stacks begin inside jemalloc (prof_backtrace, malloc...); the
// reader drops the leading frames that lie in a libjemalloc module of the
// maps, so stacks start at the allocation site's return address, as
// gperftools' and heapscope's own do (meta "allocator_frames_dropped").
//
// Safety: strict: malformed lines, a stack without (or with two) t* lines,
// counts beyond int64, a rate that is 0 or not a power of two: FormatError
// "FILE: line N: what"; at most foreign::kMaxFrames frames per stack; memory
// proportional to the input; no recursion.
#include <string>

#include "reader/foreign_text.h"
#include "reader/reader.h"

namespace heapscope {

using namespace foreign;

namespace {

struct Figures {
  bool total = false;  // "t*"
  Counts counts;
};

// "  t*: N: B [N: B]" or "  tN: N: B [N: B] [thread name]".
Figures parse_thread_line(Cursor& c, const Lines& lines) {
  Figures f;
  c.expect('t', "(a 't*:' or 'tN:' figures line)");
  if (c.pos < c.s.size() && c.s[c.pos] == '*') {
    ++c.pos;
    f.total = true;
  } else {
    c.count("thread id");
  }
  c.expect(':', "after the thread");
  f.counts.inuse_count = c.count("in-use count");
  c.expect(':', "after the in-use count");
  f.counts.inuse_bytes = c.count("in-use bytes");
  c.expect('[', "before the allocation figures");
  f.counts.alloc_count = c.count("allocation count");
  c.expect(':', "after the allocation count");
  f.counts.alloc_bytes = c.count("allocation bytes");
  c.expect(']', "after the allocation figures");
  if (f.total && !c.at_end()) lines.fail("unexpected text after the t* figures");
  // A thread line may end with the thread's name; ignored.
  check_pair(f.counts.inuse_count, f.counts.inuse_bytes, lines, "in-use figures");
  check_pair(f.counts.alloc_count, f.counts.alloc_bytes, lines, "allocation figures");
  return f;
}

void parse_name(Profile& p) {
  // PREFIX.PID.SEQ.KIND.heap with KIND f (final, at exit), iN (interval),
  // mN (mallctl prof.dump), uN (gdump).
  std::string base = p.path.substr(p.path.rfind('/') == std::string::npos ? 0 : p.path.rfind('/') + 1);
  if (base.size() < 5 || base.compare(base.size() - 5, 5, ".heap") != 0) return;
  std::vector<std::string> parts;
  size_t start = 0;
  std::string stem = base.substr(0, base.size() - 5);
  for (size_t i = 0; i <= stem.size(); ++i)
    if (i == stem.size() || stem[i] == '.') {
      parts.push_back(stem.substr(start, i - start));
      start = i + 1;
    }
  if (parts.size() < 4) return;
  const std::string& pid = parts[parts.size() - 3];
  const std::string& seq = parts[parts.size() - 2];
  const std::string& kind = parts.back();
  auto digits = [](const std::string& s) {
    return !s.empty() && s.size() < 19 && s.find_first_not_of("0123456789") == std::string::npos;
  };
  if (!digits(pid) || !digits(seq) || kind.empty()) return;
  p.pid = std::stoull(pid);
  p.seq = std::stoull(seq);
  switch (kind[0]) {
    case 'f': p.trigger = "exit"; break;
    case 'i': p.trigger = "interval"; break;
    case 'm': p.trigger = "api"; break;
    case 'u': p.trigger = "alert"; break;
    default: break;
  }
}

void drop_allocator_frames(Profile& p) {
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (const Module& m : p.modules) {
    std::string base = m.path.substr(m.path.rfind('/') + 1);
    if (base.rfind("libjemalloc", 0) == 0)
      for (const Range& r : m.ranges) ranges.emplace_back(r.start, r.end);
  }
  if (ranges.empty()) return;
  auto inside = [&](uint64_t pc) {
    for (const auto& [lo, hi] : ranges)
      if (pc >= lo && pc < hi) return true;
    return false;
  };
  uint64_t dropped = 0;
  for (Site& s : p.sites) {
    size_t n = 0;
    while (n < s.pcs.size() && inside(s.pcs[n])) ++n;
    if (n == 0) continue;
    s.pcs.erase(s.pcs.begin(), s.pcs.begin() + static_cast<std::ptrdiff_t>(n));
    dropped += n;
  }
  p.meta["allocator_frames_dropped"] = std::to_string(dropped);
}

}  // namespace

Profile read_jemalloc(std::string_view data, const std::string& path) {
  Profile p;
  p.path = path;
  p.format = "jemalloc";
  p.trigger = "unknown";
  Lines lines(data, path);
  std::string_view line;
  if (!lines.next(line)) throw FormatError(path + ": empty file, expected a jemalloc heap profile");
  uint64_t rate;
  {
    Cursor c{line, 0, lines};
    if (!c.eat_word("heap_v2/")) lines.fail("expected a jemalloc header 'heap_v2/RATE'");
    rate = parse_rate(c.rest(), lines, "sampling rate after heap_v2/");
    if (rate == 0 || (rate & (rate - 1)) != 0)
      lines.fail("sampling rate " + std::to_string(rate) +
                 " (expected 2^lg_prof_sample: a power of two, at least 1)");
  }
  p.sampled = rate > 1;
  p.sample_period = p.sampled ? rate : 0;

  bool maps = false, in_stack = false, have_total = false;
  Site cur;
  auto finish_stack = [&]() {
    if (!in_stack) return;
    if (!have_total) lines.fail("stack has no 't*:' figures line before this line");
    unsample(cur.counts.inuse_count, cur.counts.inuse_bytes, rate, lines);
    unsample(cur.counts.alloc_count, cur.counts.alloc_bytes, rate, lines);
    p.sites.push_back(std::move(cur));
    cur = Site{};
    in_stack = false;
    have_total = false;
  };
  bool seen_header_total = false;
  while (lines.next(line)) {
    Cursor c{line, 0, lines};
    if (c.at_end()) continue;
    std::string_view t = line.substr(c.pos);
    if (t.rfind("MAPPED_LIBRARIES:", 0) == 0) {
      finish_stack();
      maps = true;
      break;
    }
    if (t[0] == '@') {
      finish_stack();
      if (p.sites.size() >= kMaxSites)
        lines.fail("more than " + std::to_string(kMaxSites) + " stacks (expected a heap profile, not a log)");
      ++c.pos;
      in_stack = true;
      while (!c.at_end()) {
        if (cur.pcs.size() >= kMaxFrames) lines.fail("stack has more than " + std::to_string(kMaxFrames) + " frames");
        cur.pcs.push_back(c.hex("return address"));
      }
      continue;
    }
    if (t[0] != 't') lines.fail("expected '@ 0x...' (a stack) or '  t*: ...' / '  tN: ...' (figures)");
    Figures f = parse_thread_line(c, lines);
    if (!in_stack) {
      // The process-wide and per-thread totals before the first stack.
      if (f.total) {
        if (seen_header_total) lines.fail("a second 't*:' totals line before the first stack");
        seen_header_total = true;
        p.meta["header_totals"] = std::to_string(f.counts.inuse_count) + ": " +
                                  std::to_string(f.counts.inuse_bytes) + " [" +
                                  std::to_string(f.counts.alloc_count) + ": " +
                                  std::to_string(f.counts.alloc_bytes) + "]";
      }
      continue;
    }
    if (f.total) {
      if (have_total) lines.fail("a second 't*:' line for the same stack");
      have_total = true;
      cur.counts = f.counts;
    } else if (!have_total) {
      lines.fail("per-thread figures before the stack's 't*:' line");
    }
    // tN lines: already inside t*; never added.
  }
  finish_stack();
  if (maps) parse_maps(lines, p);
  drop_allocator_frames(p);
  sum_totals(p);
  set_time_from_file(p);
  parse_name(p);
  return p;
}

}  // namespace heapscope
