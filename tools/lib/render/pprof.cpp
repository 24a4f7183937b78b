// pprof.cpp -- heapscope Profile -> pprof profile.proto (see pprof.h).
// Safety: memory is proportional to the profile (sites, distinct pcs,
// distinct functions, modules); no recursion; counts saturate.
#include "render/pprof.h"

#include <zlib.h>

#include <map>
#include <stdexcept>
#include <tuple>
#include <unordered_map>

#include "analyze/origin.h"
#include "profile.pb.h"
#include "render/text.h"

namespace heapscope {

namespace pb = perftools::profiles;

namespace {

class Builder {
 public:
  Builder() { str(""); }

  int64_t str(const std::string& s) {
    auto [it, inserted] = strings_.try_emplace(s, static_cast<int64_t>(strings_.size()));
    if (inserted) out.add_string_table(s);
    return it->second;
  }

  // Adds the mappings of one profile's modules (main module first) and
  // returns the index of this profile's mapping table.
  size_t add_mappings(const Profile& p) {
    MappingTable table;
    std::vector<const Module*> order;
    for (const auto& m : p.modules)
      if (m.main) order.push_back(&m);
    for (const auto& m : p.modules)
      if (!m.main) order.push_back(&m);
    for (const Module* m : order) {
      // Code lives in the executable ranges; keep only those when the
      // module says which they are (return addresses never point elsewhere).
      bool any_exec = false;
      for (const auto& r : m->ranges) any_exec = any_exec || (r.flags & 1);
      for (const auto& r : m->ranges) {
        if (r.end <= r.start || (any_exec && !(r.flags & 1))) continue;
        std::string dedupe = m->path + '\0' + m->build_id + '\0' + std::to_string(r.start) + '\0' +
                             std::to_string(r.end);
        uint64_t id;
        auto found = mapping_ids_.find(dedupe);
        if (found != mapping_ids_.end()) {
          id = found->second;
        } else {
          pb::Mapping* mp = out.add_mapping();
          id = static_cast<uint64_t>(out.mapping_size());
          mp->set_id(id);
          mp->set_memory_start(r.start);
          mp->set_memory_limit(r.end);
          mp->set_file_offset(r.file_offset);
          mp->set_filename(str(m->path));
          mp->set_build_id(str(m->build_id));
          mp->set_has_functions(true);
          mp->set_has_filenames(true);
          mp->set_has_line_numbers(true);
          mp->set_has_inline_frames(true);
          mapping_ids_.emplace(dedupe, id);
        }
        table.emplace(r.start, std::make_pair(r.end, id));
      }
    }
    tables_.push_back(std::move(table));
    return tables_.size() - 1;
  }

  // The location of pc with its first `skip` lines (the frames inlined
  // below the origin) left out.
  uint64_t location(size_t table, const ExportInput& in, uint64_t pc, size_t skip = 0) {
    auto key = std::make_tuple(table, pc, skip);
    auto found = locations_.find(key);
    if (found != locations_.end()) return found->second;
    pb::Location* loc = out.add_location();
    uint64_t id = static_cast<uint64_t>(out.location_size());
    loc->set_id(id);
    loc->set_address(pc);
    loc->set_mapping_id(mapping_for(table, pc));
    const std::vector<Frame>& frames = in.lookup(pc);
    for (size_t i = skip; i < frames.size(); ++i) {  // innermost first, as pprof wants
      pb::Line* line = loc->add_line();
      line->set_function_id(function(frames[i]));
      line->set_line(frames[i].line);
    }
    locations_.emplace(key, id);
    return id;
  }

  pb::Profile out;

 private:
  using MappingTable = std::map<uint64_t, std::pair<uint64_t, uint64_t>>;  // start -> (end, id)

  uint64_t mapping_for(size_t table, uint64_t pc) const {
    const MappingTable& t = tables_[table];
    auto it = t.upper_bound(pc);
    if (it == t.begin()) return 0;
    --it;
    return pc < it->second.first ? it->second.second : 0;
  }

  uint64_t function(const Frame& f) {
    std::string key = f.function + '\0' + f.file;
    auto found = functions_.find(key);
    if (found != functions_.end()) return found->second;
    pb::Function* fn = out.add_function();
    uint64_t id = static_cast<uint64_t>(out.function_size());
    fn->set_id(id);
    fn->set_name(str(f.function));
    // The linkage name pprof's -symbolize/-demangle=none show; the display
    // name when the symbolizer found none.
    fn->set_system_name(str(f.mangled.empty() ? f.function : f.mangled));
    fn->set_filename(str(f.file));
    functions_.emplace(std::move(key), id);
    return id;
  }

