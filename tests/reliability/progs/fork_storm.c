/*
 * fork_storm.c -- fork while other threads allocate and one thread is taking
 * snapshots; each child allocates a marker block, takes a snapshot through
 * heapscope_snapshot(), checks the path names its own pid, and exits (exit
 * or _exit, alternating). Then vfork+exec, posix_spawn, and exec of a
 * program given on the command line (a static, non-profiled binary).
 * Usage: fork_storm FORKS STATIC_PROG
 * stdout (deterministic): "forks N ok", "vfork: ...", "spawn: ...", the static program's line.
 * stderr: "CHILD pid=P rc=R path=PATH exit=exit|_exit" per child; when heapscope is
 *   active, a last child sends itself the snapshot signal (SIGUSR2) and waits up to
 *   5 s for $HEAPSCOPE_OUT.<pid>.0001.hsnap: "SIGCHILD pid=P snapshot=yes|no" (the
 *   child's background thread must have been restarted after fork).
 * Exit: 0, or 1 naming the child that failed.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "rel_api.h"

extern char** environ;
static atomic_int stop;

static void* churner(void* arg) {
  (void)arg;
  void* keep[32] = {0};
  unsigned i = 0;
  while (!atomic_load(&stop)) {
    free(keep[i % 32]);
    keep[i % 32] = malloc(32 + (i % 500));
    i++;
  }
  for (int k = 0; k < 32; k++) free(keep[k]);
  return NULL;
}
static void* snapper(void* arg) {
  (void)arg;
  char path[4096];
  while (!atomic_load(&stop)) {
    rel_snapshot(path, sizeof path);
    usleep(2000);
  }
  return NULL;
}

int main(int argc, char** argv) {
  int forks = argc > 1 ? atoi(argv[1]) : 40;
  const char* static_prog = argc > 2 ? argv[2] : "/bin/true";
  rel_init();
  pthread_t th[3];
  pthread_create(&th[0], NULL, churner, NULL);
  pthread_create(&th[1], NULL, churner, NULL);
  pthread_create(&th[2], NULL, snapper, NULL);
  int bad = 0;
  for (int i = 0; i < forks; i++) {
    pid_t pid = fork();
    if (pid < 0) { perror("fork"); return 1; }
    if (pid == 0) {
      void* marker = malloc(777777 + (size_t)i);
      memset(marker, 1, 64);
      char path[4096];
      int rc = rel_snapshot(path, sizeof path);
      char want[32];
      snprintf(want, sizeof want, ".%d.", (int)getpid());
      int ok = rc != 0 || strstr(path, want) != NULL;
      fprintf(stderr, "CHILD pid=%d rc=%d path=%s exit=%s\n", (int)getpid(), rc, rc == 0 ? path : "-",
              i % 2 ? "_exit" : "exit");
      fflush(stderr);
      if (i % 2) _exit(ok ? 0 : 3);
      exit(ok ? 0 : 3);
    }
    int st;
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
      fprintf(stderr, "fork_storm: child %d (fork %d) ended with status 0x%x, expected exit 0\n", (int)pid, i, st);
      bad = 1;
    }
  }
  atomic_store(&stop, 1);
  for (int i = 0; i < 3; i++) pthread_join(th[i], NULL);
  if (rel_p_snapshot && getenv("HEAPSCOPE_OUT")) {
    pid_t c = fork();
    if (c == 0) {
      void* marker = malloc(4242);
      char want[4200];
      snprintf(want, sizeof want, "%s.%d.0001.hsnap", getenv("HEAPSCOPE_OUT"), (int)getpid());
      kill(getpid(), SIGUSR2);
      int found = 0;
      for (int i = 0; i < 500 && !found; i++) {
        found = access(want, F_OK) == 0;
        if (!found) usleep(10000);
      }
      fprintf(stderr, "SIGCHILD pid=%d snapshot=%s\n", (int)getpid(), found ? "yes" : "no");
      free(marker);
      exit(0);
    }
    int st;
    waitpid(c, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st)) { fprintf(stderr, "fork_storm: signal child status 0x%x\n", st); bad = 1; }
  }
  printf("forks %d %s\n", forks, bad ? "FAILED" : "ok");
  fflush(stdout);

  pid_t v = vfork();
  if (v == 0) {
    char* const a[] = {"/bin/sh", "-c", "echo vfork: child ran", NULL};
    execve(a[0], a, environ);
    _exit(127);
  }
  int st;
  waitpid(v, &st, 0);
  if (!WIFEXITED(st) || WEXITSTATUS(st)) { fprintf(stderr, "fork_storm: vfork child status 0x%x\n", st); bad = 1; }

  pid_t s;
  char* const b[] = {"/bin/echo", "spawn: child ran", NULL};
  if (posix_spawn(&s, b[0], NULL, NULL, b, environ) != 0) { perror("posix_spawn"); return 1; }
  waitpid(s, &st, 0);
  if (!WIFEXITED(st) || WEXITSTATUS(st)) { fprintf(stderr, "fork_storm: spawn child status 0x%x\n", st); bad = 1; }

  pid_t e = fork();
  if (e == 0) {
    char* const c[] = {(char*)static_prog, NULL};
    execve(c[0], c, environ);
    _exit(127);
  }
  waitpid(e, &st, 0);
  if (!WIFEXITED(st) || WEXITSTATUS(st)) { fprintf(stderr, "fork_storm: %s status 0x%x\n", static_prog, st); bad = 1; }
  return bad;
}
