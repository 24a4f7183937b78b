// snapshot_writer.h -- builds a .hsnap file (profiler/format/hsnap_format.h)
// and publishes it atomically.
// Owns: the in-memory image (an mmap'd buffer grown with mremap, never
// malloc), the temporary file (O_EXCL|O_NOFOLLOW, mode 0600), write, fsync,
// rename, the sequence numbers, and the sticky error reported once; and, for
// format version 2, the frame tree, the stack numbers and the chain state
// kept from one snapshot to the next (mmap'd, grown with mremap), so a
// periodic snapshot holds only what changed since its predecessor (every
// 32nd, the first and the exit one are self-contained).
// Safety: cold path. One writer at a time (a mutex). Call with the re-entry
// guard held. Reads the tables lock-free: never takes a live-table lock, so a
// snapshot cannot deadlock with the hooks.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "hsnap_format.h"

namespace hs {
// Writes PREFIX.PID.SEQ.hsnap (or PREFIX.PID.exit.hsnap for HS_TRIGGER_EXIT,
// PREFIX.PID.peak.hsnap for HS_TRIGGER_PEAK: self-contained, outside the chain).
// Returns 0 and the path (when path_out) or -1 with errno set.
int write_snapshot(hs_trigger trigger, char* path_out, size_t path_len);
// The same from a signal handler (control.cpp, serve_in_handler): never waits
// for the writer mutex (-1 with errno EBUSY when it is taken). With the
// re-entry guard at 2 ("nested") the build is async-signal-safe: no allocator
// figures, the module list as last refreshed, taken only if its lock is free.
int write_snapshot_if_free(hs_trigger trigger);

// A complete, self-contained snapshot (never chained to an earlier file,
// whatever the periodic series does; the chain state is left as it was) in
// a new memfd (MFD_CLOEXEC, nothing on disk), for the control channel's
// `snapshot-fd`. Returns the descriptor, positioned at 0, and the length in
// *len; or -1 with errno set (EPERM detached, ECANCELED exiting, ENOMEM).
// Takes the writer mutex; trigger "signal", SEQ 0 (outside the series).
int write_snapshot_memfd(uint64_t* len);

// Builds a snapshot and writes it to exactly `final_path` (via
// final_path + ".tmp"); used by write_snapshot and the unit tests.
// Returns 0, or an errno value.
int write_snapshot_to(const char* final_path, hs_trigger trigger, uint64_t seq);

// From the exit snapshot on, signal/interval/alert snapshots are refused
// (checked under the writer mutex, so none can start after the exit one and
// be cut off by the process exit).
void writer_begin_exit();

// Tracked live bytes in the last snapshot written (for HEAPSCOPE_ALERT),
// peak files aside; and in the last peak file (peak.h).
uint64_t last_snapshot_live_bytes();
uint64_t last_peak_snapshot_live_bytes();

void writer_lock();
void writer_unlock();
bool writer_trylock();  // true: taken
// Fork's child handler: re-initializes the mutex when prepare held it (a
// process with threads). The child's own series (SEQ from 1, a new run id)
// starts at its first snapshot, which finds a new pid.
void writer_after_fork_child(bool locked_by_prepare);
// Nanoseconds of CLOCK_MONOTONIC when the profiler started (header uptime).
void writer_set_start_time();
}  // namespace hs
