/*
 * fork_in_handler.c -- a SIGALRM handler forks while the main thread
 * allocates and frees in a tight loop, so some forks interrupt a malloc or
 * free (and heapscope's bookkeeping in it). Each child _exits at once.
 *
 * Bounded by a count whatever the machine's speed: at most FORKS forks (the
 * handler then stops), and the timer is one-shot, re-armed at the end of the
 * handler, so the main loop always runs 200 us between two forks however
 * long a fork takes (a periodic 200 us timer on a machine where fork+exit
 * takes longer never returned to the main loop). The handler reaps finished
 * children (waitpid WNOHANG), so at most a few exist at any time. The main
 * loop ends when the handler has forked FORKS times or failed to fork, or
 * after 60 s of its own time as a last resort.
 *
 * The main thread raises a flag around each malloc and free: a fork whose
 * handler saw it up landed inside an allocation call.
 * Usage: fork_in_handler [FORKS]   (default 400)
 * stdout: "done". stderr: "fork_in_handler: forks F failed X in_alloc I reaped R bad B"
 * (F successful forks, X failed ones, I of F with the flag up, R children reaped,
 * B of them not exiting 0). Exit 0, or 1 when F != FORKS, R != F or B != 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int g_max;
static timer_t g_timer;
static volatile sig_atomic_t g_forks, g_failed, g_in_alloc_forks, g_reaped, g_bad, g_stop;
static volatile sig_atomic_t g_in_alloc;

static void reap(int options) {
  for (;;) {
    int st;
    pid_t r = waitpid(-1, &st, options);
    if (r > 0) {
      g_reaped++;
      if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) g_bad++;
      continue;
    }
    if (r < 0 && errno == EINTR) continue;
    return;
  }
}

static void arm(void) {
  struct itimerspec it = {{0, 0}, {0, 200 * 1000}};
  timer_settime(g_timer, 0, &it, NULL);
}

/* Only async-signal-safe calls: fork, _exit, waitpid, timer_settime. */
static void on_alarm(int s) {
  (void)s;
  int saved = errno;
  if (!g_stop) {
    int inside = g_in_alloc;
    pid_t c = fork();
    if (c == 0) _exit(0);
    if (c > 0) {
      g_forks++;
      if (inside) g_in_alloc_forks++;
    } else {
      g_failed++;
    }
    reap(WNOHANG);
    if (g_forks + g_failed >= g_max) g_stop = 1;
    else arm();
  }
  errno = saved;
}

int main(int argc, char** argv) {
  g_max = argc > 1 ? atoi(argv[1]) : 400;
  if (g_max < 1 || g_max > 5000) {
    fprintf(stderr, "fork_in_handler: FORKS %s: expected 1 to 5000\n", argv[1]);
    return 2;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGALRM, &sa, NULL);
  struct sigevent sev;
  memset(&sev, 0, sizeof sev);
  sev.sigev_notify = SIGEV_SIGNAL;
  sev.sigev_signo = SIGALRM;
  if (timer_create(CLOCK_MONOTONIC, &sev, &g_timer) != 0) {
    perror("fork_in_handler: timer_create");
    return 1;
  }
  struct timespec t0, t;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  arm();
  void* keep[64] = {0};
  for (unsigned i = 0; !g_stop; i++) {
    g_in_alloc = 1;
    free(keep[i % 64]);
    keep[i % 64] = malloc(16 + i % 2000);
    g_in_alloc = 0;
    if ((i & 1023) == 0) {
      clock_gettime(CLOCK_MONOTONIC, &t);
      if (t.tv_sec - t0.tv_sec >= 60) break;
    }
  }
  g_stop = 1;
  timer_delete(g_timer);
  reap(0);
  for (int i = 0; i < 64; i++) free(keep[i]);
  fprintf(stderr, "fork_in_handler: forks %d failed %d in_alloc %d reaped %d bad %d\n", (int)g_forks,
          (int)g_failed, (int)g_in_alloc_forks, (int)g_reaped, (int)g_bad);
  printf("done\n");
  return g_forks == g_max && g_reaped == g_forks && g_bad == 0 ? 0 : 1;
}
