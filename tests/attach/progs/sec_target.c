/* sec_target.c -- an attach target running under a seccomp filter.
 * Usage: sec_target allow|deny_open|kill_open
 *   allow:     a filter that allows every system call (Seccomp: 2 all the same)
 *   deny_open: openat fails with EPERM (so a dlopen fails)
 *   kill_open: openat kills the process (SECCOMP_RET_KILL_PROCESS)
 * Prints "ready", then answers on stdin: "make N" -> N blocks of 40 bytes at
 * sec_site, kept -> "made N"; "quit" -> "bye 1", exit 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

static void* kept[4096];
static int count;
__attribute__((noinline)) void* sec_site(size_t n) { return malloc(n); }

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "allow";
  unsigned open_action = SECCOMP_RET_ALLOW;
  if (!strcmp(mode, "deny_open")) open_action = SECCOMP_RET_ERRNO | EPERM;
  else if (!strcmp(mode, "kill_open")) open_action = SECCOMP_RET_KILL_PROCESS;
  else if (strcmp(mode, "allow")) return 2;
  setvbuf(stdout, NULL, _IOLBF, 0);
  struct sock_filter f[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_openat, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, open_action),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = {.len = sizeof f / sizeof f[0], .filter = f};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
    fprintf(stderr, "sec_target: seccomp: %s\n", strerror(errno));
    return 3;
  }
  printf("ready\n");
  char line[128];
  while (fgets(line, sizeof line, stdin)) {
    int n = 0;
    if (sscanf(line, "make %d", &n) == 1) {
      for (int i = 0; i < n && count < 4096; ++i) kept[count++] = sec_site(40);
      printf("made %d\n", n);
    } else if (!strncmp(line, "quit", 4)) {
      printf("bye 1\n");
      return 0;
    } else {
      printf("unknown command\n");
    }
  }
  return 0;
}
