// search_path.cpp -- see search_path.h.
#include "attach/search_path.h"

#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

namespace hs {
namespace {

// dirname of the module's file, for $ORIGIN ("" for the main program: /proc/self/exe).
bool origin_of(const struct link_map* lm, char* out, size_t n) {
  const char* name = lm->l_name;
  char exe[4096];
  if (!name || !*name) {
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (k <= 0) return false;
    exe[k] = 0;
    name = exe;
  }
  const char* slash = strrchr(name, '/');
  if (!slash) return false;
  size_t len = size_t(slash - name);
  if (len + 1 > n) return false;
  memcpy(out, name, len);
  out[len] = 0;
  return true;
}

// Tries each ':'-separated directory of list (with $ORIGIN / ${ORIGIN});
// 1 found (out set), 0 not found, -1 a token it cannot expand.
int try_list(const char* list, const struct link_map* lm, const char* name, char* out, size_t out_len) {
  char origin[4096];
  bool have_origin = false;
  for (const char* p = list; p && *p;) {
    const char* end = strchr(p, ':');
    size_t len = end ? size_t(end - p) : strlen(p);
    char dir[4096];
    size_t d = 0;
    bool ok = true;
    for (size_t i = 0; i < len && ok;) {
      if (p[i] == '$') {
        size_t tok = 0;
        if (len - i >= 7 && !strncmp(p + i, "$ORIGIN", 7)) tok = 7;
        else if (len - i >= 9 && !strncmp(p + i, "${ORIGIN}", 9)) tok = 9;
        if (!tok) return -1;
        if (!have_origin && !(have_origin = origin_of(lm, origin, sizeof origin))) return -1;
        size_t o = strlen(origin);
        if (d + o >= sizeof dir) ok = false;
        else memcpy(dir + d, origin, o), d += o;
        i += tok;
      } else {
        if (d + 1 >= sizeof dir) ok = false;
        else dir[d++] = p[i++];
      }
    }
    dir[d] = 0;
    size_t nl = strlen(name);
    if (ok && d + 1 + nl < out_len) {
      if (d == 0) dir[d++] = '.', dir[d] = 0;  // an empty entry is the working directory
      memcpy(out, dir, d);
      out[d] = '/';
      memcpy(out + d + 1, name, nl + 1);
      if (access(out, F_OK) == 0) return 1;
    }
    p = end ? end + 1 : nullptr;
  }
  return 0;
}

}  // namespace

bool search_like_caller(const char* name, uintptr_t caller, char* out, size_t out_len) {
  Dl_info info;
  struct link_map* lm = nullptr;
  if (!dladdr1(reinterpret_cast<void*>(caller), &info, reinterpret_cast<void**>(&lm), RTLD_DL_LINKMAP) || !lm ||
      !lm->l_ld)
    return false;
  const char* strtab = nullptr;
  ElfW(Xword) rpath = 0, runpath = 0;
  bool has_rpath = false, has_runpath = false;
  for (const ElfW(Dyn)* d = lm->l_ld; d->d_tag != DT_NULL; ++d) {
    if (d->d_tag == DT_STRTAB) strtab = reinterpret_cast<const char*>(d->d_un.d_ptr);  // relocated by ld.so
    if (d->d_tag == DT_RPATH) rpath = d->d_un.d_val, has_rpath = true;
    if (d->d_tag == DT_RUNPATH) runpath = d->d_un.d_val, has_runpath = true;
  }
  if (!strtab) return false;
  int r = 0;
  if (has_rpath && !has_runpath && (r = try_list(strtab + rpath, lm, name, out, out_len)) != 0) return r > 0;
  if ((r = try_list(getenv("LD_LIBRARY_PATH"), lm, name, out, out_len)) != 0) return r > 0;
  if (has_runpath && (r = try_list(strtab + runpath, lm, name, out, out_len)) != 0) return r > 0;
  return false;
}

}  // namespace hs
