// cmd_export.cpp -- `heapscope export SNAP [--base SNAP] --format F -o FILE`.
//
// Owns: the export subcommand: reads the profile(s) (any format read_profile
// knows: hsnap, gperftools, jemalloc), symbolizes them offline, renders pprof,
// collapsed, speedscope, svg or heapprofile (Chrome DevTools), and writes FILE: a regular file (or a new one)
// atomically (util/file.h's write_file_atomic: a temporary file in the same
// directory, mode 0600, then rename), so no
// half-written file is left; a character device or fifo (/dev/null, a pipe)
// is opened and written in place, never replaced; a symlink is followed and
// its target handled by the same rules; a directory is refused.
// Errors: CommandError / FormatError naming the file and what is wrong.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "analyze/sites.h"
#include "model/strings.h"
#include "cmd/commands.h"
#include "reader/reader.h"
#include "render/collapsed.h"
#include "render/flame_svg.h"
#include "render/heapprofile.h"
#include "render/pprof.h"
#include "render/speedscope.h"
#include "render/stacks.h"
#include "render/text.h"
#include "symbolize/symbolizer.h"
#include "util/file.h"

namespace heapscope {
namespace {

const char* const kFormats = "pprof, collapsed, speedscope, svg, heapprofile";

struct ExportOptions {
  std::string snap;
  std::string base;
  std::string format;
  std::string output;
  bool all_frames = false;
  std::vector<std::string> alloc_fns;
};

void write_all(int fd, const std::string& path, const std::string& bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int e = n < 0 ? errno : EIO;
      close(fd);
      throw CommandError(path + ": write failed: " + std::strerror(e));
    }
    done += static_cast<size_t>(n);
  }
}

// A character device or fifo: written in place (replacing it would turn
// /dev/null into a regular file).
void write_in_place(const std::string& path, const std::string& bytes) {
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) throw CommandError(path + ": cannot open for writing: " + std::strerror(errno));
  write_all(fd, path, bytes);
  if (close(fd) != 0) throw CommandError(path + ": write failed: " + std::strerror(errno));
}

// A regular file or a new one: write_file_atomic (0600, temporary + rename).
void write_atomically(const std::string& path, const std::string& bytes) {
  try {
    write_file_atomic(path, bytes);
  } catch (const FileWriteError& e) {
    throw CommandError(e.what());
  }
}

// Writes the output by what -o names: missing or a regular file -> atomic
// replace; character device or fifo -> in place; symlink -> its resolved
// target by these same rules (the link itself stays); anything else refused.
void write_output(const std::string& path, const std::string& bytes) {
  struct stat st{};
  if (lstat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) throw CommandError(path + ": cannot inspect: " + std::strerror(errno));
    write_atomically(path, bytes);
    return;
  }
  std::string target = path;
  if (S_ISLNK(st.st_mode)) {
    char* real = realpath(path.c_str(), nullptr);
    if (!real) {
      if (errno != ENOENT)
        throw CommandError(path + ": cannot resolve symlink: " + std::strerror(errno));
      throw CommandError(path + ": is a dangling symlink (expected a file, a device, a fifo or a "
                                "link to one)");
    }
    target = real;
    std::free(real);
    if (stat(target.c_str(), &st) != 0)
      throw CommandError(path + ": cannot inspect " + target + ": " + std::strerror(errno));
  }
  if (S_ISREG(st.st_mode))
    write_atomically(target, bytes);
  else if (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode))
    write_in_place(target, bytes);
  else if (S_ISDIR(st.st_mode))
    throw CommandError(path + ": is a directory (expected a file to write)");
  else
    throw CommandError(path + ": not a regular file, character device or fifo (expected a file to "
                              "write)");
}

void note_problems(const Symbolizer& sym) {
  for (const auto& p : sym.problems()) std::fprintf(stderr, "heapscope: note: %s\n", p.c_str());
}