  std::unordered_map<std::string, int64_t> strings_;
  std::unordered_map<std::string, uint64_t> mapping_ids_;
  std::vector<MappingTable> tables_;
  std::map<std::tuple<size_t, uint64_t, size_t>, uint64_t> locations_;
  std::unordered_map<std::string, uint64_t> functions_;
};

struct Values {
  int64_t v[4] = {0, 0, 0, 0};  // alloc_objects, alloc_space, inuse_objects, inuse_space
};

Values values_of(const Counts& c) {
  Values v;
  v.v[0] = c.alloc_count;
  v.v[1] = c.alloc_bytes;
  v.v[2] = c.inuse_count;
  v.v[3] = c.inuse_bytes;
  return v;
}

// Where one sample's stack starts, and its labels.
struct Cut {
  size_t pc = 0;    // index into the site's pcs of the first kept location
  size_t line = 0;  // lines of that pc's location left out
  std::string origin, container;
};

// Per-frame facts of one pc's frames, computed once per pc and input.
struct PcFacts {
  std::vector<char> system, skip, runtime;
  std::vector<std::string> container;
};

class Cutter {
 public:
  explicit Cutter(const PprofOptions& o) : options_(o) {}

  Cut cut(const ExportInput& in, const std::vector<uint64_t>& pcs) {
    // The site's frames, flattened innermost first, as (pc index, line).
    std::vector<std::pair<size_t, size_t>> at;
    std::vector<const PcFacts*> facts;
    for (size_t p = 0; p < pcs.size(); ++p) {
      const PcFacts& f = facts_of(in, pcs[p]);
      facts.push_back(&f);
      for (size_t j = 0; j < f.system.size(); ++j) at.emplace_back(p, j);
    }
    auto fact = [&](size_t i) -> const PcFacts& { return *facts[at[i].first]; };
    int origin = origin_index(
        at.size(), [&](size_t i) { return fact(i).system[at[i].second] != 0; },
        [&](size_t i) { return fact(i).skip[at[i].second] != 0; });
    Cut c;
    size_t end = origin < 0 ? at.size() : size_t(origin);
    for (size_t i = 0; i < end; ++i)
      if (!fact(i).container[at[i].second].empty()) c.container = fact(i).container[at[i].second];
    if (origin >= 0) {
      const Frame& f = in.lookup(pcs[at[origin].first])[at[origin].second];
      c.origin = short_function(f.function) + " " + frame_location(f);
    }
    int leaf = origin;
    for (size_t i = 0; leaf < 0 && i < at.size(); ++i)  // else the library that allocated
      if (!fact(i).runtime[at[i].second]) leaf = int(i);
    if (leaf > 0 && !options_.all_frames) std::tie(c.pc, c.line) = at[leaf];
    return c;
  }

