// file.cpp -- see file.h.
#include "util/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace heapscope {
bool read_file(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return true;
}

std::string status_field(const std::string& status, const std::string& name) {
  size_t at = status.find("\n" + name + ":");
  if (at == std::string::npos && status.rfind(name + ":", 0) == 0) at = 0;
  else if (at == std::string::npos) return "";
  else ++at;
  size_t v = at + name.size() + 1;
  while (v < status.size() && (status[v] == ' ' || status[v] == '\t')) ++v;
  size_t e = status.find('\n', v);
  return status.substr(v, e == std::string::npos ? std::string::npos : e - v);
}

namespace {

// The directory path is in ("." for a bare name) and its last component.
void split_path(const std::string& path, std::string& dir, std::string& base) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) {
    dir = ".";
    base = path;
  } else {
    dir = slash == 0 ? "/" : path.substr(0, slash);
    base = path.substr(slash + 1);
  }
}

const char* kind_of(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a fifo";
  if (S_ISLNK(mode)) return "a symlink";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

[[noreturn]] void fail(const std::string& path, const std::string& what, int err, const std::string& tmp) {
  if (!tmp.empty()) unlink(tmp.c_str());
  throw FileWriteError(path + ": " + what + ": " + std::strerror(err));
}

}  // namespace

std::string atomic_write_problem(const std::string& path) {
  if (path.empty()) return "an empty file name (expected the path of a file to write)";
  std::string dir, base;
  split_path(path, dir, base);
  if (base.empty() || base == "." || base == "..")
    return path + ": is a directory (expected a file to write)";
  struct stat st{};
  if (lstat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return path + ": is a directory (expected a file to write)";
    if (S_ISLNK(st.st_mode))
      return path + ": is a symlink (expected a regular file or a new name; heapscope does not follow symlinks)";
    if (!S_ISREG(st.st_mode))
      return path + ": is " + kind_of(st.st_mode) + " (expected a regular file or a new name)";
  } else if (errno != ENOENT) {
    return path + ": cannot inspect: " + std::strerror(errno) + " (expected a file to write)";
  }
  struct stat dst{};
  if (stat(dir.c_str(), &dst) != 0)
    return path + ": directory " + dir + ": " + std::strerror(errno) +
           " (expected an existing directory to write the file in)";
  if (!S_ISDIR(dst.st_mode)) return path + ": " + dir + " is not a directory (expected a directory to write the file in)";
  if (access(dir.c_str(), W_OK | X_OK) != 0)
    return path + ": directory " + dir + " is not writable: " + std::strerror(errno) +
           " (expected a directory you may create files in)";
  return "";
}

void write_file_atomic(const std::string& path, const std::string& bytes) {
  if (std::string why = atomic_write_problem(path); !why.empty()) throw FileWriteError(why);
  std::string dir, base;
  split_path(path, dir, base);
  // A hidden name next to the target; O_EXCL refuses one that exists (left
  // by another writer, or planted), so try a bounded number of names.
  std::string tmp;
  int fd = -1;
  for (int attempt = 0; attempt < 16 && fd < 0; ++attempt) {
    tmp = path.substr(0, path.size() - base.size()) + "." + base + ".tmp." + std::to_string(getpid()) + "." +
          std::to_string(attempt);
    fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 && errno != EEXIST) fail(path, "cannot create " + tmp, errno, "");
  }
  if (fd < 0) fail(path, "cannot create a temporary file next to it (16 names taken)", EEXIST, "");
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = n < 0 ? errno : EIO;
      close(fd);
      fail(path, "write failed", err, tmp);
    }
    done += size_t(n);
  }
  if (fsync(fd) != 0) {
    int err = errno;
    close(fd);
    fail(path, "write failed (fsync)", err, tmp);
  }
  if (close(fd) != 0) fail(path, "write failed (close)", errno, tmp);
  if (rename(tmp.c_str(), path.c_str()) != 0) fail(path, "cannot rename " + tmp + " into place", errno, tmp);
  // The rename itself survives a crash once the directory is on disk; a
  // directory that cannot be opened or synced (some file systems) leaves the
  // file written all the same.
  int dfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
}
}  // namespace heapscope
