/*
 * hsnap_format.h -- the heapscope snapshot file format (".hsnap"), version 1.
 *
 * Owns: the magic, the version, the section kinds and every record layout.
 * Shared by the in-process writer (profiler/snapshot_writer) and the offline
 * reader (tools/lib/reader/hsnap_reader). Plain C, no includes beyond
 * <stdint.h>, usable from C and C++. docs/snapshot-format.md explains it in prose.
 *
 * Encoding
 *   - Little-endian, fixed-width integers; every record starts 8-byte aligned.
 *   - File = FileHeader, then sections, each a SectionHeader followed by
 *     `size` bytes of payload (`size` is a multiple of 8), then END last.
 *   - Strings are length-prefixed (no terminator) and padded with zero bytes
 *     to the next multiple of 8; hs_pad8() gives the padded length.
 *   - Readers must skip sections whose kind they do not know (forward compat
 *     within a version), and must refuse a file whose version is newer than
 *     theirs, naming both versions.
 *   - A file is complete only if its last section is END and END's payload
 *     equals the file size. Writers write to a temporary name and rename, so
 *     an incomplete file is a bug or a copy gone wrong, never a normal state.
 *
 * Section order written by heapscope 1: META, TOTALS, STATS, MODULES, STACKS,
 * SITES, END. Readers must not depend on the order except END being last.
 *
 * Addresses
 *   Stack frames are raw return addresses as captured (innermost first, the
 *   profiler's own frames already removed). A return address points after the
 *   call instruction; the symbolizer subtracts 1 (in one place) before lookup.
 *   Modules carry their load bias and mapped ranges so a frame resolves
 *   offline: elf_vaddr = pc - load_bias.
 *
 * Sampling
 *   In HS_MODE_SAMPLED, per-site and total figures are unbiased estimates
 *   (each sampled block of size s weighs 1/p with p = 1 - exp(-s/period)),
 *   rounded to integers, computed identically at allocation and free so live
 *   figures return to exactly zero. The raw sampled block counts are in
 *   SiteRecord.sampled_inuse_count / sampled_alloc_count. In HS_MODE_FULL
 *   the figures are exact and equal to the sampled_* ones.
 */
#ifndef HEAPSCOPE_HSNAP_FORMAT_H
#define HEAPSCOPE_HSNAP_FORMAT_H

#include <stdint.h>

#define HS_MAGIC "HSNAP\r\n\032" /* 8 bytes, no terminator written */
#define HS_MAGIC_LEN 8
#define HS_VERSION 1u

/* Hard limits that both the writer and the reader enforce. */
#define HS_MAX_DEPTH 512u        /* frames per stack */
#define HS_MAX_STRING 65536u     /* bytes per string (paths, command lines) */
#define HS_MAX_RANGES 256u       /* mapped ranges per module */

enum hs_mode { HS_MODE_FULL = 0, HS_MODE_SAMPLED = 1 };

enum hs_trigger {
  HS_TRIGGER_UNKNOWN = 0,
  HS_TRIGGER_SIGNAL = 1,   /* HEAPSCOPE_SIGNAL / heapscope snapshot PID */
  HS_TRIGGER_INTERVAL = 2, /* HEAPSCOPE_INTERVAL */
  HS_TRIGGER_API = 3,      /* heapscope_snapshot() */
  HS_TRIGGER_EXIT = 4,     /* at exit, before static destructors */
  HS_TRIGGER_ALERT = 5     /* HEAPSCOPE_ALERT growth threshold */
};

enum hs_section_kind {
  HS_SEC_META = 1,    /* HsStringPair list: key/value text (cmdline, exe, ...) */
  HS_SEC_TOTALS = 2,  /* one HsTotals */
  HS_SEC_STATS = 3,   /* HsStat list: the profiler's own named counters */
  HS_SEC_MODULES = 4, /* u64 count, then count HsModule records */
  HS_SEC_STACKS = 5,  /* u64 count, then count HsStack records (index = stack id) */
  HS_SEC_SITES = 6,   /* u64 count, then count HsSite records */
  HS_SEC_END = 0x7fffffff /* u64 total file size, last section */
};

typedef struct HsFileHeader {
  char magic[HS_MAGIC_LEN]; /* HS_MAGIC */
  uint32_t version;         /* HS_VERSION of the writer */
  uint32_t header_size;     /* sizeof(HsFileHeader); readers skip any extra */
  uint64_t pid;
  uint64_t time_unix_ns;    /* CLOCK_REALTIME when the snapshot began */
  uint64_t uptime_ns;       /* CLOCK_MONOTONIC ns since the profiler started */
  uint32_t mode;            /* enum hs_mode */
  uint32_t trigger;         /* enum hs_trigger */
  uint64_t sample_period;   /* mean bytes between samples; 0 in full mode */
  uint64_t seq;             /* sequence number in the file name; 0 for exit */
} HsFileHeader;

