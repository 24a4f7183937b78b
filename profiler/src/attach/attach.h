// attach.h -- the attach agent's one call from the library constructor.
// (Entry points for the injector: heapscope_attach_start / heapscope_attach_stop,
// exported C symbols, see attach.cpp and tools/lib/inject/.)
#pragma once

namespace hs {
// True when the library was dlopen'd into a running process (by heapscope
// attach) instead of being preloaded or linked: then the constructor does not
// start tracking; heapscope_attach_start does. Cheap; allocation-safe.
bool attach_loaded_late();
}  // namespace hs
