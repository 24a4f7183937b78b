// own_fd.cpp -- see own_fd.h.
#include "own_fd.h"

#include <fcntl.h>
#include <unistd.h>

namespace hs {

bool fd_identify(int fd, mode_t type, FdId* id) {
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0 || (st.st_mode & S_IFMT) != type) return false;
  id->dev = st.st_dev;
  id->ino = st.st_ino;
  id->type = type;
  return true;
}

bool fd_is(int fd, const FdId& id) {
  struct stat st;
  return fd >= 0 && fstat(fd, &st) == 0 && st.st_ino == id.ino && st.st_dev == id.dev &&
         (st.st_mode & S_IFMT) == id.type;
}

int fd_move_high(int fd, mode_t type, FdId* id) {
  if (!fd_identify(fd, type, id)) return -1;  // already the program's number (or gone)
  int high = fcntl(fd, F_DUPFD_CLOEXEC, 900);
  if (high < 0) return fd_is(fd, *id) ? fd : -1;
  // The program may have put its own file on either number since fcntl
  // returned: each is checked before it is kept or closed.
  const bool high_ours = fd_is(high, *id);
  if (fd_is(fd, *id)) close(fd);
  if (high_ours) return high;
  return -1;
}

}  // namespace hs
