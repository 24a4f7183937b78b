// gperftools_reader.cpp -- gperftools heap profiles (HEAPPROFILE=prefix, and
// tcmalloc's sampled heap "heap_v2/RATE") into a Profile.
//
// Format (text):
//   heap profile:   18:  30608 [    30:  31628] @ heapprofile      (or @ heap_v2/524288)
//        3:  12288 [     3:  12288] @ 0x55ce6816826b 0x55ce681682f3 ...
//   ...
//   MAPPED_LIBRARIES:
//   <a copy of /proc/self/maps>
// Each stack line is "inuse_count: inuse_bytes [alloc_count: alloc_bytes] @
// pcs", pcs innermost first and starting at the allocation site's return
// address (gperftools drops its own frames). "@ heapprofile" (HEAPPROFILE)
// records every allocation; "heap_v2/R" is sampled once per R bytes on
// average and unsampled here exactly as pprof does (foreign::unsample, each
// pair scaled by its own average size); the old "heap/R" means R/2, as in
// pprof. The header's totals are kept in meta; totals are the sites' sums.
//
// Safety: strict: any malformed line is a FormatError "FILE: line N: what";
// counts must fit int64 and be non-negative; rate 0 is refused; at most
// foreign::kMaxFrames frames per stack; memory proportional to the input; no
// recursion.
#include <string>

#include "reader/foreign_text.h"
#include "reader/reader.h"

namespace heapscope {

using namespace foreign;

Profile read_gperftools(std::string_view data, const std::string& path) {
  Profile p;
  p.path = path;
  p.format = "gperftools";
  p.trigger = "unknown";
  Lines lines(data, path);
  std::string_view line;
  if (!lines.next(line)) throw FormatError(path + ": empty file, expected a gperftools heap profile");

  // Header.
  uint64_t rate = 1;
  {
    Cursor c{line, 0, lines};
    if (!c.eat_word("heap profile:"))
      lines.fail("expected a gperftools header 'heap profile: N: B [N: B] @ heapprofile'");
    int64_t n = c.count("header in-use count");
    c.expect(':', "after the header in-use count");
    int64_t b = c.count("header in-use bytes");
    c.expect('[', "before the header allocation figures");
    int64_t an = c.count("header allocation count");
    c.expect(':', "after the header allocation count");
    int64_t ab = c.count("header allocation bytes");
    c.expect(']', "after the header allocation figures");
    c.expect('@', "before the profile kind");
    std::string_view kind = c.rest();
    std::string_view name = kind.substr(0, kind.find('/'));
    std::string_view arg = kind.find('/') == std::string_view::npos ? std::string_view() : kind.substr(kind.find('/') + 1);
    if (name == "heapprofile") {
      if (!arg.empty()) lines.fail("unexpected '/" + std::string(arg.substr(0, 40)) + "' after heapprofile");
      rate = 1;
    } else if (name == "heap_v2" || name == "heapz_v2" || name == "heap") {
      rate = parse_rate(arg, lines, "sampling rate after heap_v2/");
      if (name == "heap") rate /= 2;
      if (rate == 0)
        lines.fail("sampling rate 0 in '" + std::string(kind.substr(0, 40)) +
                   "' (expected at least 1 byte between samples)");
    } else {
      lines.fail("unsupported profile kind '" + std::string(kind.substr(0, 40)) +
                 "' (expected heapprofile or heap_v2/RATE)");
    }
    p.meta["header_totals"] = std::to_string(n) + ": " + std::to_string(b) + " [" + std::to_string(an) + ": " +
                              std::to_string(ab) + "]";
    p.meta["profile_kind"] = std::string(kind);
  }
  p.sampled = rate > 1;
  p.sample_period = p.sampled ? rate : 0;

  // Stacks, until the maps.
  bool maps = false;
  while (lines.next(line)) {
    Cursor c{line, 0, lines};
    if (c.at_end() || line[c.pos] == '#') continue;
    std::string_view t = line.substr(c.pos);
    if (t.rfind("MAPPED_LIBRARIES:", 0) == 0 || t.rfind("--- Memory map:", 0) == 0) {
      maps = true;
      break;
    }
    if (p.sites.size() >= kMaxSites)
      lines.fail("more than " + std::to_string(kMaxSites) + " stacks (expected a heap profile, not a log)");
    Site s;
    s.counts.inuse_count = c.count("in-use count");
    c.expect(':', "after the in-use count");
    s.counts.inuse_bytes = c.count("in-use bytes");
    c.expect('[', "before the allocation figures");
    s.counts.alloc_count = c.count("allocation count");
    c.expect(':', "after the allocation count");
    s.counts.alloc_bytes = c.count("allocation bytes");
    c.expect(']', "after the allocation figures");
    c.expect('@', "before the stack");
    while (!c.at_end()) {
      if (s.pcs.size() >= kMaxFrames)
        lines.fail("stack has more than " + std::to_string(kMaxFrames) + " frames");
      s.pcs.push_back(c.hex("return address"));
    }
    check_pair(s.counts.inuse_count, s.counts.inuse_bytes, lines, "in-use figures");
    check_pair(s.counts.alloc_count, s.counts.alloc_bytes, lines, "allocation figures");
    unsample(s.counts.inuse_count, s.counts.inuse_bytes, rate, lines);
    unsample(s.counts.alloc_count, s.counts.alloc_bytes, rate, lines);
    p.sites.push_back(std::move(s));
  }
  if (maps) parse_maps(lines, p);
  sum_totals(p);
  set_time_from_file(p);
  // HEAPPROFILE names its dumps PREFIX.NNNN.heap.
  auto dot = path.rfind(".heap");
  if (dot != std::string::npos && dot >= 5 && dot + 5 == path.size()) {
    std::string seq = path.substr(dot - 4, 4);
    if (path[dot - 5] == '.' && seq.find_first_not_of("0123456789") == std::string::npos)
      p.seq = std::stoull(seq);
  }
  return p;
}

}  // namespace heapscope
