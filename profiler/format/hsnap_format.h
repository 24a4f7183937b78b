/*
 * hsnap_format.h -- the heapscope snapshot file format (".hsnap"), version 2
 * (readers also read version 1).
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
 * Section order written by version 1: META, TOTALS, STATS, MODULES, STACKS,
 * SITES, END. Version 2: META, TOTALS, STATS, MODULES, CHAIN, FRAMES, STACKS2,
 * SITES2, END (STACKS and SITES do not appear in a version-2 file), with
 * MAPPED after SITES2 when HEAPSCOPE_MMAP=1. Readers
 * must not depend on the order except END being last.
 *
 * Version 2: a frame tree, varints, and chains (docs/snapshot-format.md)
 *   - Frames form a tree rooted at the outermost frame: node 0 is the root (no
 *     pc), nodes 1..N each have a parent with a smaller id and one return
 *     address. A stack is a leaf node: its frames, innermost first, are the pcs
 *     met walking from the leaf to the root. A new stack costs only the nodes
 *     its callers do not already have.
 *   - Frame addresses are predicted: a node's predicted pc is the pc of the
 *     latest earlier node (in id order, over the whole chain from node 1)
 *     whose parent has the same pc as this node's parent, or the parent's pc
 *     when there is none (the root's pc counts as 0). A call site usually
 *     calls one function from one place, so most nodes hit the prediction
 *     and cost one varint; a miss adds zigzag(pc - predicted).
 *   - Stacks are numbered 0..S-1 in the order they were first written; a stack
 *     is a key = leaf << 2 | hs_stack_flags. Sites refer to stack numbers; at
 *     most one site per stack.
 *   - FRAMES, STACKS2 and SITES2 payloads are an HsRun header followed by a
 *     stream of LEB128 varints (zigzag for signed deltas), zero-padded to 8.
 *   - A periodic snapshot may be chained: CHAIN names its predecessor (a file
 *     of the same process and run, by file name relative to this file's
 *     directory) and carries the predecessor's identity (seq, frame and stack
 *     counts, and the three state hashes below). Such a file holds only the
 *     frames and stacks added since the predecessor, and only the sites whose
 *     figures changed (a site whose figures are all zero is removed). The
 *     reader follows the chain; a missing or mismatching predecessor is an
 *     error naming it. A file with base_seq 0 is self-contained.
 *   - State hashes let a reader verify that it rebuilt exactly the state the
 *     writer had: frames_hash and stacks_hash chain hs_hash_step over every
 *     node (parent, pc) and every stack key in id order from 0; sites_hash is
 *     the sum (mod 2^64) of hs_site_hash over every site of the result.
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
#define HS_VERSION 2u
#define HS_VERSION_MIN 1u /* oldest version readers still read */

/* Hard limits that both the writer and the reader enforce. */
#define HS_MAX_DEPTH 512u        /* frames per stack */
#define HS_MAX_STRING 65536u     /* bytes per string (paths, command lines) */
#define HS_MAX_RANGES 256u       /* mapped ranges per module */
#define HS_MAX_FRAMES 0x3fffffffu /* frame-tree nodes (a stack key keeps 2 flag bits) */
#define HS_MAX_CHAIN 256u        /* files a reader follows back along one chain */

enum hs_mode { HS_MODE_FULL = 0, HS_MODE_SAMPLED = 1 };

enum hs_trigger {
  HS_TRIGGER_UNKNOWN = 0,
  HS_TRIGGER_SIGNAL = 1,   /* HEAPSCOPE_SIGNAL / heapscope snapshot PID */
  HS_TRIGGER_INTERVAL = 2, /* HEAPSCOPE_INTERVAL */
  HS_TRIGGER_API = 3,      /* heapscope_snapshot() */
  HS_TRIGGER_EXIT = 4,     /* at exit, before static destructors */
  HS_TRIGGER_ALERT = 5,    /* HEAPSCOPE_ALERT growth threshold */
  HS_TRIGGER_PEAK = 6,     /* HEAPSCOPE_PEAK: PREFIX.PID.peak.hsnap, a new high-water mark */
  HS_TRIGGER_OOM = 7       /* HEAPSCOPE_OOM: usage crossed a threshold of the memory limit */
};

