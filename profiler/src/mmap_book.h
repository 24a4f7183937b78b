// mmap_book.h -- the program's own anonymous mappings (HEAPSCOPE_MMAP=1).
// Owns: the range book, a sorted array of tracked ranges [start, end) -> the
// stack that mapped them (a stack-table slot flagged HS_STACK_MAPPED), and
// their accounting in that slot's counters (bytes; count = tracked ranges, so
// a range split by a partial munmap counts as one more). Cold: mmap is a
// system call, so the book is one spinlock (through the fork gate) around a
// binary search and a memmove, never taken on the malloc path, never held
// across a system call. Ordering (as for free, record.h): a range leaves the
// book BEFORE munmap/mremap is forwarded (another thread may get the address
// the moment the kernel frees it) and enters it after mmap/mremap returned;
// a failed munmap/mremap puts the pieces back.
// Safety: hook-safe (no allocation: the array is an os_map mapping grown
// under the lock); the caller holds no guard, the book takes one while it
// captures and while it holds its lock, so a signal handler's mmap on the
// same thread is forwarded unrecorded instead of spinning on the lock.
#pragma once
#include <stddef.h>
#include <stdint.h>

namespace hs {
// [p, p+len) was just mapped by the program: any tracked range it overlaps
// is gone (MAP_FIXED, or an unmap we never saw), then it is booked under the
// caller's stack (ra, fp: the hook's return and frame address, capture.h).
void mapped_add(void* p, size_t len, uintptr_t ra, uintptr_t fp);
// The tracked parts of [p, p+len) leave the book (munmap, before
// forwarding). Returns a token for mapped_restore when the unmap fails.
struct MapPieces {
  static constexpr int kMax = 8;  // more pieces than this are freed for good
  int n;
  struct Piece {
    uintptr_t start, end;
    uint32_t ref;
  } p[kMax];
};
void mapped_take(uintptr_t lo, uintptr_t hi, MapPieces* out);
// The forward failed: the pieces go back as they were.
void mapped_restore(const MapPieces& m);
// The forward succeeded: the pieces' bytes and ranges are freed.
void mapped_release(const MapPieces& m);
// mremap succeeded: the pieces taken from the old range become one range
// [q, q+new_len) of the first piece's stack (bytes: the difference; DONTUNMAP
// keeps the old pieces as well). An old range we did not track stays untracked.
void mapped_moved(const MapPieces& m, uintptr_t q, size_t new_len, bool keep_old);
// The stack ref of the tracked range holding a, or UINT32_MAX.
uint32_t mapped_ref_at(uintptr_t a);
// Books [q, q+len) under an existing stack ref (mremap with old_size 0).
void mapped_add_ref(uintptr_t q, size_t len, uint32_t ref);

// Tracked ranges now (STATS / tests).
uint64_t mapped_ranges();
// fork (control.cpp): wait for the book's lock to be free / clear it in the child.
void mapped_wait_unlocked();
void mapped_clear_held_after_fork();
// heapscope attach reset (a new generation starts with empty books).
void mapped_clear();
}  // namespace hs
