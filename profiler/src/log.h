// log.h -- heapscope's stderr lines, written without allocating.
// Owns: a tiny printf subset formatting into a caller's fixed buffer, and
// log_line() which writes one "heapscope: ..." line to fd 2 with write(2).
// Safety: hook-safe (no allocation, no locks, no stdio); async-signal-safe
// except that concurrent lines from several threads may interleave.
#pragma once
#include <stdarg.h>
#include <stddef.h>

namespace hs {
// Supports %s %c %d %u %x %p %% with optional '0', width, and l/ll/z. Always
// NUL-terminates; returns the length written (truncated to cap - 1).
size_t format(char* buf, size_t cap, const char* fmt, ...) __attribute__((format(printf, 3, 4)));
size_t vformat(char* buf, size_t cap, const char* fmt, va_list ap);
// One line on stderr: "heapscope: " + message + "\n" (capped at 1 KiB).
void log_line(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
}  // namespace hs