enum hs_section_kind {
  HS_SEC_META = 1,    /* HsStringPair list: key/value text (cmdline, exe, ...) */
  HS_SEC_TOTALS = 2,  /* one HsTotals */
  HS_SEC_STATS = 3,   /* HsStat list: the profiler's own named counters */
  HS_SEC_MODULES = 4, /* u64 count, then count HsModule records */
  HS_SEC_STACKS = 5,  /* u64 count, then count HsStack records (index = stack id) */
  HS_SEC_SITES = 6,   /* u64 count, then count HsSite records */
  HS_SEC_CHAIN = 7,   /* v2: one HsChain, then the predecessor's file name padded to 8 */
  HS_SEC_FRAMES = 8,  /* v2: HsRun; per node varint((id - parent) << 1 | miss), then if miss
                         zigzag(pc - predicted pc): see "Frame addresses" above */
  HS_SEC_STACKS2 = 9, /* v2: HsRun; per stack zigzag(leaf - previous leaf) << 2 | flags */
  HS_SEC_SITES2 = 10, /* v2: HsRun; per site zigzag(stack - previous stack - 1), then the
                         figures as varints: inuse_bytes, inuse_count, alloc_bytes,
                         alloc_count, and in HS_MODE_SAMPLED sampled_inuse_count,
                         sampled_alloc_count (in full mode they equal the counts) */
  HS_SEC_MAPPED = 11, /* v2, HEAPSCOPE_MMAP=1 only: one HsMapped, then an HsRun (first = the
                         CHAIN's base_stacks) and per stack of kind "mapped" that this file
                         adds varint(number - previous - 1), previous starting at first - 1.
                         Those stacks' sites count mmap'd bytes and ranges, not heap blocks;
                         TOTALS leaves them out. A reader that skips the section reads them
                         as heap sites. */
  HS_SEC_LAST = HS_SEC_MAPPED, /* the highest numbered section but END: readers size tables by it */
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
 *   stats.allocated), rss_bytes, threads_seen, signal_handler_replaced,
 *   peak_inuse_bytes (high-water mark of tracked live bytes, the sampled
 *   estimate in sampled mode), peak_uptime_ns (when: CLOCK_MONOTONIC since
 *   start, as the header's uptime_ns), peak_unix_ns (the same in
 *   CLOCK_REALTIME), peak_snapshots (peak files written, this one included),
 *   peak_snapshot_inuse_bytes (tracked live bytes of the last peak file),
 *   mem_limit_bytes (the memory limit nearest to its usage, 0 = none),
 *   mem_limit_kind (0 none, 1 cgroup v2 memory.max, 2 cgroup v2 memory.high,
 *   3 cgroup v1 memory.limit_in_bytes, 4 RLIMIT_AS), mem_usage_bytes (usage
 *   as that limit counts it: memory.current, memory.usage_in_bytes, VmSize),
 *   oom_snapshots (HEAPSCOPE_OOM snapshots written, this one included).
 * META "mem_limit_source": the file of that limit (or "RLIMIT_AS"). */

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
  HS_STACK_OVERFLOW = 2,  /* depth 0: events that found the stack table full */
  HS_STACK_MAPPED = 4     /* the profiler's own: a stack of kind "mapped" (HEAPSCOPE_MMAP). Not in a
                             v2 stack key (2 flag bits): the MAPPED section lists such stacks */
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

/* MAPPED: the program's own anonymous mappings now (HEAPSCOPE_MMAP=1); the
 * counts are ranges (a range split by a partial munmap counts as two). */
