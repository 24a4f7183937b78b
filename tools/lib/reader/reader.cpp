// reader.cpp -- read_profile(): open a file, refuse what is not a regular
// heap profile, detect the format from its first bytes, dispatch.
//
// Safety: reads at most kMaxProfileBytes (1 GiB) whatever the file claims
// (pipes, /dev/zero); a file whose first bytes match no format is refused
// after reading only that prefix. Every error is a FormatError naming the file.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "hsnap_format.h"
#include "reader/reader.h"
#include "model/strings.h"

namespace heapscope {
namespace {

constexpr size_t kMaxProfileBytes = size_t(1) << 30;
constexpr size_t kPrefixBytes = 4096;

struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// Reads until buf holds `want` bytes or EOF; returns false at EOF.
bool fill(int fd, std::string& buf, size_t want, const std::string& path) {
  while (buf.size() < want) {
    size_t old = buf.size();
    size_t chunk = std::min<size_t>(want - old, 1 << 20);
    buf.resize(old + chunk);
    ssize_t n = ::read(fd, buf.data() + old, chunk);
    if (n < 0) {
      buf.resize(old);
      if (errno == EINTR) continue;
      throw FormatError(path + ": read failed: " + std::strerror(errno));
    }
    buf.resize(old + size_t(n));
    if (n == 0) return false;
  }
  return true;
}

enum Format { kHsnap, kGperf, kJemalloc };

// The whole file, refused early when it is not a regular heap profile.
std::string read_bytes(const std::string& path, Format& format) {
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0)
    throw FormatError(path + ": cannot open: " + std::strerror(errno));
  if (S_ISDIR(st.st_mode))
    throw FormatError(path + ": is a directory, expected a heap profile file");
  // O_NONBLOCK so a FIFO without a writer cannot hang the open; reads block
  // again afterwards so a pipe with a slow writer (`<(zcat f.gz)`) still works.
  Fd f{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK)};
  if (f.fd < 0) throw FormatError(path + ": cannot open: " + std::strerror(errno));
  int flags = ::fcntl(f.fd, F_GETFL);
  if (flags >= 0) ::fcntl(f.fd, F_SETFL, flags & ~O_NONBLOCK);

  std::string data;
  fill(f.fd, data, kPrefixBytes, path);
  if (data.empty()) throw FormatError(path + ": empty file, expected a heap profile");

  // Text formats may start with whitespace in hand-edited files; allow none for hsnap.
  if (starts_with(data, std::string_view(HS_MAGIC, HS_MAGIC_LEN))) {
    format = kHsnap;
  } else if (starts_with(data, "heap profile:")) {
    format = kGperf;
  } else if (starts_with(data, "heap_v2/")) {
    format = kJemalloc;
  } else {
    throw FormatError(path +
                      ": not a heap profile (expected a heapscope snapshot, a gperftools or "
                      "a jemalloc heap profile)");
  }
  if (data.size() == kPrefixBytes) {
    if (fill(f.fd, data, kMaxProfileBytes + 1, path) || data.size() > kMaxProfileBytes)
      throw FormatError(path + ": larger than 1 GiB; not a heap profile this tool reads");
  }
  return data;
}

}  // namespace

std::string read_profile_bytes(const std::string& path) {
  Format format;
  return read_bytes(path, format);
}

Profile read_profile(const std::string& path) {
  Format format;
  std::string data = read_bytes(path, format);
  switch (format) {
    case kHsnap: return read_hsnap(data, path, read_profile_bytes);
    case kGperf: return read_gperftools(data, path);
    case kJemalloc: return read_jemalloc(data, path);
  }
  throw FormatError(path + ": unreachable format");
}

}  // namespace heapscope