typedef struct HsSectionHeader {
  uint32_t kind;  /* enum hs_section_kind */
  uint32_t flags; /* 0 */
  uint64_t size;  /* payload bytes that follow, a multiple of 8 */
} HsSectionHeader;

/* META and STATS payloads are a sequence of entries until the payload ends. */
typedef struct HsStringPair {
  uint32_t key_len;
  uint32_t value_len;
  /* key bytes, padded to 8; value bytes, padded to 8 */
} HsStringPair;

/* Known META keys: "cmdline" (arguments separated by NUL bytes), "exe"
 * (/proc/self/exe target), "allocator" (glibc|jemalloc|tcmalloc|unknown),
 * "unwinder" (cfi|libunwind|fp|cfi+check: see docs/architecture.md),
 * "heapscope_version", "hostname". */

typedef struct HsStat {
  uint64_t value;
  uint32_t name_len;
  uint32_t reserved;
  /* name bytes, padded to 8 */
} HsStat;

/* Known STATS names (all counters since start unless said otherwise):
 *   hook_calls, before_start_blocks, before_start_bytes, unknown_frees,
 *   truncated_stacks, unwind_failures, dropped_events, stack_table_full,
 *   self_memory_bytes (profiler's own mapped memory now), snapshot_ns (time
 *   this snapshot took so far), live_table_entries, stacks,
 *   allocator_inuse_bytes (mallinfo2().uordblks+hblkhd on glibc, jemalloc
 *   stats.allocated), rss_bytes, threads_seen, signal_handler_replaced. */

typedef struct HsTotals {
  uint64_t inuse_bytes;
  uint64_t inuse_count;
  uint64_t alloc_bytes; /* cumulative since start */
  uint64_t alloc_count;
  uint64_t free_count;  /* cumulative tracked frees */
  uint64_t reserved[3];
} HsTotals;

enum hs_module_flags {
  HS_MODULE_MAIN = 1,     /* the main executable */
  HS_MODULE_UNLOADED = 2, /* dlclose'd since it was seen; kept so frames resolve */
  HS_MODULE_VDSO = 4
};

typedef struct HsRange {
  uint64_t start;       /* runtime address of a PT_LOAD segment */
  uint64_t end;         /* exclusive */
  uint64_t file_offset; /* p_offset of the segment */
  uint64_t flags;       /* p_flags (PF_X = 1, PF_W = 2, PF_R = 4) */
} HsRange;

typedef struct HsModule {
  uint64_t load_bias;    /* dlpi_addr: runtime address = ELF vaddr + load_bias */
  uint32_t path_len;
  uint32_t build_id_len; /* raw bytes of NT_GNU_BUILD_ID, 0 if none */
  uint32_t range_count;  /* <= HS_MAX_RANGES */
  uint32_t flags;        /* enum hs_module_flags */
  /* range_count HsRange; path bytes padded to 8; build-id bytes padded to 8 */
} HsModule;

enum hs_stack_flags {
  HS_STACK_TRUNCATED = 1, /* cut at the depth limit */
  HS_STACK_OVERFLOW = 2   /* depth 0: events that found the stack table full */
};

typedef struct HsStack {
  uint32_t depth; /* <= HS_MAX_DEPTH */
  uint32_t flags; /* enum hs_stack_flags */
  /* depth uint64_t return addresses, innermost first */
} HsStack;

typedef struct HsSite {
  uint32_t stack;    /* index into STACKS */
  uint32_t reserved;
  uint64_t inuse_bytes;
  uint64_t inuse_count;
  uint64_t alloc_bytes;
  uint64_t alloc_count;
  uint64_t sampled_inuse_count; /* raw sampled blocks (== inuse_count in full mode) */
  uint64_t sampled_alloc_count;
} HsSite;

static inline uint64_t hs_pad8(uint64_t n) { return (n + 7u) & ~(uint64_t)7u; }

#ifdef __cplusplus
static_assert(sizeof(HsFileHeader) == 64, "HsFileHeader layout");
static_assert(sizeof(HsSectionHeader) == 16, "HsSectionHeader layout");
static_assert(sizeof(HsStringPair) == 8, "HsStringPair layout");
static_assert(sizeof(HsStat) == 16, "HsStat layout");
static_assert(sizeof(HsTotals) == 64, "HsTotals layout");
static_assert(sizeof(HsRange) == 32, "HsRange layout");
static_assert(sizeof(HsModule) == 24, "HsModule layout");
static_assert(sizeof(HsStack) == 8, "HsStack layout");
static_assert(sizeof(HsSite) == 56, "HsSite layout");
#else
_Static_assert(sizeof(HsFileHeader) == 64, "HsFileHeader layout");
_Static_assert(sizeof(HsSite) == 56, "HsSite layout");
#endif

#endif /* HEAPSCOPE_HSNAP_FORMAT_H */
