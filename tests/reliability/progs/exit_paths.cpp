// exit_paths.cpp -- ends the process by MODE after allocating, with a static
// destructor and an atexit handler that allocate (they run after heapscope's
// exit snapshot, or around it).
// Usage: exit_paths exit|_exit|quick_exit|abort|return|thread-exit|exit-busy
// Exit status: exit 3, _exit 4, quick_exit 5, abort SIGABRT, return 0, thread-exit 6,
// exit-busy 7 (exit() while 4 threads keep allocating and freeing, through the
// exit snapshot and the library teardown)
// stdout: "main done" (flushed), then "dtor ran" / "atexit ran" / "quick ran" via write(2).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <pthread.h>
#include <string>
#include <unistd.h>
#include <vector>

static void say(const char* s) { (void)!write(1, s, strlen(s)); }
struct Late {
  ~Late() {
    std::vector<std::string>* v = new std::vector<std::string>(50, std::string(100, 'x'));
    delete v;
    void* p = malloc(1234);
    free(p);
    say("dtor ran\n");
  }
};
static Late g_late;
static void on_exit_alloc() { void* p = malloc(77); free(p); say("atexit ran\n"); }
static void on_quick() { void* p = malloc(55); free(p); say("quick ran\n"); }
static void* thread_exit(void*) { exit(6); }
static void* busy(void*) {
  void* keep[64] = {};
  for (unsigned i = 0;; i++) {
    free(keep[i % 64]);
    keep[i % 64] = malloc(16 + i % 1000);
    std::string* s = new std::string(40 + i % 100, 'y');
    delete s;
  }
  return nullptr;
}

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "exit";
  atexit(on_exit_alloc);
  at_quick_exit(on_quick);
  std::vector<void*> live;
  for (int i = 0; i < 100; i++) live.push_back(malloc(100 + i));
  printf("main done\n");
  fflush(stdout);
  if (mode == "exit") exit(3);
  if (mode == "_exit") _exit(4);
  if (mode == "quick_exit") quick_exit(5);
  if (mode == "abort") abort();
  if (mode == "exit-busy") {
    for (int i = 0; i < 4; i++) {
      pthread_t t;
      pthread_create(&t, nullptr, busy, nullptr);
    }
    usleep(50000);
    exit(7);
  }
  if (mode == "thread-exit") {  // exit() called from a second thread while main waits
    pthread_t t;
    pthread_create(&t, nullptr, thread_exit, nullptr);
    pthread_join(t, nullptr);
  }
  return 0;
}
