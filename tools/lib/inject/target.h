// target.h -- what `heapscope attach`/`detach` learn about a process before
// touching it: /proc/PID/{status,maps,exe,environ}, the ELF files it maps,
// and whether ptrace is permitted. Nothing here stops or changes the target.
//
// Owns: the preflight refusals (each says why and what would work), the
// ptrace permission policy (Yama scope x CAP_SYS_PTRACE x uid, a pure
// function so it is unit-tested with injected values), ELF .dynsym lookup in
// a file, and the address ranges where a thread must not be hijacked.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace heapscope::inject {

// A refusal or failure that left the target as it was.
struct Refusal : std::runtime_error {
  explicit Refusal(const std::string& what) : std::runtime_error(what) {}
};

struct Mapping {
  uint64_t start = 0, end = 0, offset = 0;
  std::string perms, path;
};

struct ElfSym {
  uint64_t value = 0, size = 0;
  bool func = false;
};

// A file's dynamic symbols (defined ones only) and its first PT_LOAD address.
struct ElfFile {
  std::string path;
  uint16_t machine = 0;
  bool has_interp = false, has_dynamic = false;
  uint64_t first_load_vaddr = 0;
  uint64_t exec_end_vaddr = 0;  // end of the executable PT_LOAD with the highest end (0: none)
  std::map<std::string, ElfSym> syms;
};
// Reads path (through the target's root when given as /proc/PID/root/...).
// Throws Refusal naming the file and what was wrong.
ElfFile read_elf(const std::string& path);

// Inputs of the ptrace permission check; "" when allowed, else the reason
// and what would work.
struct PtracePolicyInput {
  int yama_scope = -1;         // -1: no Yama
  bool cap_sys_ptrace = false;  // in the tool's effective set
  uid_t tool_euid = 0;
  uid_t target_uids[3] = {0, 0, 0};  // real, effective, saved
  bool target_dumpable = true;
};
std::string ptrace_refusal(const PtracePolicyInput& in, pid_t pid);

struct Process {
  pid_t pid = 0;
  std::string exe;          // /proc/PID/exe target
  char state = '?';         // State: letter
  pid_t tracer = 0;         // TracerPid
  uint64_t sig_ignored = 0, sig_caught = 0;
  std::vector<Mapping> maps;
  std::vector<pid_t> tasks;
  std::string libc_path;    // mapped libc.so.6
  uint64_t libc_bias = 0;
  std::string ld_path;      // mapped ld-linux
  std::string heapscope_path;  // a mapped libheapscope*.so, "" if none
  uint64_t heapscope_bias = 0;
  bool preloaded = false;   // LD_PRELOAD names libheapscope
  int seccomp = 0;          // Seccomp: 0 none, 1 strict, 2 filter
};

// Reads everything and applies the refusals that need no ptrace: not a
// process, a static or non-x86-64 executable, no glibc, stopped or traced,
// ptrace not permitted. for_detach: requires heapscope to be mapped;
// otherwise refuses a process that was started with heapscope.
Process preflight(pid_t pid, bool for_detach);

// Load bias of a mapped file: start of its offset-0 mapping minus the
// file's first PT_LOAD address.
uint64_t load_bias(const Process& p, const std::string& path, const ElfFile& f);

// A path in the target's mount namespace, opened from here.
std::string target_path(pid_t pid, const std::string& path);

struct Range {
  uint64_t lo, hi;
  std::string what;
};
// Where a hijacked thread must be neither running nor returning to: the
// dynamic loader, libc's allocator, dl* and thread-creation functions,
// heapscope and libunwind.
std::vector<Range> unsafe_ranges(const Process& p, const ElfFile& libc);

// Where the remote call's return stub can go: the slack between the end of
// libc's executable segment and the end of its page, which the loader maps
// executable but no code uses. 0 when that slack is smaller than need bytes or
// not mapped r-x as expected.
uint64_t stub_site(const Process& p, const ElfFile& libc, size_t need);

}  // namespace heapscope::inject
