/*
 * sig_taken.c -- a program that does something of its own with the snapshot
 * signal (SIGUSR2), for the control channel tests (test_control.py).
 * Usage: sig_taken handler|block|ignore|plain|fork|closefds READY_FILE
 *   handler: installs its own SIGUSR2 handler (as Debian's clang does);
 *   block:   blocks SIGUSR2 (it has one thread: every thread of its own);
 *   ignore:  sets SIGUSR2 to SIG_IGN;
 *   plain:   leaves it to heapscope;
 *   fork:    plain, then forks once; the child adds 3 blocks of 7373 bytes;
 *   closefds: handler, and on a byte 'c' on stdin closes every descriptor from
 *            3 to 1023 and opens /dev/zero on 3..999 (a daemon that closes
 *            what it does not know and reuses the numbers), then writes
 *            READY_FILE.closed; at the end it says how many are still its own.
 * It never starts a thread of its own. It keeps 12 blocks of 5151 bytes,
 * writes READY_FILE (the child, in fork mode, writes READY_FILE.child holding
 * its pid), then waits until stdin closes, frees them and prints
 * "mode M handler_calls=N pending=P" (N: SIGUSR2s its handler saw; P: 1 when a
 * SIGUSR2 is pending, i.e. was sent while blocked), in closefds mode followed
 * by " fds_intact=K". The fork child prints "child blocks=3".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t g_calls;
static void on_usr2(int sig) {
  (void)sig;
  ++g_calls;
}

static const char* g_ready;
static int g_closefds;

static void close_and_reuse(void) {
  for (int fd = 3; fd < 1024; ++fd) close(fd);
  int z = open("/dev/zero", O_RDONLY);
  if (z < 0 || z >= 1000) {
    fprintf(stderr, "sig_taken: open /dev/zero gave %d (errno %d), expected 3..999\n", z, errno);
    _exit(3);
  }
  for (int fd = 3; fd < 1000; ++fd) {
    if (fd == z) continue;
    int r = -1;
    // EBUSY: another thread (heapscope's) is installing a descriptor at fd right now (dup2(2)).
    for (int tries = 0; tries < 1000 && (r = dup2(z, fd)) < 0 && errno == EBUSY; ++tries) usleep(100);
    if (r != fd) {
      fprintf(stderr, "sig_taken: dup2(%d, %d) = %d (errno %d)\n", z, fd, r, errno);
      _exit(3);
    }
  }
  char path[4096];
  snprintf(path, sizeof path, "%s.closed", g_ready);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);  // 1000 or above
  if (fd < 0) {
    fprintf(stderr, "sig_taken: cannot create %s (errno %d)\n", path, errno);
    _exit(4);
  }
  close(fd);
}

static int fds_intact(void) {
  struct stat zero, st;
  if (stat("/dev/zero", &zero) != 0) return -1;
  int n = 0;
  for (int fd = 3; fd < 1000; ++fd) n += fstat(fd, &st) == 0 && st.st_rdev == zero.st_rdev && S_ISCHR(st.st_mode);
  return n;
}

static void wait_stdin(void) {
  char c;
  while (read(0, &c, 1) > 0) {
    if (g_closefds && c == 'c') close_and_reuse();
  }
}

static int touch(const char* path, const char* text) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return -1;
  if (text) (void)!write(fd, text, strlen(text));
  close(fd);
  return 0;
}

int main(int argc, char** argv) {
  const char* modes[] = {"handler", "block", "ignore", "plain", "fork", "closefds"};
  int known = 0;
  for (int i = 0; i < 6; ++i) known |= argc == 3 && !strcmp(argv[1], modes[i]);
  if (!known) {
    fprintf(stderr, "usage: sig_taken handler|block|ignore|plain|fork|closefds READY_FILE\n");
    return 2;
  }
  g_ready = argv[2];
  g_closefds = !strcmp(argv[1], "closefds");
  if (!strcmp(argv[1], "handler") || g_closefds) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr2;
    sigaction(SIGUSR2, &sa, NULL);
  } else if (!strcmp(argv[1], "ignore")) {
    signal(SIGUSR2, SIG_IGN);
  } else if (!strcmp(argv[1], "block")) {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR2);
    sigprocmask(SIG_BLOCK, &s, NULL);
  }
  void* kept[12];
  for (int i = 0; i < 12; ++i) kept[i] = malloc(5151);
  pid_t child = -1;
  if (!strcmp(argv[1], "fork")) {
    child = fork();
    if (child < 0) return 1;
    if (child == 0) {
      void* more[3];
      for (int i = 0; i < 3; ++i) more[i] = malloc(7373);
      char path[4096], text[32];
      snprintf(path, sizeof path, "%s.child", argv[2]);
      snprintf(text, sizeof text, "%d\n", (int)getpid());
      if (touch(path, text) != 0) _exit(1);
      wait_stdin();
      for (int i = 0; i < 3; ++i) free(more[i]);
      printf("child blocks=3\n");
      fflush(stdout);
      _exit(0);
    }
  }
  if (touch(argv[2], NULL) != 0) return 1;
  wait_stdin();
  for (int i = 0; i < 12; ++i) free(kept[i]);
  if (child > 0) {
    int st = 0;
    waitpid(child, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) return 1;
  }
  sigset_t pend;
  sigpending(&pend);
  printf("mode %s handler_calls=%d pending=%d", argv[1], (int)g_calls, sigismember(&pend, SIGUSR2));
  if (g_closefds) printf(" fds_intact=%d", fds_intact());
  printf("\n");
  return 0;
}
