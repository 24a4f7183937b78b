// target.cpp -- see target.h.
#include "inject/target.h"
#include "util/file.h"

#include <dirent.h>
#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>

namespace heapscope::inject {
namespace {

struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

bool pread_all(int fd, void* buf, size_t n, uint64_t off) {
  return pread(fd, buf, n, off_t(off)) == ssize_t(n);
}

std::string basename_of(const std::string& p) { return p.substr(p.rfind('/') + 1); }

}  // namespace

std::string target_path(pid_t pid, const std::string& path) {
  return "/proc/" + std::to_string(pid) + "/root" + path;
}

ElfFile read_elf(const std::string& path) {
  ElfFile f;
  f.path = path;
  Fd fd{open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (fd.fd < 0) throw Refusal(path + ": cannot open: " + std::strerror(errno));
  Elf64_Ehdr eh{};
  if (!pread_all(fd.fd, &eh, sizeof eh, 0) || std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0)
    throw Refusal(path + ": not an ELF file (expected an ELF executable or shared library)");
  if (eh.e_ident[EI_CLASS] != ELFCLASS64)
    throw Refusal(path + ": a 32-bit ELF file (heapscope attach supports x86-64 only)");
  f.machine = eh.e_machine;
  if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0 || eh.e_phnum > 4096)
    throw Refusal(path + ": bad program headers (e_phnum " + std::to_string(eh.e_phnum) + ")");
  bool first = true;
  for (unsigned i = 0; i < eh.e_phnum; ++i) {
    Elf64_Phdr ph{};
    if (!pread_all(fd.fd, &ph, sizeof ph, eh.e_phoff + i * sizeof ph))
      throw Refusal(path + ": truncated program header " + std::to_string(i));
    if (ph.p_type == PT_INTERP) f.has_interp = true;
    if (ph.p_type == PT_DYNAMIC) f.has_dynamic = true;
    if (ph.p_type == PT_LOAD && (ph.p_flags & PF_X) && ph.p_vaddr + ph.p_memsz > f.exec_end_vaddr)
      f.exec_end_vaddr = ph.p_vaddr + ph.p_memsz;
    if (ph.p_type == PT_LOAD && first) {
      f.first_load_vaddr = ph.p_vaddr & ~uint64_t(0xfff);
      first = false;
    }
  }
  if (eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_shnum == 0 || eh.e_shnum > 65000) return f;
  std::vector<Elf64_Shdr> sh(eh.e_shnum);
  if (!pread_all(fd.fd, sh.data(), sh.size() * sizeof(Elf64_Shdr), eh.e_shoff)) return f;
  for (const auto& s : sh) {
    if (s.sh_type != SHT_DYNSYM || s.sh_entsize != sizeof(Elf64_Sym) || s.sh_link >= sh.size()) continue;
    const Elf64_Shdr& str = sh[s.sh_link];
    if (s.sh_size > (256u << 20) || str.sh_size > (256u << 20)) throw Refusal(path + ": .dynsym too large");
    std::vector<Elf64_Sym> syms(s.sh_size / sizeof(Elf64_Sym));
    std::string strings(str.sh_size, '\0');
    if (!pread_all(fd.fd, syms.data(), syms.size() * sizeof(Elf64_Sym), s.sh_offset) ||
        !pread_all(fd.fd, strings.data(), strings.size(), str.sh_offset))
      throw Refusal(path + ": truncated .dynsym");
    for (const auto& y : syms) {
      if (y.st_shndx == SHN_UNDEF || y.st_value == 0 || y.st_name >= strings.size()) continue;
      std::string name(strings.c_str() + y.st_name);
      ElfSym e{y.st_value, y.st_size, ELF64_ST_TYPE(y.st_info) == STT_FUNC ||
                                          ELF64_ST_TYPE(y.st_info) == STT_GNU_IFUNC};
      auto it = f.syms.find(name);
      if (it == f.syms.end() || (it->second.size == 0 && e.size)) f.syms[name] = e;
    }
  }
  return f;
}

std::string ptrace_refusal(const PtracePolicyInput& in, pid_t pid) {
  std::string p = "process " + std::to_string(pid);
  if (in.yama_scope == 3)
    return p + ": ptrace is disabled on this machine (kernel.yama.ptrace_scope = 3; it can only be lowered by a "
               "reboot); start the program under `heapscope run` instead";
  if (in.yama_scope == 2 && !in.cap_sys_ptrace)
    return p + ": ptrace needs CAP_SYS_PTRACE here (kernel.yama.ptrace_scope = 2); run heapscope as root, or "
               "start the program under `heapscope run`";
  if (in.yama_scope == 1 && !in.cap_sys_ptrace)
    return p + ": ptrace of a process that is not our descendant needs CAP_SYS_PTRACE (kernel.yama.ptrace_scope "
               "= 1); run heapscope as root (sudo), or set the sysctl to 0";
  if (!in.cap_sys_ptrace) {
    for (uid_t u : in.target_uids)
      if (u != in.tool_euid)
        return p + ": owned by uid " + std::to_string(in.target_uids[0]) + " (effective " +
               std::to_string(in.target_uids[1]) + "), heapscope runs as uid " + std::to_string(in.tool_euid) +
               "; run heapscope as that user or as root";
    if (!in.target_dumpable)
      return p + ": not dumpable (setuid, or prctl(PR_SET_DUMPABLE, 0)), so ptrace needs CAP_SYS_PTRACE; run "
                 "heapscope as root";
  }
  return "";
}

uint64_t load_bias(const Process& p, const std::string& path, const ElfFile& f) {
  for (const auto& m : p.maps)
    if (m.path == path && m.offset == 0) return m.start - f.first_load_vaddr;
  throw Refusal("process " + std::to_string(p.pid) + ": " + path + " has no mapping at file offset 0");
}

Process preflight(pid_t pid, bool for_detach) {
  Process p;
  p.pid = pid;
  std::string proc = "/proc/" + std::to_string(pid);
  std::string ps = "process " + std::to_string(pid);
  std::string status, maps;
  if (pid <= 0 || !read_file(proc + "/status", status)) throw Refusal(ps + ": no such process");
  std::string tgid = status_field(status, "Tgid");
  if (tgid != std::to_string(pid))
    throw Refusal(ps + ": a thread of process " + tgid + "; give the process id (" + tgid + ")");
  std::string st = status_field(status, "State");
  p.state = st.empty() ? '?' : st[0];
  p.tracer = pid_t(std::atol(status_field(status, "TracerPid").c_str()));
  p.sig_ignored = std::strtoull(status_field(status, "SigIgn").c_str(), nullptr, 16);
  p.sig_caught = std::strtoull(status_field(status, "SigCgt").c_str(), nullptr, 16);
  p.seccomp = std::atoi(status_field(status, "Seccomp").c_str());
  if (p.state == 'Z' || p.state == 'X') throw Refusal(ps + ": a zombie (it has exited)");

  // Permission first: without it, maps and exe cannot be read anyway.
  PtracePolicyInput pol;
  std::string yama;
  if (read_file("/proc/sys/kernel/yama/ptrace_scope", yama)) pol.yama_scope = std::atoi(yama.c_str());
  std::string self;
  read_file("/proc/self/status", self);
  uint64_t cap_eff = std::strtoull(status_field(self, "CapEff").c_str(), nullptr, 16);
  pol.cap_sys_ptrace = (cap_eff >> 19) & 1;  // CAP_SYS_PTRACE
  pol.tool_euid = geteuid();
  std::istringstream uids(status_field(status, "Uid"));
  uids >> pol.target_uids[0] >> pol.target_uids[1] >> pol.target_uids[2];
  struct stat pst{};
  // A non-dumpable process's /proc entries belong to root.
  pol.target_dumpable = stat(proc.c_str(), &pst) != 0 || pst.st_uid == pol.target_uids[1];
  if (std::string why = ptrace_refusal(pol, pid); !why.empty()) throw Refusal(why);

  char buf[4096];
  ssize_t n = readlink((proc + "/exe").c_str(), buf, sizeof buf - 1);
  if (n <= 0) throw Refusal(ps + ": cannot read " + proc + "/exe: " + std::strerror(errno));
  p.exe.assign(buf, size_t(n));
  ElfFile exe = read_elf(proc + "/exe");
  if (exe.machine != EM_X86_64)
    throw Refusal(ps + ": " + p.exe + " is not an x86-64 program (e_machine " + std::to_string(exe.machine) +
                  "); heapscope attach supports x86-64 only");
  if (!exe.has_interp)
    throw Refusal(ps + ": " + p.exe +
                  " is statically linked, so there is no dynamic loader to load heapscope into it; link it "
                  "with -lheapscope (see README, \"Link it\")");

  if (!read_file(proc + "/maps", maps)) throw Refusal(ps + ": cannot read " + proc + "/maps: " + std::strerror(errno));
  std::istringstream ml(maps);
  for (std::string line; std::getline(ml, line);) {
    Mapping m;
    char perms[8] = {0};
    unsigned long long s = 0, e = 0, off = 0;
    int consumed = 0;
    if (std::sscanf(line.c_str(), "%llx-%llx %7s %llx %*s %*s %n", &s, &e, perms, &off, &consumed) < 4) continue;
    m.start = s, m.end = e, m.offset = off, m.perms = perms;
    if (consumed > 0 && size_t(consumed) < line.size()) m.path = line.substr(size_t(consumed));
    std::string base = basename_of(m.path);
    if (m.path[0] == '/' && base.rfind("libc.so.6", 0) == 0 && p.libc_path.empty()) p.libc_path = m.path;
    if (m.path[0] == '/' && base.rfind("ld-linux", 0) == 0 && p.ld_path.empty()) p.ld_path = m.path;
    if (m.path[0] == '/' && base.rfind("libheapscope", 0) == 0 && p.heapscope_path.empty())
      p.heapscope_path = m.path;
    p.maps.push_back(m);
  }
  if (p.libc_path.empty() || p.ld_path.empty())
    throw Refusal(ps + ": " + p.exe + " does not use glibc (no libc.so.6 and ld-linux mapped); heapscope attach "
                  "supports glibc x86-64 programs only");

  std::string environ;
  if (read_file(proc + "/environ", environ)) {
    for (size_t at = 0; at < environ.size();) {
      size_t end = environ.find('\0', at);
      if (end == std::string::npos) end = environ.size();
      std::string kv = environ.substr(at, end - at);
      if (kv.rfind("LD_PRELOAD=", 0) == 0 && kv.find("libheapscope") != std::string::npos) p.preloaded = true;
      at = end + 1;
    }
  }
  if (!for_detach && p.preloaded)
    throw Refusal(ps + ": already profiled (heapscope was started with it); use `heapscope snapshot " +
                  std::to_string(pid) + "`");
  if (for_detach && p.heapscope_path.empty())
    throw Refusal(ps + ": heapscope is not loaded in it, so there is nothing to detach");
  if (for_detach && p.preloaded)
    throw Refusal(ps + ": heapscope was started with it (LD_PRELOAD), not attached; it cannot be detached "
                  "(use `heapscope snapshot " + std::to_string(pid) + "` for a snapshot)");

  if (p.state == 'T' || p.state == 't')
    throw Refusal(ps + ": stopped (State: " + st + "); attaching would leave it stopped or resume it: continue it "
                  "first (kill -CONT " + std::to_string(pid) + ")");
  if (p.tracer != 0) {
    std::string comm;
    read_file("/proc/" + std::to_string(p.tracer) + "/comm", comm);
    if (!comm.empty() && comm.back() == '\n') comm.pop_back();
    throw Refusal(ps + ": already traced by process " + std::to_string(p.tracer) + (comm.empty() ? "" : " (" + comm + ")") +
                  "; a process has one tracer: detach that debugger first");
  }
  if (p.sig_ignored & (uint64_t(1) << (SIGSEGV - 1)))
    throw Refusal(ps + ": ignores SIGSEGV, which heapscope's remote call uses to return; not attached");

  if (DIR* d = opendir((proc + "/task").c_str())) {
    while (dirent* e = readdir(d))
      if (e->d_name[0] != '.') p.tasks.push_back(pid_t(std::atol(e->d_name)));
    closedir(d);
  }
  return p;
}

std::vector<Range> unsafe_ranges(const Process& p, const ElfFile& libc) {
  std::vector<Range> out;
  for (const auto& m : p.maps) {
    std::string base = basename_of(m.path);
    if (m.perms.size() > 2 && m.perms[2] == 'x' &&
        (base.rfind("ld-linux", 0) == 0 || base.rfind("libheapscope", 0) == 0 || base.rfind("libunwind", 0) == 0))
      out.push_back({m.start, m.end, base});
  }
  static const char* kLibc[] = {
      "malloc", "free", "calloc", "realloc", "reallocarray", "memalign", "posix_memalign", "aligned_alloc",
      "valloc", "pvalloc", "malloc_usable_size", "malloc_trim", "mallinfo", "mallinfo2", "malloc_stats",
      "malloc_info", "mallopt", "dlopen", "dlmopen", "dlclose", "dlsym", "dlvsym", "dladdr", "dladdr1", "dlinfo",
      "dlerror", "dl_iterate_phdr", "pthread_create", "pthread_exit", "fork", "_Fork", "vfork", "_exit",
      "__libc_fork", "pthread_atfork", "__cxa_finalize", "__cxa_thread_atexit_impl"};
  uint64_t bias = load_bias(p, p.libc_path, libc);
  for (const char* name : kLibc) {
    auto it = libc.syms.find(name);
    if (it == libc.syms.end() || !it->second.size) continue;
    out.push_back({bias + it->second.value, bias + it->second.value + it->second.size, std::string("libc ") + name});
  }
  return out;
}

uint64_t stub_site(const Process& p, const ElfFile& libc, size_t need) {
  if (!libc.exec_end_vaddr) return 0;
  uint64_t at = (load_bias(p, p.libc_path, libc) + libc.exec_end_vaddr + 15) & ~uint64_t(15);
  for (const Mapping& m : p.maps)
    if (m.path == p.libc_path && m.perms.compare(0, 3, "r-x") == 0 && at >= m.start && at + need <= m.end)
      return at;
  return 0;
}

}  // namespace heapscope::inject
