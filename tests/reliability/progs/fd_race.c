/* fd_race.c -- a daemon whose descriptor reuse lands inside heapscope's own
 * calls: the moment between heapscope moving a new descriptor up
 * (fcntl(F_DUPFD_CLOEXEC, 900)) and looking at it.
 *
 * Usage: fd_race race READY_FILE   (the mode word keeps test_control.py's argv shape)
 *
 * The program defines fcntl() itself (exported with -rdynamic, so heapscope's
 * calls bind to it): when armed, the next F_DUPFD_CLOEXEC at 900 or above
 * runs, and then the program puts its own /dev/zero onto the number it
 * returned (dup2), as a daemon's close-and-reuse loop running on another
 * thread would at that instant. Each byte on stdin:
 *   'p'  arms, then closes heapscope's pipe (the FIFOs at 900 and above):
 *        the helper makes a new pipe and the first end it moves up is taken;
 *   's'  arms, then closes heapscope's listening socket (sockets at 900 and
 *        above): the same for the control channel's new socket.
 * After each it waits (bounded) until the arming was used, then touches
 * READY_FILE.p or READY_FILE.s. It keeps 12 blocks of 5151 bytes live; at the
 * end it prints how many numbers it took and how many of them still hold its
 * /dev/zero (heapscope must never close or read them as its own).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static atomic_int g_armed;
static int g_zero = -1;
static int g_taken[8];
static atomic_int g_ntaken;

int fcntl(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  long arg = va_arg(ap, long);
  va_end(ap);
  long r = syscall(SYS_fcntl, fd, cmd, arg);
  if (r >= 0 && cmd == F_DUPFD_CLOEXEC && arg >= 900 && atomic_exchange(&g_armed, 0)) {
    int n = atomic_load(&g_ntaken);
    if (n < 8 && dup2(g_zero, (int)r) == (int)r) {
      g_taken[n] = (int)r;
      atomic_store(&g_ntaken, n + 1);
    }
  }
  return (int)r;
}

static int is_zero(int fd) {
  struct stat zero, st;
  return stat("/dev/zero", &zero) == 0 && fstat(fd, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == zero.st_rdev;
}

static void take(mode_t kind, const char* ready, const char* suffix) {
  int before = atomic_load(&g_ntaken);
  atomic_store(&g_armed, 1);
  int closed = 0;
  struct stat st;
  for (int fd = 900; fd < 1024; ++fd) {
    if (fstat(fd, &st) == 0 && (st.st_mode & S_IFMT) == kind) {
      close(fd);
      ++closed;
    }
  }
  if (!closed) {
    fprintf(stderr, "fd_race: no descriptor of heapscope's kind at 900..1023 to close\n");
    _exit(3);
  }
  for (int i = 0; i < 1000 && atomic_load(&g_ntaken) == before; ++i) usleep(10000);  // bounded: ~10 s
  if (atomic_load(&g_ntaken) == before) {
    fprintf(stderr, "fd_race: heapscope made no new descriptor at 900 or above within 10 s\n");
    _exit(4);
  }
  char path[4096];
  snprintf(path, sizeof path, "%s.%s", ready, suffix);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd >= 0) close(fd);
}

int main(int argc, char** argv) {
  if (argc != 3 || strcmp(argv[1], "race")) {
    fprintf(stderr, "usage: fd_race race READY_FILE\n");
    return 2;
  }
  g_zero = open("/dev/zero", O_RDONLY | O_CLOEXEC);
  if (g_zero < 0) return 5;
  void* keep[12];
  for (int i = 0; i < 12; ++i) {
    keep[i] = malloc(5151);
    memset(keep[i], i, 5151);
  }
  int fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd >= 0) close(fd);
  char c;
  while (read(0, &c, 1) > 0) {
    if (c == 'p') take(S_IFIFO, argv[2], "p");
    if (c == 's') take(S_IFSOCK, argv[2], "s");
  }
  int n = atomic_load(&g_ntaken), intact = 0;
  for (int i = 0; i < n; ++i) intact += is_zero(g_taken[i]);
  for (int i = 0; i < 12; ++i) free(keep[i]);
  printf("taken=%d intact=%d\n", n, intact);
  return 0;
}
