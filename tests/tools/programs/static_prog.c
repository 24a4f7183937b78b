/* static_prog.c -- a statically linked program: `heapscope run` must refuse it
 * (LD_PRELOAD cannot reach a static binary) and say how to link instead. */
int main(void) { return 0; }
