// early.c -- links early_lib (DT_NEEDED), whose constructor allocated before
// heapscope's constructor ran; frees the 25 blocks it asks to free and exits.
// stdout: "blocks=65".
#include <stdio.h>

int early_release(void);

int main(void) {
  printf("blocks=%d\n", early_release());
  return 0;
}