typedef struct HsMapped {
  uint64_t inuse_bytes;
  uint64_t inuse_count;
  uint64_t alloc_bytes; /* cumulative since start */
  uint64_t alloc_count;
} HsMapped;

/* CHAIN: who this file is and what it builds on. */
typedef struct HsChain {
  uint64_t run_id;        /* random per process run (new in a fork child) */
  uint64_t start_unix_ns; /* CLOCK_REALTIME when the profiler started */
  uint64_t base_seq;      /* the predecessor's seq; 0: self-contained */
  uint32_t base_frames;   /* nodes 1..base_frames come from the predecessor chain */
  uint32_t frames;        /* nodes after this file (FRAMES adds base_frames+1..frames) */
  uint32_t base_stacks;   /* stacks 0..base_stacks-1 come from the predecessor chain */
  uint32_t stacks;        /* stacks after this file */
  uint32_t sites;         /* sites after this file */
  uint32_t base_name_len; /* bytes of the predecessor's file name that follow (0 if none) */
  uint64_t base_frames_hash, base_stacks_hash, base_sites_hash; /* the predecessor's */
  uint64_t frames_hash, stacks_hash, sites_hash;                /* after this file */
} HsChain;

/* Header of a varint stream (FRAMES, STACKS2, SITES2). */
typedef struct HsRun {
  uint32_t first; /* FRAMES: id of the first node; STACKS2: number of the first stack; SITES2: 0 */
  uint32_t count; /* entries in the stream */
  uint64_t bytes; /* stream bytes that follow (then zero padding to 8) */
} HsRun;

static inline uint64_t hs_pad8(uint64_t n) { return (n + 7u) & ~(uint64_t)7u; }

static inline uint64_t hs_zigzag(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }
static inline int64_t hs_unzigzag(uint64_t u) { return (int64_t)(u >> 1) ^ -(int64_t)(u & 1); }

/* Writes v as LEB128 (at most 10 bytes) at p; returns the bytes written. */
static inline unsigned hs_put_varint(uint8_t* p, uint64_t v) {
  unsigned n = 0;
  while (v >= 0x80) {
    p[n++] = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  p[n++] = (uint8_t)v;
  return n;
}

/* murmur3's fmix64: the writer's hashes here, the profiler's live table too. */
static inline uint64_t hs_mix64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  x ^= x >> 33;
  return x;
}
/* One step of frames_hash (a = parent, b = pc) and stacks_hash (a = key, b = 0). */
static inline uint64_t hs_hash_step(uint64_t h, uint64_t a, uint64_t b) {
  return hs_mix64(h ^ hs_mix64(a + 0x9e3779b97f4a7c15ull) ^ (hs_mix64(b) << 1));
}
/* One site's term of sites_hash. */
static inline uint64_t hs_site_hash(uint64_t stack, uint64_t inuse_bytes, uint64_t inuse_count,
                                    uint64_t alloc_bytes, uint64_t alloc_count,
                                    uint64_t sampled_inuse_count, uint64_t sampled_alloc_count) {
  uint64_t h = hs_hash_step(0x5173u, stack, inuse_bytes);
  h = hs_hash_step(h, inuse_count, alloc_bytes);
  h = hs_hash_step(h, alloc_count, sampled_inuse_count);
  return hs_hash_step(h, sampled_alloc_count, 0);
}

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
static_assert(sizeof(HsChain) == 96, "HsChain layout");
static_assert(sizeof(HsRun) == 16, "HsRun layout");
static_assert(sizeof(HsMapped) == 32, "HsMapped layout");
#else
_Static_assert(sizeof(HsFileHeader) == 64, "HsFileHeader layout");
_Static_assert(sizeof(HsSite) == 56, "HsSite layout");
_Static_assert(sizeof(HsChain) == 96, "HsChain layout");
_Static_assert(sizeof(HsRun) == 16, "HsRun layout");
#endif

#endif /* HEAPSCOPE_HSNAP_FORMAT_H */
