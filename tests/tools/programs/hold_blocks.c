/* hold_blocks.c -- a known set of live blocks for the control channel's
 * snapshot-fd tests (tests/tools/test_control_fd.cpp): allocates COUNT blocks
 * of SIZE bytes (defaults 37 and 4321) at one line, writes its pid to
 * DIR/pid, and waits (up to 60 s) until DIR/stop exists; then frees them.
 * Usage: hold_blocks DIR [COUNT SIZE] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  int count = argc > 3 ? atoi(argv[2]) : 37;
  size_t size = argc > 3 ? (size_t)atol(argv[3]) : 4321;
  if (count <= 0 || count > 100000) return 2;
  void** blocks = malloc(sizeof(void*) * (size_t)count); /* one more block: count * 8 bytes */
  for (int i = 0; i < count; ++i) {
    blocks[i] = malloc(size); /* HOLD_BLOCKS_SITE */
    memset(blocks[i], i, size);
  }
  char path[4096], tmp[4200];
  snprintf(path, sizeof path, "%s/pid", argv[1]);
  snprintf(tmp, sizeof tmp, "%s/pid.tmp", argv[1]);
  FILE* f = fopen(tmp, "w");
  if (!f) return 3;
  fprintf(f, "%d\n", (int)getpid());
  fclose(f);
  rename(tmp, path);
  snprintf(path, sizeof path, "%s/stop", argv[1]);
  struct stat st;
  for (int i = 0; i < 6000 && stat(path, &st) != 0; ++i) usleep(10000);
  for (int i = 0; i < count; ++i) free(blocks[i]);
  free(blocks);
  return 0;
}
