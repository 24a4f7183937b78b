// jemalloc_reader.cpp -- placeholder so read_profile() links until the real
// jemalloc reader lands (owned by the export work; it replaces this file).
// Safety: never reads the data; always throws FormatError.
#include "reader/reader.h"

namespace heapscope {

Profile read_jemalloc(std::string_view, const std::string& path) {
  throw FormatError(path + ": jemalloc heap profiles are not supported yet");
}

}  // namespace heapscope
