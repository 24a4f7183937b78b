// snap_audit.c -- an LD_AUDIT library: when the dynamic linker reports a new
// object whose name contains "hs_dl_lib" (la_objopen, called while the loader
// adds it: r_debug.r_state is RT_ADD), it raises the snapshot signal.
#define _GNU_SOURCE
#include <link.h>
#include <signal.h>
#include <string.h>

unsigned int la_version(unsigned int version) { return version < LAV_CURRENT ? version : LAV_CURRENT; }

unsigned int la_objopen(struct link_map* map, Lmid_t lmid, uintptr_t* cookie) {
  (void)lmid;
  (void)cookie;
  if (map->l_name && strstr(map->l_name, "hs_dl_lib")) raise(SIGUSR2);
  return 0;
}