void run_export(const ExportOptions& o) {
  if (o.format.empty())
    throw CommandError(std::string("export: --format is required: one of ") + kFormats +
                           "; see `heapscope export --help`",
                       2);
  if (o.output.empty())
    throw CommandError("export: -o FILE is required: the file to write ('-' for standard output); "
                       "see `heapscope export --help`",
                       2);
  if (o.format != "pprof" && o.format != "collapsed" && o.format != "speedscope" && o.format != "svg" &&
      o.format != "heapprofile")
    throw CommandError("export: unknown --format '" + o.format + "'; expected one of " + kFormats, 2);
  if (o.all_frames && o.format != "pprof")
    throw CommandError("export: --all-frames applies to --format pprof only (the flame graph "
                       "formats always keep every frame)",
                       2);
  AllocFns alloc_fns = parse_alloc_fns(o.alloc_fns);
  Profile now = read_profile(o.snap);
  Symbolizer now_sym(now);
  ExportInput now_in{&now, symbolizer_lookup(now_sym)};
  std::unique_ptr<Profile> base;
  std::unique_ptr<Symbolizer> base_sym;
  ExportInput base_in;
  if (!o.base.empty()) {
    base = std::make_unique<Profile>(read_profile(o.base));
    base_sym = std::make_unique<Symbolizer>(*base);
    base_in = ExportInput{base.get(), symbolizer_lookup(*base_sym)};
  }
  const ExportInput* base_ptr = base ? &base_in : nullptr;
  if (now.sampled)
    std::fprintf(stderr, "heapscope: note: %s is sampled (every %llu bytes on average); figures are estimates\n",
                 o.snap.c_str(), static_cast<unsigned long long>(now.sample_period));

  std::string bytes;
  if (o.format == "pprof") {
    // Origins as report/diff/trend choose them: wrappers detected across
    // both profiles (the symbolizers' caches are shared with the export).
    SymbolizedProfile now_sp = symbolize_profile(now, now_sym, false);
    SymbolizedProfile base_sp;
    std::vector<SymbolizedProfile*> all = {&now_sp};
    if (base) {
      base_sp = symbolize_profile(*base, *base_sym, false);
      all.push_back(&base_sp);
    }
    apply_wrappers(all, alloc_fns);
    WrapperSet wrappers(now_sp.wrappers, alloc_fns);
    std::string line = wrappers_line(now_sp.wrappers);
    if (!line.empty()) std::fprintf(stderr, "heapscope: note: %s", line.c_str());
    PprofOptions po;
    po.all_frames = o.all_frames;
    po.wrappers = &wrappers;
    bytes = render_pprof(now_in, base_ptr, po);
  } else {
    // .heapprofile nodes carry lines: two call sites of one function stay apart.
    FoldBy by = o.format == "heapprofile" ? FoldBy::location : FoldBy::name;
    FlameData data = fold_flame(now_in, base_ptr, by);
    std::string title = base ? "from " + o.base + " to " + o.snap : o.snap;
    if (o.format == "heapprofile")
      bytes = render_heapprofile(data);
    else if (o.format == "collapsed")
      bytes = render_collapsed(data);
    else if (o.format == "speedscope")
      bytes = render_speedscope(data, title);
    else
      bytes = render_flame_svg(data, title);
    if (base && data.shrunk < 0)
      std::fprintf(stderr, "heapscope: note: %lld bytes of shrinking stacks are not drawn (use pprof for signed deltas)\n",
                   static_cast<long long>(-data.shrunk));
  }
  note_problems(now_sym);
  if (base_sym) note_problems(*base_sym);
  if (o.output == "-") {
    if (std::fwrite(bytes.data(), 1, bytes.size(), stdout) != bytes.size() || std::fflush(stdout) != 0)
      throw CommandError("standard output: write failed: " + std::string(std::strerror(errno)));
    return;
  }
  write_output(o.output, bytes);
  if (o.format == "heapprofile" && !ends_with(o.output, ".heapprofile"))
    std::fprintf(stderr, "heapscope: note: %s: DevTools' Memory panel loads a heap profile only from a file "
                 "named *.heapprofile (speedscope too detects it by content)\n", o.output.c_str());
  std::fprintf(stderr, "heapscope: wrote %s (%s, %zu bytes)\n", o.output.c_str(), o.format.c_str(), bytes.size());
}

void add_export(CLI::App& app) {
  auto opts = std::make_shared<ExportOptions>();
  CLI::App* sub = app.add_subcommand(
      "export",
      "Write a snapshot (or the growth since --base) for other tools: pprof (gzipped profile.proto for\n"
      "go tool pprof, Pyroscope, Parca; fully symbolized), collapsed stacks (flamegraph.pl), speedscope\n"
      "JSON, a self-contained interactive SVG flame graph, or a Chrome DevTools heap profile\n"
      "(heapprofile: name it *.heapprofile and Load it in DevTools' Memory panel, or open it in\n"
      "speedscope). Reads heapscope, gperftools and jemalloc\n"
      "heap profiles. In pprof, each sample's stack starts at its origin (your code's frame) and is\n"
      "labelled origin and container (go tool pprof -tags, -tagfocus=container=...). Flame\n"
      "formats weigh stacks by live bytes; with --base, by growth (stacks that\n"
      "shrank are left out; pprof keeps signed deltas).");
  sub->add_option("SNAP", opts->snap, "snapshot or heap profile to export")->required();
  sub->add_option("--base", opts->base, "earlier snapshot: export NEW minus BASE per symbolized stack");
  sub->add_option("--format", opts->format, std::string("output format (required): ") + kFormats);
  sub->add_option("-o,--output", opts->output,
                  "file to write (required; replaced atomically; - for standard output)");
  sub->add_flag("--all-frames,--keep-std-frames", opts->all_frames,
                "pprof: keep every frame. By default each sample's stack starts at its origin "
                "(the first frame of your code, allocation wrappers skipped) and the allocator, "
                "operator new and std:: template frames below it are dropped, so `go tool pprof "
                "-top` names your functions; samples are labelled origin and container either way");
  add_alloc_fn_option(sub, opts->alloc_fns);
  sub->callback([opts] { run_export(*opts); });
}

HEAPSCOPE_COMMAND(60, "export", add_export);

}  // namespace
}  // namespace heapscope
