// own_fd.h -- descriptors heapscope makes inside a program that may close
// every descriptor it does not know and reuse the numbers at any moment (a
// daemon's close-and-reuse loop, on another thread). A number is only ours
// while it holds the very file we made: its identity (device, inode, type) is
// taken when the file is made and checked before every use and every close.
// Async-signal-safe (fstat, fcntl, close).
#pragma once
#include <sys/stat.h>
#include <sys/types.h>

namespace hs {

struct FdId {
  dev_t dev = 0;
  ino_t ino = 0;
  mode_t type = 0;  // S_IFIFO, S_IFSOCK, ...
};

// fd holds a file of `type`; its identity into *id.
bool fd_identify(int fd, mode_t type, FdId* id);

// fd (>= 0) still holds the file id names.
bool fd_is(int fd, const FdId& id);

// Moves fd, a `type` file this thread has just made, to a number >= 900
// (out of the way of programs that count from 3). Returns the number that
// holds it (fd itself when nothing >= 900 is free), with *id its identity; or
// -1 when the program took a number meanwhile: then nothing of ours is left
// open and the program's files are neither read nor closed.
int fd_move_high(int fd, mode_t type, FdId* id);

}  // namespace hs
