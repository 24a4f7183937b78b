/*
 * atfork_alloc.c -- forks 20 times while linked with libatfork_lib.so, whose
 * fork-prepare handler allocates (see atfork_lib.c); each child allocates,
 * frees and exits. Before the first fork it has the library fill an 8 MiB
 * cache, which the library's parent handler frees. In the parent only the
 * blocks of the 20th iteration remain: none. stdout: "forks 20 prepared 20
 * children ok 20"; stderr: "atfork_alloc: pid P". Exit 0.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int atfork_lib_prepared(void);
void atfork_lib_fill_cache(size_t n);

int main(void) {
  int ok = 0;
  atfork_lib_fill_cache((size_t)8 << 20);
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
  fprintf(stderr, "atfork_alloc: pid %d\n", (int)getpid());
  return 0;
}
