// foreign_text.h -- shared parsing for the text heap profiles heapscope reads
// besides its own: gperftools (gperftools_reader.cpp) and jemalloc
// (jemalloc_reader.cpp). Both are lines of decimal counts and hex stacks
// followed by a copy of /proc/self/maps after "MAPPED_LIBRARIES:".
//
// Owns: the line scanner, strict integer parsing (no sign, no overflow),
// pprof's unsampling formula, the maps section -> Profile::modules (with load
// bias and build-id from the ELF files when they exist), and totals.
// Safety: every error is a FormatError "FILE: line N: what"; no recursion;
// memory proportional to the input; integer arithmetic checked (UBSan-clean).
// Files named in the maps are opened only if regular, outside /proc and /sys,
// non-blocking, and only their ELF headers are read.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "model/profile.h"

namespace heapscope::foreign {

// Frames accepted per stack (gperftools records at most 64, jemalloc 128).
constexpr size_t kMaxFrames = 512;
// Stacks accepted per file (bounds memory to a few hundred MB whatever the
// file; a real profile has far fewer distinct stacks).
constexpr size_t kMaxSites = size_t(4) << 20;
// Largest believable average block size: the 48-bit user address space.
constexpr int64_t kMaxBlockBytes = int64_t(1) << 47;

class Lines {
 public:
  Lines(std::string_view data, const std::string& path) : data_(data), path_(path) {}
  // Next line without its "\n" (and "\r"); false at the end.
  bool next(std::string_view& line);
  size_t number() const { return number_; }
  [[noreturn]] void fail(const std::string& what) const;
  const std::string& path() const { return path_; }

 private:
  std::string_view data_;
  size_t pos_ = 0;
  size_t number_ = 0;
  const std::string& path_;
};

// A cursor over one line for token-by-token parsing.
struct Cursor {
  std::string_view s;
  size_t pos = 0;
  const Lines& lines;

  void skip_spaces();
  bool at_end();                      // after skipping spaces
  bool eat(char c);                   // skips spaces, then c
  void expect(char c, const char* what);
  bool eat_word(std::string_view w);  // skips spaces, then the exact word
  int64_t count(const char* what);    // unsigned decimal that fits int64
  uint64_t hex(const char* what);     // 0x-prefixed hex that fits uint64
  std::string_view rest();            // the remainder, spaces trimmed
};

// Parses a decimal number (what names the field for messages).
uint64_t parse_rate(std::string_view digits, const Lines& lines, const char* what);

// pprof's unsampling of one (count, bytes) pair: scale = 1 / (1 - exp(-avg /
// rate)) with avg = bytes / count, both truncated to integers; rate <= 1 means
// every allocation was recorded (no scaling). Checks the result fits int64.
void unsample(int64_t& count, int64_t& bytes, uint64_t rate, const Lines& lines);

// Checks one figure pair: bytes without blocks, an average block beyond the
// address space.
void check_pair(int64_t count, int64_t bytes, const Lines& lines, const char* what);

// Parses the lines after "MAPPED_LIBRARIES:" to the end into profile.modules.
void parse_maps(Lines& lines, Profile& profile);

// Sums the sites into profile.totals, failing if a sum overflows int64.
void sum_totals(Profile& profile);

// Sets time_unix_ns from the file's modification time when the file exists
// (neither format records when it was taken).
void set_time_from_file(Profile& profile);

}  // namespace heapscope::foreign
