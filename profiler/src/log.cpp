// log.cpp -- see log.h. Hook-safe: formats into stack buffers, one write(2).
#include "log.h"

#include <errno.h>
#include <stdint.h>
#include <unistd.h>

namespace hs {
namespace {
struct Out {
  char* buf;
  size_t cap, len;
  void put(char c) {
    if (len + 1 < cap) buf[len] = c;
    ++len;
  }
};

void put_num(Out& o, unsigned long long v, unsigned base, int width, char pad, bool neg) {
  char tmp[32];
  int n = 0;
  do {
    tmp[n++] = "0123456789abcdef"[v % base];
    v /= base;
  } while (v && n < 30);
  if (neg) tmp[n++] = '-';
  for (int i = n; i < width; ++i) o.put(pad);
  while (n) o.put(tmp[--n]);
}
}  // namespace

size_t vformat(char* buf, size_t cap, const char* fmt, va_list ap) {
  Out o{buf, cap, 0};
  for (const char* p = fmt; *p; ++p) {
    if (*p != '%') {
      o.put(*p);
      continue;
    }
    ++p;
    char pad = ' ';
    int width = 0, lng = 0;
    if (*p == '0') pad = '0', ++p;
    while (*p >= '0' && *p <= '9') width = width * 10 + (*p++ - '0');
    while (*p == 'l' || *p == 'z') ++lng, ++p;
    switch (*p) {
      case 'd': {
        long long v = lng ? va_arg(ap, long long) : va_arg(ap, int);
        put_num(o, v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v, 10, width, pad, v < 0);
        break;
      }
      case 'u':
      case 'x': {
        unsigned long long v = lng ? va_arg(ap, unsigned long long) : va_arg(ap, unsigned);
        put_num(o, v, *p == 'x' ? 16 : 10, width, pad, false);
        break;
      }
      case 'p':
        o.put('0'), o.put('x');
        put_num(o, (uintptr_t)va_arg(ap, void*), 16, 0, ' ', false);
        break;
      case 's': {
        const char* s = va_arg(ap, const char*);
        if (!s) s = "(null)";
        while (*s) o.put(*s++);
        break;
      }
      case 'c':
        o.put((char)va_arg(ap, int));
        break;
      case '%':
        o.put('%');
        break;
      default:
        if (!*p) --p;
        break;
    }
  }
  if (cap) buf[o.len < cap ? o.len : cap - 1] = 0;
  return o.len < cap ? o.len : (cap ? cap - 1 : 0);
}

size_t format(char* buf, size_t cap, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  size_t n = vformat(buf, cap, fmt, ap);
  va_end(ap);
  return n;
}

void log_line(const char* fmt, ...) {
  int saved = errno;
  char line[1024] = "heapscope: ";
  const size_t pre = 11;
  va_list ap;
  va_start(ap, fmt);
  size_t n = pre + vformat(line + pre, sizeof line - pre - 1, fmt, ap);
  va_end(ap);
  line[n++] = '\n';
  for (size_t off = 0; off < n;) {
    ssize_t w = write(2, line + off, n - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) break;
    off += (size_t)w;
  }
  errno = saved;
}
}  // namespace hs