 private:
  const PcFacts& facts_of(const ExportInput& in, uint64_t pc) {
    auto [it, inserted] = cache_.try_emplace(std::make_pair(&in, pc));
    if (!inserted) return it->second;
    PcFacts& f = it->second;
    for (const Frame& fr : in.lookup(pc)) {
      f.system.push_back(is_system_frame(fr));
      f.runtime.push_back(is_runtime_frame(fr));
      f.skip.push_back(options_.wrappers && options_.wrappers->skips(fr));
      f.container.push_back(container_of_function(fr.function));
    }
    return f;
  }
  const PprofOptions& options_;
  std::map<std::pair<const ExportInput*, uint64_t>, PcFacts> cache_;
};

void add_sample(Builder& b, size_t table, const ExportInput& in, const std::vector<uint64_t>& pcs,
                const Values& v, const Cut& cut, bool mapped) {
  pb::Sample* s = b.out.add_sample();
  for (size_t p = cut.pc; p < pcs.size(); ++p)
    s->add_location_id(b.location(table, in, pcs[p], p == cut.pc ? cut.line : 0));
  for (int64_t x : v.v) s->add_value(x);
  for (const auto& [key, value] : {std::make_pair("origin", &cut.origin),
                                   std::make_pair("container", &cut.container)}) {
    if (value->empty()) continue;
    pb::Label* l = s->add_label();
    l->set_key(b.str(key));
    l->set_str(b.str(*value));
  }
  if (mapped) {  // HEAPSCOPE_MMAP: the program's own mmap, not heap (-tagignore=kind=mapped for the heap alone)
    pb::Label* l = s->add_label();
    l->set_key(b.str("kind"));
    l->set_str(b.str("mapped"));
  }
}

// drop_frames for pprof: the allocation entry points (origin.h), in pprof's
// syntax (RE2, matched whole against the name without arguments).
std::string drop_frames_regex() {
  std::string re = "(__GI_|__libc_)?_*(";
  for (size_t i = 0; i < alloc_entry_names().size(); ++i) re += (i ? "|" : "") + alloc_entry_names()[i];
  return re + R"()|operator new(\[\])?)";
}

}  // namespace

std::string pprof_message(const ExportInput& now, const ExportInput* base,
                          const PprofOptions& options) {
  Builder b;
  const Profile& p = *now.profile;
  const char* types[4][2] = {{"alloc_objects", "count"},
                             {"alloc_space", "bytes"},
                             {"inuse_objects", "count"},
                             {"inuse_space", "bytes"}};
  for (auto& t : types) {
    pb::ValueType* vt = b.out.add_sample_type();
    vt->set_type(b.str(t[0]));
    vt->set_unit(b.str(t[1]));
  }
  b.out.set_default_sample_type(b.str(options.default_sample_type));
  // period: mean bytes between samples; 1 when every allocation was recorded
  // (as pprof's own reading of an unsampled heap profile). Set in both cases
  // because Parca and Pyroscope name profile types with the period type.
  b.out.mutable_period_type()->set_type(b.str("space"));
  b.out.mutable_period_type()->set_unit(b.str("bytes"));
  b.out.set_period(p.sampled && p.sample_period > 0
                       ? static_cast<int64_t>(std::min<uint64_t>(p.sample_period, INT64_MAX))
                       : 1);
  if (p.time_unix_ns > 0)
    b.out.set_time_nanos(static_cast<int64_t>(std::min<uint64_t>(p.time_unix_ns, INT64_MAX)));
  if (options.duration_nanos > 0) b.out.set_duration_nanos(options.duration_nanos);
  b.out.add_comment(b.str("heapscope export of " + p.path + " (" + p.format + ")"));
  if (p.sampled)
    b.out.add_comment(b.str("sampled every " + std::to_string(p.sample_period) +
                            " bytes on average; figures are unbiased estimates"));

  if (!options.all_frames) {
    b.out.set_drop_frames(b.str(drop_frames_regex()));
    b.out.add_comment(b.str("each stack starts at its origin, the program's own frame; frames below "
                            "it (allocator, std:: templates, allocation wrappers) are dropped"));
  }
  Cutter cutter(options);
  size_t now_table = b.add_mappings(p);
  if (!base) {
    for (const auto& site : p.sites)
      add_sample(b, now_table, now, site.pcs, values_of(site.counts), cutter.cut(now, site.pcs), site.mapped);
    return b.out.SerializeAsString();
  }

  // Differential: NEW minus BASE per symbolized stack, in NEW's file order,
  // then the stacks only BASE has (drawn with BASE's addresses and mappings).
  b.out.add_comment(b.str("differential: " + p.path + " minus " + base->profile->path));
  size_t base_table = b.add_mappings(*base->profile);
  struct Entry {
    const ExportInput* in;
    size_t table;
    const std::vector<uint64_t>* pcs;
    Values v;
    bool mapped;
  };
  std::vector<Entry> entries;
  std::unordered_map<std::string, size_t> index;
  auto fold = [&](const ExportInput& in, size_t table, bool negate) {
    for (const auto& site : in.profile->sites) {
      std::string key = stack_key(expand_stack(in, site.pcs)) + (site.mapped ? "\n[mapped]" : "");
      auto [it, inserted] = index.try_emplace(key, entries.size());
      if (inserted) entries.push_back({&in, table, &site.pcs, Values{}, site.mapped});
      Values add = values_of(site.counts);
      Values& v = entries[it->second].v;
      for (int i = 0; i < 4; ++i) v.v[i] = negate ? sat_sub(v.v[i], add.v[i]) : sat_add(v.v[i], add.v[i]);
    }
  };
  fold(now, now_table, false);
  fold(*base, base_table, true);
  for (const auto& e : entries) {
    bool zero = true;
    for (int64_t x : e.v.v) zero = zero && x == 0;
    if (!zero) add_sample(b, e.table, *e.in, *e.pcs, e.v, cutter.cut(*e.in, *e.pcs), e.mapped);
  }
  return b.out.SerializeAsString();
}

std::string gzip_bytes(const std::string& bytes) {
  z_stream zs{};
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    throw std::runtime_error("zlib: deflateInit2 failed");
  std::string out;
  out.resize(deflateBound(&zs, bytes.size()) + 32);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  zs.avail_in = static_cast<uInt>(bytes.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&zs, Z_FINISH);
  size_t n = zs.total_out;
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) throw std::runtime_error("zlib: deflate did not finish");
  out.resize(n);
  return out;
}

std::string render_pprof(const ExportInput& now, const ExportInput* base,
                         const PprofOptions& options) {
  return gzip_bytes(pprof_message(now, base, options));
}

}  // namespace heapscope
