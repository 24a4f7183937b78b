/*
 * atfork_alloc.c -- forks 20 times while linked with libatfork_lib.so, whose
 * fork-prepare handler allocates (see atfork_lib.c); each child allocates,
 * frees and exits. stdout: "forks 20 prepared 20 children ok 20". Exit 0.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int atfork_lib_prepared(void);

int main(void) {
  int ok = 0;
  for (int i = 0; i < 20; i++) {
    void* p = malloc(64 + i);
    pid_t c = fork();
    if (c < 0) return 1;
    if (c == 0) {
      free(malloc(32));
      exit(0);
    }
    int st = 0;
    waitpid(c, &st, 0);
    ok += WIFEXITED(st) && WEXITSTATUS(st) == 0;
    free(p);
  }
  printf("forks 20 prepared %d children ok %d\n", atfork_lib_prepared(), ok);
  return 0;
}
