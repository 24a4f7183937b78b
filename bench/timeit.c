/*
 * timeit.c -- runs one command and records its wall time, CPU time and peak RSS
 * (bench/run.sh's measuring wrapper; /usr/bin/time's %e has only 10 ms resolution).
 *
 * Usage: bench_timeit OUTFILE CMD [ARGS...]
 * Writes one line "WALL_S USER_S SYS_S MAXRSS_KIB EXIT" to OUTFILE: wall time from
 * CLOCK_MONOTONIC around fork..wait4, user and system CPU of the command and of every
 * descendant it waited for (wait4's rusage), the largest of their peak RSS, and the
 * command's exit status (128 + N when killed by signal N). stdin, stdout and stderr pass
 * through; bench_timeit exits with the command's status.
 * Safety: ordinary program; the environment passes unchanged to the command.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double seconds(struct timeval tv) { return (double)tv.tv_sec + (double)tv.tv_usec / 1e6; }

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: bench_timeit OUTFILE CMD [ARGS...]\n");
    return 2;
  }
  FILE *out = fopen(argv[1], "w");
  if (!out) {
    fprintf(stderr, "bench_timeit: cannot write %s: %s\n", argv[1], strerror(errno));
    return 2;
  }
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  pid_t pid = fork();
  if (pid < 0) {
    fprintf(stderr, "bench_timeit: fork: %s\n", strerror(errno));
    return 2;
  }
  if (pid == 0) {
    fclose(out);
    execvp(argv[2], argv + 2);
    fprintf(stderr, "bench_timeit: cannot run %s: %s\n", argv[2], strerror(errno));
    _exit(127);
  }
  int status = 0;
  struct rusage ru;
  while (wait4(pid, &status, 0, &ru) < 0) {
    if (errno != EINTR) {
      fprintf(stderr, "bench_timeit: wait4: %s\n", strerror(errno));
      return 2;
    }
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double wall = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  fprintf(out, "%.6f %.6f %.6f %ld %d\n", wall, seconds(ru.ru_utime), seconds(ru.ru_stime),
          ru.ru_maxrss, code);
  if (fclose(out) != 0) {
    fprintf(stderr, "bench_timeit: cannot write %s: %s\n", argv[1], strerror(errno));
    return 2;
  }
  return code;
}
