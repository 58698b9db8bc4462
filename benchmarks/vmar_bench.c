/* SPDX-License-Identifier: MIT */
/*
 * vmar_bench: libvmar (sim or x86-64 backend, --mmu; x86-64 for fork, remap
 * and fault_cow) side by side with the host kernel's own VMA code, reached
 * through the syscalls and page faults, in one process run.
 *
 * Both sides run the same scenario code over the same layout: N mappings
 * of 3 pages (read-write, anonymous) at a stride of 4 pages, so that the
 * free page between two mappings keeps them from merging. Per scenario:
 *
 *   split_*, merge_*  protect the middle page of each of the N mappings
 *                     read-only (one mapping becomes three), then back
 *                     (three merge into one); in batches of K, sequential
 *                     or random order. One op = one protect call.
 *   map_fixed,        map a 1-page read-only mapping at a fixed address in
 *   unmap_fixed       a random free page between two mappings (it cannot
 *                     merge), K of them, then unmap them. One op = one call.
 *   map_any           map 1 page anywhere (top-down), K times, alternating
 *                     the permissions so that no two placed pages merge.
 *   query             the mapping containing a random page: vmar_query()
 *                     against mincore() of one page (see PERFORMANCE.md).
 *   fault_zero        the first write to a page of a mapping (demand-zero:
 *                     a zeroed frame is mapped), K pages, each in its own
 *                     mapping: vmar_fault() called directly (no trap)
 *                     against a store that takes Linux's page fault.
 *   fault_spur        vmar_fault() again on each of those pages, now
 *                     present and writable (another CPU won the race, a
 *                     stale TLB entry). libvmar only: on Linux such a store
 *                     does not fault.
 *   mt_sepT,          fault throughput with T threads (T = 1, 2, then
 *   mt_oneT,          doubling up to the online CPUs, and their count),
 *   mt_churnT         K = 2048 demand-zero write faults per thread (--quick:
 *                     256): in mt_sep each thread's pages are a mapping of
 *                     its own; in mt_one all are in one mapping, each
 *                     thread's in 2 MiB blocks (leaf tables) of its own;
 *                     mt_churn is mt_one while one more thread maps and
 *                     unmaps a page 1 GiB away in a loop. libvmar: one
 *                     space on the --mmu backend over the sim's locked env
 *                     (faults take the space lock shared; frames come
 *                     from per-thread caches), vmar_fault() per page;
 *                     Linux: pthreads of this process storing to fresh
 *                     anonymous mappings of the same layout, the layout
 *                     thread doing mmap/munmap. One op = one fault; ns/op
 *                     is wall time from the threads' common start to the
 *                     last join over all faults of all threads. N is K
 *                     per thread; the scenario name ends in T (mt_sep2,
 *                     in the table and the CSV).
 *                     The notes give M faults/s, the scaling against
 *                     1 thread and mt_churn against mt_one (see the fault
 *                     throughput section below). Not in --callgrind.
 *   remap             move a populated 64-page mapping to another place and
 *                     back, K moves: vmar_remap() (x86-64 backend) against
 *                     mremap(), both with MAYMOVE|FIXED. One op = one move.
 *   fork              fork of a space / process with N resident written
 *                     pages (N = 256, 4096, 65536), per page: vmar_fork()
 *                     plus the destruction of the child, on the x86-64
 *                     backend, against fork() + the child's _exit(0) +
 *                     waitpid() in a freshly exec'd worker (see the fork
 *                     section below).
 *   fault_cow         the first write to a page that fork shares
 *                     (copy-on-write break: a new frame, the copy, the
 *                     leaf rewritten), N = 1 000 and 10 000 pages of a
 *                     child: vmar_fault() on the x86-64 backend (also
 *                     env->frame_alloc calls per fault) against the
 *                     stores of a child forked by a freshly exec'd worker
 *                     that wrote the N pages (see the fault_cow section).
 *   index after churn the index nodes of the largest layout that the
 *                     split and merge scenarios ran on, when built and
 *                     after all their repetitions (libvmar only; printed
 *                     after the metadata per mapping).
 *   memory latency,   the machine's price of a miss (dependent loads over
 *   lookup floor      buffers of 32 KiB to 64 MiB) and the two dependent
 *                     misses of an ideal lookup with no descent, at 1 000,
 *                     100 000 and 1 000 000 mappings, for independent
 *                     lookups (which the core overlaps) and one at a time
 *                     (each waits for the one before); printed last, not
 *                     with --quick, --only or --callgrind.
 *
 * The libvmar side runs over the "embedder env" (--env embed, the default):
 * the sim machine's env with the hooks a kernel would supply cheaply
 * replaced, i.e. metadata from bench_slab (a slab/bump allocator),
 * reference counts in an array (a page array) and, for the x86-64 backend,
 * frame addresses by an addition (a direct map), without the sim's checks
 * and mutex. Frame allocation stays the sim's, from a pool on 2 MiB host
 * pages as a kernel's direct map is (vmar_sim_opts.huge_pages; on 4 KiB
 * pages, in this benchmark's PVM guest, libvmar's demand-zero faults at
 * 60 000 mappings took 3-9 us instead of 1.3 us whenever the Linux side
 * had just run: docs/PERFORMANCE.md). --env embed4k: slab and pool on
 * 4 KiB pages. --env sim: the sim env unchanged (pool on 4 KiB pages).
 *
 * Each scenario runs `reps` times (rep outer, scenarios inner, so a drift
 * of the machine spreads over all of them); the table gives the median,
 * minimum and maximum of the per-op times of the repetitions. The Linux
 * side is capped at what vm.max_map_count allows (never changed here).
 *
 * --callgrind (run under valgrind --tool=callgrind --instr-atstart=no, see
 * callgrind.sh): libvmar side only, one batch per scenario, each bracketed
 * by CALLGRIND_START_INSTRUMENTATION/ZERO_STATS and DUMP_STATS_AT, so every
 * dump holds exactly the instructions of `ops` operations.
 *
 * --callgrind-cache (run under valgrind --tool=callgrind --cache-sim=yes
 * --collect-atstart=no, see callgrind.sh --cache): the same batches, but
 * the whole run is instrumented and each batch is bracketed by
 * CALLGRIND_TOGGLE_COLLECT instead, so the simulated caches stay warm
 * between batches (the layout was built, the previous scenarios ran) as
 * they are in a timed run. Each dump then holds the simulated misses of
 * `ops` operations: a count that, unlike the wall clock, does not move
 * with the load of a shared machine.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <vmar/fault.h>
#include <vmar/sim.h>
#include <vmar/vmar.h>
#include <vmar/x86_64.h>

#ifdef VMAR_HAVE_CALLGRIND_H
#include <valgrind/callgrind.h>
#endif

#define PG     ((uintptr_t)4096)
#define LEN    (3 * PG) /* one mapping */
#define STRIDE (4 * PG) /* mapping + one free page */

/* libvmar's layout starts here (the sim's user range is 47 bits). */
#define LIB_BASE ((uintptr_t)0x100000000)

#define MAX_REPS    31
#define LOOKUP_ADDR 65536u /* precomputed random lookup addresses */

/* ---------------------------------------------------------------- config */

/* The libvmar side's env (see the top of the file and bench_env()). */
enum env_kind {
    ENV_SIM,    /* vmar_sim_env() as it is */
    ENV_EMBED,  /* embedder hooks; bench_slab and frames on 2 MiB pages */
    ENV_EMBED4K /* the same on 4 KiB pages */
};

/* The backend of the layout scenarios (split/merge, map/unmap, placement,
 * query, faults; see --mmu). */
enum mmu_kind {
    MMU_SIM, /* vmar_mmu_sim: the test backend (table lock, TLB records) */
    MMU_X86 /* vmar_mmu_x86_64_4l over the sim's frames: what a kernel embeds */
};

struct config {
    bool quick;
    bool callgrind;
    bool callgrind_cache; /* warm simulated caches (implies callgrind) */
    bool no_linux;
    const char *only; /* --only: one group of rows, NULL: all */
    unsigned reps;
    size_t batch;   /* K: ops per timed batch */
    size_t lookups; /* queries per repetition */
    size_t floor_calls;
    size_t max_n;
    const char *csv;
    enum env_kind env;
    enum mmu_kind mmu;
};

static struct config cfg = {
    .reps = 5,
    .batch = 1000,
    .lookups = 200000,
    .floor_calls = 100000,
    .max_n = (size_t)-1,
    .env = ENV_EMBED,
    .mmu = MMU_SIM,
};

/* Sizes: placement, query and map_fixed use all; split/merge the first
 * three (the issue's 1 000, 10 000, 60 000). */
static const size_t full_ns[] = {1000, 10000, 60000, 100000, 1000000};
static const size_t full_split_max = 60000;
static const size_t quick_ns[] = {100, 1000};
static const size_t quick_split_max = 1000;

_Noreturn __attribute__((format(printf, 1, 2))) static void die(const char *fmt,
                                                                ...)
{
    va_list ap;

    va_start(ap, fmt);
    fputs("vmar_bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static double now_ns(void)
{
    struct timespec ts;

    if (cfg.callgrind)
        return 0;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static uint64_t rng_state = 0x5eed;

static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static void *xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);

    if (!p)
        die("out of memory (%zu bytes)", size);
    return p;
}

static void shuffle(size_t *a, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(rnd() % i), t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

/* ------------------------------------------------------- callgrind marks */

static double region_begin(void)
{
#ifdef VMAR_HAVE_CALLGRIND_H
    if (cfg.callgrind_cache) {
        CALLGRIND_ZERO_STATS;
        CALLGRIND_TOGGLE_COLLECT;
    } else if (cfg.callgrind) {
        CALLGRIND_START_INSTRUMENTATION;
        CALLGRIND_ZERO_STATS;
    }
#endif
    return now_ns();
}

static double region_end(double t0, const char *scenario, size_t n, size_t ops)
{
    double t = now_ns() - t0;

#ifdef VMAR_HAVE_CALLGRIND_H
    if (cfg.callgrind) {
        char label[128];

        snprintf(label, sizeof(label), "scenario=%s n=%zu ops=%zu", scenario, n,
                 ops);
        if (cfg.callgrind_cache)
            CALLGRIND_TOGGLE_COLLECT;
        CALLGRIND_DUMP_STATS_AT(label);
        if (!cfg.callgrind_cache)
            CALLGRIND_STOP_INSTRUMENTATION;
    }
#else
    (void)scenario;
    (void)n;
    (void)ops;
#endif
    return t;
}

/* ------------------------------------------------ benchmark allocator */

/*
 * bench_slab: what a kernel embedder's slab gives libvmar (env->alloc and
 * env->free are the embedder's hooks), for the libvmar side of the
 * benchmark unless --env sim. Objects of one size class (the size
 * rounded up to 16 bytes, up to 1 KiB) come from per-class free lists,
 * else from a bump pointer through 2 MiB chunks, so that blocks allocated
 * one after the other are adjacent, without headers. With --env embed
 * the chunks are backed by 2 MiB pages (MADV_HUGEPAGE), as a kernel's
 * direct map is; with --env embed4k by 4 KiB pages. Larger blocks go to
 * aligned_alloc. Single-threaded: the mt_* rows keep the sim's locked
 * env, whose frames come from per-thread caches (a fault takes no
 * machine-wide lock: vmar/sim.h), with metadata from malloc (mt_alloc),
 * so they measure libvmar's own locks.
 */
#define SLAB_CHUNK   ((size_t)2 << 20)
#define SLAB_MAX     1024
#define SLAB_CLASSES (SLAB_MAX / 16 + 1)

static struct {
    unsigned char *cur, *end;
    void *free_list[SLAB_CLASSES];
    void **chunks;
    size_t nchunks;
    size_t bytes_live; /* requested bytes, as the sim's alloc_bytes_live */
} bslab;

static size_t slab_stride(size_t size)
{
    return size ? (size + 15) & ~(size_t)15 : 16;
}

static void *slab_alloc(void *ctx, size_t size, size_t align)
{
    size_t stride = slab_stride(size);
    size_t calign = stride & -stride; /* carving alignment of the class */
    void *p;

    (void)ctx;
    if (calign > 64)
        calign = 64;
    if (stride > SLAB_MAX) {
        p = aligned_alloc(64, (stride + 63) & ~(size_t)63);
        if (p)
            bslab.bytes_live += size;
        return p;
    }
    if (align > calign)
        die("bench_slab: alignment %zu for %zu bytes not supported", align,
            size);
    p = bslab.free_list[stride / 16];
    if (p) {
        bslab.free_list[stride / 16] = *(void **)p;
    } else {
        unsigned char *c =
            (unsigned char *)(((uintptr_t)bslab.cur + calign - 1) &
                              ~(uintptr_t)(calign - 1));
        if (!bslab.cur || c + stride > bslab.end) {
            void **nc = realloc(bslab.chunks,
                                (bslab.nchunks + 1) * sizeof(*bslab.chunks));
            if (!nc)
                return NULL;
            bslab.chunks = nc;
            c = aligned_alloc(SLAB_CHUNK, SLAB_CHUNK);
            if (!c)
                return NULL;
            madvise(c, SLAB_CHUNK,
                    cfg.env == ENV_EMBED ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
            bslab.chunks[bslab.nchunks++] = c;
            bslab.end = c + SLAB_CHUNK;
        }
        p = c;
        bslab.cur = c + stride;
    }
    bslab.bytes_live += size;
    return p;
}

static void slab_free(void *ctx, void *ptr, size_t size)
{
    size_t stride = slab_stride(size);

    (void)ctx;
    if (!ptr)
        return;
    bslab.bytes_live -= size;
    if (stride > SLAB_MAX) {
        free(ptr);
        return;
    }
    *(void **)ptr = bslab.free_list[stride / 16];
    bslab.free_list[stride / 16] = ptr;
}

static void slab_fini(void)
{
    for (size_t i = 0; i < bslab.nchunks; i++)
        free(bslab.chunks[i]);
    free(bslab.chunks);
    memset(&bslab, 0, sizeof(bslab));
}

/*
 * The frames of a machine as an embedder sees them: phys_to_virt is an
 * addition (a direct map) and each frame's reference count a word of an
 * array (a page array), where the sim env checks the address, takes its
 * mutex and looks the frame's state up. At most two machines at a time
 * (the_sim and fork's). The sim's own reference-count words stay 0, which
 * its frame_free checks.
 */
#define BENCH_PHYS_BASE ((vmar_paddr_t)0x100000000)

static struct bench_frames {
    const void *sim;
    unsigned char *mem; /* frame 0 */
    size_t *refs;
} bframes[2];

static struct bench_frames *bframes_of(const void *ctx)
{
    return bframes[0].sim == ctx ? &bframes[0] : &bframes[1];
}

static void *bench_phys_to_virt(void *ctx, vmar_paddr_t pa)
{
    return bframes_of(ctx)->mem + (size_t)(pa - BENCH_PHYS_BASE);
}

static size_t *bench_frame_refcount(void *ctx, vmar_paddr_t pa)
{
    return &bframes_of(ctx)
                ->refs[(size_t)(pa - BENCH_PHYS_BASE) / VMAR_PAGE_SIZE];
}

/* Create a machine of nframes frames at BENCH_PHYS_BASE. */
static struct vmar_sim *bench_sim_create(size_t nframes)
{
    struct vmar_sim_opts so = {.nframes = nframes,
                               .phys_base = BENCH_PHYS_BASE,
                               .huge_pages = cfg.env == ENV_EMBED};
    struct vmar_sim *sim;
    int rc = vmar_sim_create(&so, &sim);

    if (rc)
        die("vmar_sim_create(%zu frames): %s", nframes, vmar_strerror(rc));
    if (cfg.env != ENV_SIM) {
        struct bench_frames *f = !bframes[0].sim ? &bframes[0] : &bframes[1];
        const struct vmar_env *e = vmar_sim_env(sim);
        if (f->sim)
            die("bench_sim_create: more than two machines");
        f->sim = sim;
        f->mem = e->phys_to_virt(sim, BENCH_PHYS_BASE);
        f->refs = calloc(nframes, sizeof(size_t));
        if (!f->refs)
            die("out of memory");
    }
    return sim;
}

static void bench_sim_destroy(struct vmar_sim *sim)
{
    for (size_t i = 0; i < 2; i++) {
        if (bframes[i].sim == sim) {
            free(bframes[i].refs);
            memset(&bframes[i], 0, sizeof(bframes[i]));
        }
    }
    vmar_sim_destroy(sim);
}

/* The env of the libvmar side over machine `sim` (from bench_sim_create):
 * the sim's own, or with the embedder's hooks (bench_slab, page array and,
 * with `direct_map`, the direct map) in place of the sim's. The sim backend
 * insists on the sim's own phys_to_virt (a range check, no lock); the
 * hardware-format backends take any. */
static const struct vmar_env *bench_env(struct vmar_sim *sim, bool direct_map,
                                        struct vmar_env *buf)
{
    const struct vmar_env *e = vmar_sim_env(sim);

    if (cfg.env == ENV_SIM)
        return e;
    *buf = *e;
    buf->alloc = slab_alloc;
    buf->free = slab_free;
    if (direct_map)
        buf->phys_to_virt = bench_phys_to_virt;
    buf->frame_refcount = bench_frame_refcount;
    return buf;
}

static const char *mmu_name(void)
{
    return cfg.mmu == MMU_X86 ? "x86-64 4-level" : "sim";
}

static const char *env_name(void)
{
    return cfg.env == ENV_SIM ? "sim env"
           : cfg.env == ENV_EMBED
               ? "embedder env, slab and frames on 2 MiB pages"
               : "embedder env, slab and frames on 4 KiB pages";
}

/* ------------------------------------------------------------- the sides */

enum side_kind {
    SIDE_LIB,
    SIDE_LINUX
};

struct side {
    enum side_kind kind;
    uintptr_t base; /* slot 0 of the layout */
    struct vmar_sim *sim;
    struct vmar_space *sp;
};

static unsigned lib_prot(int prot)
{
    return ((prot & PROT_READ) ? VMAR_PROT_READ : 0) |
           ((prot & PROT_WRITE) ? VMAR_PROT_WRITE : 0) |
           ((prot & PROT_EXEC) ? VMAR_PROT_EXEC : 0);
}

static uintptr_t slot(const struct side *s, size_t i)
{
    return s->base + i * STRIDE;
}

static void op_map_fixed(struct side *s, uintptr_t a, size_t len, int prot)
{
    if (s->kind == SIDE_LIB) {
        struct vmar_map_opts o = {
            .size = len,
            .addr = a,
            .place = VMAR_PLACE_FIXED_NOREPLACE,
            .prot = lib_prot(prot),
        };
        int rc = vmar_map(s->sp, &o, NULL);
        if (rc)
            die("vmar_map(%#" PRIxPTR "): %s", a, vmar_strerror(rc));
    } else {
        void *p = mmap((void *)a, len, prot,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
                           MAP_FIXED_NOREPLACE,
                       -1, 0);
        if (p != (void *)a)
            die("mmap(%#" PRIxPTR ", MAP_FIXED_NOREPLACE): %s", a,
                p == MAP_FAILED ? strerror(errno) : "placed elsewhere");
    }
}

static uintptr_t op_map_any(struct side *s, size_t len, int prot)
{
    if (s->kind == SIDE_LIB) {
        struct vmar_map_opts o = {.size = len, .prot = lib_prot(prot)};
        vmar_addr_t a;
        int rc = vmar_map(s->sp, &o, &a);
        if (rc)
            die("vmar_map(any): %s", vmar_strerror(rc));
        return (uintptr_t)a;
    }
    void *p = mmap(NULL, len, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    if (p == MAP_FAILED)
        die("mmap(NULL): %s", strerror(errno));
    return (uintptr_t)p;
}

static void op_unmap(struct side *s, uintptr_t a, size_t len)
{
    if (s->kind == SIDE_LIB) {
        int rc = vmar_unmap(s->sp, a, len);
        if (rc)
            die("vmar_unmap(%#" PRIxPTR "): %s", a, vmar_strerror(rc));
    } else if (munmap((void *)a, len) != 0) {
        die("munmap(%#" PRIxPTR "): %s", a, strerror(errno));
    }
}

static void op_protect(struct side *s, uintptr_t a, size_t len, int prot)
{
    if (s->kind == SIDE_LIB) {
        int rc = vmar_protect(s->sp, a, len, lib_prot(prot));
        if (rc)
            die("vmar_protect(%#" PRIxPTR "): %s", a, vmar_strerror(rc));
    } else if (mprotect((void *)a, len, prot) != 0) {
        die("mprotect(%#" PRIxPTR "): %s", a, strerror(errno));
    }
}

/* The mapping containing `a` (which is mapped): libvmar's fault-path
 * lookup; for Linux, mincore() of the page, the cheapest syscall whose
 * work is a VMA lookup of an address (plus a walk of an empty page
 * table). */
static void op_lookup(struct side *s, uintptr_t a)
{
    if (s->kind == SIDE_LIB) {
        struct vmar_mapping_info info;
        int rc = vmar_query(s->sp, a, &info);
        if (rc || info.start > a || info.end <= a)
            die("vmar_query(%#" PRIxPTR "): %s", a, vmar_strerror(rc));
    } else {
        unsigned char vec;
        if (mincore((void *)a, PG, &vec) != 0)
            die("mincore(%#" PRIxPTR "): %s", a, strerror(errno));
    }
}

/* Write to the page at `a`, which is mapped read-write and not present:
 * for libvmar, what a trap handler does on the page fault of that store;
 * for Linux, the store itself. */
static void op_touch(struct side *s, uintptr_t a)
{
    if (s->kind == SIDE_LIB) {
        int rc = vmar_fault(s->sp, a, VMAR_ACCESS_WRITE, VMAR_FAULT_USER);
        if (rc)
            die("vmar_fault(%#" PRIxPTR "): %s", a, vmar_strerror(rc));
    } else {
        *(volatile unsigned char *)a = 1;
    }
}

/* --------------------------------------------------------------- layout */

static struct vmar_sim *the_sim;
static struct vmar_env the_env_buf;

/* The x86-64 backend's config of the --mmu x86_64 rows (layout, mt_*). */
static const struct vmar_x86_64_config layout_xcfg = {.pcid = 3};

static size_t lib_meta_bytes(void)
{
    struct vmar_sim_stats st;

    if (cfg.env != ENV_SIM)
        return bslab.bytes_live;
    vmar_sim_stats(the_sim, &st);
    return st.alloc_bytes_live;
}

/*
 * The layout region is [base, base + n * STRIDE). libvmar gets a fresh
 * space whose user range ends at the region's top; Linux gets a free range
 * found by the kernel (top-down, so normally right below other mappings).
 * Either way the highest free pages are the holes of the layout, where
 * map_any's top-down placement lands on both sides.
 */
static void layout_create(struct side *s, size_t n)
{
    if (s->kind == SIDE_LIB) {
        const bool x86 = cfg.mmu == MMU_X86;
        struct vmar_space_opts o = {
            .env = bench_env(the_sim, x86, &the_env_buf),
            .mmu = x86 ? &vmar_mmu_x86_64_4l : &vmar_mmu_sim,
            .mmu_config =
                x86 ? (const void *)&layout_xcfg : (const void *)the_sim,
            .user_hi = LIB_BASE + n * STRIDE,
            .max_map_count = 2 * n + 4 * cfg.batch + 1024,
        };
        int rc = vmar_space_create(&o, &s->sp);
        if (rc)
            die("vmar_space_create: %s", vmar_strerror(rc));
        s->base = LIB_BASE;
    } else {
        size_t bytes = n * STRIDE;
        void *p = mmap(NULL, bytes, PROT_NONE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED)
            die("mmap(%zu bytes): %s", bytes, strerror(errno));
        munmap(p, bytes);
        s->base = (uintptr_t)p;
    }
}

static void layout_fill(struct side *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        op_map_fixed(s, slot(s, i), LEN, PROT_READ | PROT_WRITE);
}

static void layout_teardown(struct side *s, size_t n)
{
    if (s->kind == SIDE_LIB) {
        vmar_space_destroy(s->sp);
        s->sp = NULL;
    } else if (munmap((void *)s->base, n * STRIDE) != 0) {
        die("munmap(layout): %s", strerror(errno));
    }
}

/* ------------------------------------------------------------ scenarios */

/* Protect the middle page of every mapping read-only and back, in batches
 * of K (so Linux's count grows by at most 2K). */
static void run_split_merge(struct side *s, size_t n, const size_t *order,
                            const char *sname, const char *mname,
                            double *split_ns, double *merge_ns)
{
    double ts = 0, tm = 0;
    size_t done = 0;

    for (size_t b = 0; b < n; b += cfg.batch) {
        size_t e = b + cfg.batch < n ? b + cfg.batch : n;
        double t0 = region_begin();
        for (size_t i = b; i < e; i++)
            op_protect(s, slot(s, order[i]) + PG, PG, PROT_READ);
        ts += region_end(t0, sname, n, e - b);
        t0 = region_begin();
        for (size_t i = b; i < e; i++)
            op_protect(s, slot(s, order[i]) + PG, PG, PROT_READ | PROT_WRITE);
        tm += region_end(t0, mname, n, e - b);
        done = e;
        if (cfg.callgrind)
            break;
    }
    *split_ns = ts / (double)done;
    *merge_ns = tm / (double)done;
}

/* Map K read-only pages at random free pages between mappings (they merge
 * with nothing), then unmap them. */
static void run_fixed(struct side *s, size_t n, const size_t *perm,
                      double *map_ns, double *unmap_ns)
{
    size_t k = cfg.batch < n ? cfg.batch : n;
    double t0 = region_begin();

    for (size_t i = 0; i < k; i++)
        op_map_fixed(s, slot(s, perm[i]) + LEN, PG, PROT_READ);
    *map_ns = region_end(t0, "map_fixed", n, k) / (double)k;
    t0 = region_begin();
    for (size_t i = 0; i < k; i++)
        op_unmap(s, slot(s, perm[i]) + LEN, PG);
    *unmap_ns = region_end(t0, "unmap_fixed", n, k) / (double)k;
}

/* Map K pages anywhere (they land in the highest holes of the layout),
 * read-only or inaccessible, so that they merge with nothing; unmap them
 * afterwards (not timed). */
static void run_place(struct side *s, size_t n, uintptr_t *addrs, double *ns)
{
    size_t k = cfg.batch < n ? cfg.batch : n;
    double t0 = region_begin();

    for (size_t i = 0; i < k; i++)
        addrs[i] = op_map_any(s, PG, (i & 1) ? PROT_READ : PROT_NONE);
    *ns = region_end(t0, "map_any", n, k) / (double)k;
    for (size_t i = 0; i < k; i++)
        op_unmap(s, addrs[i], PG);
}

static void run_lookup(struct side *s, size_t n, const size_t *pick, double *ns)
{
    size_t m = cfg.lookups;
    double t0 = region_begin();

    for (size_t i = 0; i < m; i++) {
        size_t r = pick[i & (LOOKUP_ADDR - 1)];
        op_lookup(s, slot(s, r / 3) + (r % 3) * PG);
    }
    *ns = region_end(t0, "query", n, m) / (double)m;
}

/*
 * First write to one page in each of K mappings (the same K mappings in
 * every repetition, so that page-table pages, once there, stay on both
 * sides), then, for libvmar, a second vmar_fault() on each (spurious).
 * Untimed: unmap and map the K mappings again, which drops the pages and
 * leaves the layout as it was.
 */
static void run_fault(struct side *s, size_t n, const size_t *pick,
                      double *zero_ns, double *spur_ns)
{
    size_t k = cfg.batch < n ? cfg.batch : n;
    double t0 = region_begin();

    for (size_t i = 0; i < k; i++)
        op_touch(s, slot(s, pick[i]) + (i % 3) * PG);
    *zero_ns = region_end(t0, "fault_zero", n, k) / (double)k;
    *spur_ns = 0;
    if (s->kind == SIDE_LIB) {
        t0 = region_begin();
        for (size_t i = 0; i < k; i++)
            op_touch(s, slot(s, pick[i]) + (i % 3) * PG);
        *spur_ns = region_end(t0, "fault_spur", n, k) / (double)k;
    }
    for (size_t i = 0; i < k; i++) {
        op_unmap(s, slot(s, pick[i]), LEN);
        op_map_fixed(s, slot(s, pick[i]), LEN, PROT_READ | PROT_WRITE);
    }
}

/* --------------------------------------------------------------- results */

enum scen {
    SC_SPLIT_SEQ,
    SC_MERGE_SEQ,
    SC_SPLIT_RAND,
    SC_MERGE_RAND,
    SC_MAP_FIXED,
    SC_UNMAP_FIXED,
    SC_MAP_ANY,
    SC_QUERY,
    SC_FAULT_ZERO,
    SC_FAULT_SPUR,
    SC_MT_SEP,
    SC_MT_ONE,
    SC_MT_CHURN,
    SC_REMAP,
    SC_FORK,
    SC_FAULT_COW,
    SC_COUNT
};

static const char *const scen_name[SC_COUNT] = {
    "split_seq",  "merge_seq",   "split_rand", "merge_rand",
    "map_fixed",  "unmap_fixed", "map_any",    "query",
    "fault_zero", "fault_spur",  "mt_sep",     "mt_one",
    "mt_churn",   "remap",       "fork",       "fault_cow",
};

static const char *const scen_op[SC_COUNT] = {
    "protect mid page r-- (1->3), seq",
    "protect it back rw- (3->1), seq",
    "protect mid page r-- (1->3), random",
    "protect it back rw- (3->1), random",
    "map 1 page FIXED_NOREPLACE in a hole",
    "unmap that page",
    "map 1 page anywhere (top-down, a hole)",
    "mapping of a random page",
    "first write to a page (demand-zero)",
    "vmar_fault on a present page",
    "demand-zero fault, own mapping each",
    "demand-zero fault, one mapping",
    "as mt_one, plus a map/unmap loop",
    "move N populated pages (MAYMOVE|FIXED)",
    "fork+child teardown, per page (N pages)",
    "first write to a page fork shares",
};

/* The unit of a row: fork's figure is per resident page. */
static const char *scen_unit(enum scen sc)
{
    return sc == SC_FORK ? "ns/page" : "ns/op";
}

/* Whether lib/(L-f) means anything: not per page of a fork, nor for
 * Linux figures that are page faults in a child or in several threads
 * (no syscall entry to take off). */
static bool scen_floor_applies(enum scen sc)
{
    return sc != SC_FORK && sc != SC_FAULT_COW && sc != SC_MT_SEP &&
           sc != SC_MT_ONE && sc != SC_MT_CHURN;
}

#define SAMPLE_CAP 128

struct sample {
    double v[SAMPLE_CAP];
    unsigned n;
};

struct row {
    enum scen sc;
    size_t n;
    unsigned nt; /* threads of an mt_* row (its name's suffix), else 0 */
    struct sample lib;
    size_t linux_n; /* 0: not measured */
    struct sample lnx;
};

static struct row *rows;
static size_t nrows;

/* The row of scenario sc at size n with nt threads (0: not an mt_* row). */
static struct row *row_get_nt(enum scen sc, size_t n, unsigned nt)
{
    for (size_t i = 0; i < nrows; i++)
        if (rows[i].sc == sc && rows[i].n == n && rows[i].nt == nt)
            return &rows[i];
    rows = realloc(rows, (nrows + 1) * sizeof(*rows));
    if (!rows)
        die("out of memory");
    memset(&rows[nrows], 0, sizeof(*rows));
    rows[nrows].sc = sc;
    rows[nrows].n = n;
    rows[nrows].nt = nt;
    return &rows[nrows++];
}

static struct row *row_get(enum scen sc, size_t n)
{
    return row_get_nt(sc, n, 0);
}

/* A row's scenario name: the mt_* rows carry their thread count
 * (mt_sep2). */
static const char *row_name(const struct row *r, char *buf, size_t len)
{
    if (!r->nt)
        return scen_name[r->sc];
    snprintf(buf, len, "%s%u", scen_name[r->sc], r->nt);
    return buf;
}

static void sample_add(struct sample *s, double v)
{
    if (s->n < SAMPLE_CAP)
        s->v[s->n++] = v;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

struct stat3 {
    double med, min, max;
};

static struct stat3 sample_stat(const struct sample *s)
{
    double v[SAMPLE_CAP];
    struct stat3 r = {0, 0, 0};

    if (s->n == 0)
        return r;
    memcpy(v, s->v, s->n * sizeof(double));
    qsort(v, s->n, sizeof(double), cmp_double);
    r.min = v[0];
    r.max = v[s->n - 1];
    r.med = s->n % 2 ? v[s->n / 2] : (v[s->n / 2 - 1] + v[s->n / 2]) / 2;
    return r;
}

/* ------------------------------------------------------------- one side */

struct meta {
    size_t lib_n, lib_bytes; /* metadata bytes for lib_n mappings */
    bool slab_ok;
    size_t vma_objsize, node_objsize;
    long vma_delta, node_delta; /* slab objects gained for linux_n */
    size_t linux_n;
};

static struct meta meta;

/*
 * The index after churn: index nodes of the largest layout the split and
 * merge scenarios ran on, when built and after all its repetitions (the
 * same mappings, each split in three and merged back cfg.reps times in
 * each order), so that a removal rule that lets the index grow with churn
 * shows in every run.
 */
static struct {
    size_t n, built, churned, node_size;
} churn;

static size_t lib_index_nodes(struct side *s, size_t *node_size)
{
    struct vmar_stats st;

    vmar_stats(s->sp, &st);
    if (node_size)
        *node_size = st.index_node_size;
    return st.index_nodes;
}

/* Active objects and object size of a slab cache (root only). */
static bool slab_read(const char *name, long *active, size_t *objsize)
{
    FILE *f = fopen("/proc/slabinfo", "r");
    char line[512], nm[64];
    bool ok = false;

    if (!f)
        return false;
    while (fgets(line, sizeof(line), f)) {
        long act, num;
        size_t osz;
        if (sscanf(line, "%63s %ld %ld %zu", nm, &act, &num, &osz) == 4 &&
            strcmp(nm, name) == 0) {
            *active = act;
            *objsize = osz;
            ok = true;
            break;
        }
    }
    fclose(f);
    return ok;
}

/* One side of a measurement: its layout of n mappings and its inputs. */
struct bench {
    struct side s;
    size_t n;
    size_t built_nodes; /* libvmar: index nodes of the fresh layout */
    size_t *seq, *perm, *pick;
    size_t *fault_pick; /* run_fault's mappings: K distinct indices */
    uintptr_t *addrs;
};

static void bench_setup(struct bench *b, enum side_kind kind, size_t n)
{
    long vma0 = 0, node0 = 0, vma1, node1;

    memset(b, 0, sizeof(*b));
    b->s.kind = kind;
    b->n = n;
    b->seq = xmalloc(n * sizeof(size_t));
    b->perm = xmalloc(n * sizeof(size_t));
    b->pick = xmalloc(LOOKUP_ADDR * sizeof(size_t));
    b->addrs = xmalloc(cfg.batch * sizeof(uintptr_t));
    for (size_t i = 0; i < n; i++)
        b->seq[i] = b->perm[i] = i;
    for (size_t i = 0; i < LOOKUP_ADDR; i++)
        b->pick[i] = (size_t)(rnd() % (3 * n));
    b->fault_pick = xmalloc(n * sizeof(size_t));
    memcpy(b->fault_pick, b->seq, n * sizeof(size_t));
    shuffle(b->fault_pick, n);

    if (kind == SIDE_LIB) {
        /* The space's own metadata (and the backend's) is not per
         * mapping: take the baseline after creation. */
        layout_create(&b->s, n);
        size_t meta0 = lib_meta_bytes();
        layout_fill(&b->s, n);
        b->built_nodes = lib_index_nodes(&b->s, NULL);
        if (n >= meta.lib_n) {
            meta.lib_n = n;
            meta.lib_bytes = lib_meta_bytes() - meta0;
        }
        return;
    }
    bool slab = slab_read("vm_area_struct", &vma0, &meta.vma_objsize) &&
                slab_read("maple_node", &node0, &meta.node_objsize);
    layout_create(&b->s, n);
    layout_fill(&b->s, n);
    if (slab && n >= meta.linux_n &&
        slab_read("vm_area_struct", &vma1, &meta.vma_objsize) &&
        slab_read("maple_node", &node1, &meta.node_objsize)) {
        meta.slab_ok = true;
        meta.linux_n = n;
        meta.vma_delta = vma1 - vma0;
        meta.node_delta = node1 - node0;
    }
}

static void record(const struct bench *b, enum scen sc, size_t row_n, double v)
{
    struct row *r = row_get(sc, row_n);

    if (b->s.kind == SIDE_LIB) {
        sample_add(&r->lib, v);
    } else {
        sample_add(&r->lnx, v);
        r->linux_n = b->n;
    }
}

/* One repetition of every scenario on one side. */
static void bench_rep(struct bench *b, size_t row_n, bool do_split)
{
    struct side *s = &b->s;
    double x, y;

    shuffle(b->perm, b->n);
    if (do_split) {
        run_split_merge(s, b->n, b->seq, "split_seq", "merge_seq", &x, &y);
        record(b, SC_SPLIT_SEQ, row_n, x);
        record(b, SC_MERGE_SEQ, row_n, y);
        run_split_merge(s, b->n, b->perm, "split_rand", "merge_rand", &x, &y);
        record(b, SC_SPLIT_RAND, row_n, x);
        record(b, SC_MERGE_RAND, row_n, y);
    }
    run_fixed(s, b->n, b->perm, &x, &y);
    record(b, SC_MAP_FIXED, row_n, x);
    record(b, SC_UNMAP_FIXED, row_n, y);
    run_place(s, b->n, b->addrs, &x);
    record(b, SC_MAP_ANY, row_n, x);
    run_lookup(s, b->n, b->pick, &x);
    record(b, SC_QUERY, row_n, x);
    run_fault(s, b->n, b->fault_pick, &x, &y);
    record(b, SC_FAULT_ZERO, row_n, x);
    if (s->kind == SIDE_LIB)
        record(b, SC_FAULT_SPUR, row_n, y);
}

static void bench_finish(struct bench *b, bool did_split)
{
    if (b->s.kind == SIDE_LIB) {
        struct vmar_stats st;
        vmar_stats(b->s.sp, &st);
        if (st.map_count != b->n || vmar_check(b->s.sp) != 0)
            die("libvmar layout changed: %zu mappings, expected %zu",
                st.map_count, b->n);
        if (did_split && b->n >= churn.n) {
            churn.n = b->n;
            churn.built = b->built_nodes;
            churn.churned = lib_index_nodes(&b->s, &churn.node_size);
        }
    }
    layout_teardown(&b->s, b->n);
    free(b->seq);
    free(b->perm);
    free(b->pick);
    free(b->fault_pick);
    free(b->addrs);
}

/* ----------------------------------------------------- memory latency */

/*
 * The machine's price of a cache miss: one dependent load after another
 * through a random cyclic order of the cache lines of a buffer of `bytes`
 * (2 MiB-aligned, THP asked for, so TLB reach matters as little as it
 * does for the slab). A lookup among N mappings whose nodes overflow a
 * cache level pays about this per level that misses; the table's
 * lookup figures are read against it in docs/PERFORMANCE.md.
 */
#define PROBE_HUGE ((size_t)2 << 20)

/* A probe buffer of `bytes` on 2 MiB-aligned memory with THP asked for;
 * *raw is what probe_free() unmaps. */
static char *probe_alloc(size_t bytes, char **raw)
{
    *raw = mmap(NULL, bytes + PROBE_HUGE, PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (*raw == MAP_FAILED)
        die("probe: out of memory");
    char *buf = (char *)(((uintptr_t)*raw + PROBE_HUGE - 1) &
                         ~(uintptr_t)(PROBE_HUGE - 1));
    (void)madvise(buf, bytes, MADV_HUGEPAGE);
    return buf;
}

static void probe_free(char *raw, size_t bytes)
{
    munmap(raw, bytes + PROBE_HUGE);
}

static double mem_latency_ns(size_t bytes)
{
    const size_t line = 64, n = bytes / line, loads = 2000000;
    size_t *order = xmalloc(n * sizeof(*order));
    char *raw, *buf = probe_alloc(bytes, &raw);
    void **p;
    double t0, ns;

    for (size_t i = 0; i < n; i++)
        order[i] = i;
    shuffle(order, n);
    for (size_t i = 0; i < n; i++)
        *(void **)(buf + order[i] * line) = buf + order[(i + 1) % n] * line;
    p = (void **)(buf + order[0] * line);
    for (size_t i = 0; i < n; i++) /* warm: every line once */
        p = (void **)*p;
    t0 = now_ns();
    for (size_t i = 0; i < loads; i++)
        p = (void **)*p;
    ns = (now_ns() - t0) / (double)loads;
    if (!p) /* keeps the chase from being optimised away */
        die("mem_latency: broken chain");
    probe_free(raw, bytes);
    free(order);
    return ns;
}

/*
 * The floor of a lookup among n mappings on this machine, for the query
 * rows: leaves that hold 14 keys and pointers as the interval set's do
 * (arrays of 16, unused keys UINT64_MAX) over 64-byte mapping records like
 * the slab's, the leaf of mapping k found by arithmetic (no index above
 * the leaves at all), and random mapped addresses looked up independently
 * of each other, as in the query scenario. Each lookup counts the leaf's
 * keys at or below the address, follows the pointer and reads the record:
 * the two dependent misses of any lookup that returns a mapping's
 * attributes, with no descent, lock, call or prefetch. Its growth from
 * 1 000 to 1 000 000 mappings is the machine's, not an index's.
 *
 * With `chained`, each lookup's mapping is named by the record the one
 * before it read (a random cycle through all n records), so one lookup
 * starts only when the previous one has finished: the latency of those
 * two dependent misses, which a caller pays when it needs one answer
 * before its next question, or when a lookup spends more instructions
 * than the core's reorder window holds and the next cannot overlap it.
 * The independent figure is lower by what the core overlaps.
 */
struct floor_map {
    uint64_t start, end, attr[6];
};
struct floor_leaf {
    uint64_t key[16];
    const struct floor_map *ptr[16];
};

static double lookup_floor_ns(size_t n, bool chained)
{
    const size_t per = 14, nl = (n + per - 1) / per, q = 2000000;
    const size_t mbytes = n * sizeof(struct floor_map);
    const size_t lbytes = nl * sizeof(struct floor_leaf);
    char *mraw, *lraw;
    struct floor_map *m = (void *)probe_alloc(mbytes, &mraw);
    struct floor_leaf *l = (void *)probe_alloc(lbytes, &lraw);
    size_t *pick = xmalloc(LOOKUP_ADDR * sizeof(*pick));
    uint64_t sum = 0;
    double t0, ns;

    for (size_t i = 0; i < nl; i++)
        for (size_t j = 0; j < 16; j++)
            l[i].key[j] = UINT64_MAX;
    for (size_t i = 0; i < n; i++) {
        m[i].start = (uint64_t)i * STRIDE;
        m[i].end = m[i].start + LEN;
        l[i / per].key[i % per] = m[i].start;
        l[i / per].ptr[i % per] = &m[i];
    }
    for (size_t i = 0; i < LOOKUP_ADDR; i++)
        pick[i] = (size_t)(rnd() % n);
    /* Sattolo's shuffle: attr[0] links the records in one random cycle. */
    for (size_t i = 0; i < n; i++)
        m[i].attr[0] = i;
    for (size_t i = n - 1; i > 0; i--) {
        const size_t j = (size_t)(rnd() % i);
        const uint64_t t = m[i].attr[0];
        m[i].attr[0] = m[j].attr[0];
        m[j].attr[0] = t;
    }
    size_t k = 0;
    t0 = now_ns();
    for (size_t i = 0; i < q; i++) {
        if (!chained)
            k = pick[i & (LOOKUP_ADDR - 1)];
        const uint64_t a = (uint64_t)k * STRIDE + (i % 3) * PG;
        const struct floor_leaf *x = &l[k / per];
        const struct floor_map *rec;
        unsigned r = 0;

        for (unsigned j = 0; j < 16; j++)
            r += x->key[j] <= a;
        rec = x->ptr[r - 1];
        sum += rec->end;
        k = (size_t)rec->attr[0];
    }
    ns = (now_ns() - t0) / (double)q;
    if (sum == 0) /* keeps the loop from being optimised away */
        die("lookup floor: no lookups");
    free(pick);
    probe_free(lraw, lbytes);
    probe_free(mraw, mbytes);
    return ns;
}

static void print_mem_latency(void)
{
    static const size_t kib[] = {32, 256, 1024, 4096, 8192, 16384, 65536};

    printf("memory latency (dependent loads over a random cycle of the "
           "64-byte lines of a buffer):");
    for (size_t i = 0; i < sizeof(kib) / sizeof(kib[0]); i++) {
        double ns = mem_latency_ns(kib[i] << 10);
        if (kib[i] >= 1024)
            printf(" %zu MiB %.1f ns%s", kib[i] >> 10, ns,
                   i + 1 < sizeof(kib) / sizeof(kib[0]) ? "," : "\n");
        else
            printf(" %zu KiB %.1f ns,", kib[i], ns);
    }
    static const size_t fn[] = {1000, 100000, 1000000};
    printf("lookup floor (leaf keys, pointer, 64-byte record, the leaf "
           "found by arithmetic; independent lookups; no descent, lock, "
           "call or prefetch):");
    for (size_t i = 0; i < sizeof(fn) / sizeof(fn[0]); i++)
        printf(" %zu mappings %.1f ns%s", fn[i], lookup_floor_ns(fn[i], false),
               i + 1 < sizeof(fn) / sizeof(fn[0]) ? "," : "\n");
    printf("lookup floor, one at a time (the same, each lookup's mapping "
           "named by the record the previous one read):");
    for (size_t i = 0; i < sizeof(fn) / sizeof(fn[0]); i++)
        printf(" %zu mappings %.1f ns%s", fn[i], lookup_floor_ns(fn[i], true),
               i + 1 < sizeof(fn) / sizeof(fn[0]) ? "," : "\n");
    fflush(stdout);
}

/* ------------------------------------------------ fault throughput (MT) */

/*
 * Fault throughput with n threads (n = 1, 2, then doubling while below
 * the online CPUs, and their count), K demand-zero write faults per
 * thread, in three layouts, at the same offsets from each side's base:
 *  mt_sep    thread t faults the K pages of a mapping of its own at
 *            t * (span + 2 MiB), span being K pages rounded up to 2 MiB
 *            (the gap keeps the mappings from merging; no two threads
 *            share a leaf table);
 *  mt_one    one mapping of n * span; thread t faults the first K pages
 *            of [t * span, (t + 1) * span), 2 MiB blocks (leaf tables)
 *            that no other thread touches;
 *  mt_churn  mt_one, plus a layout thread that maps and unmaps one page
 *            1 GiB above the largest faulting range, in a loop that
 *            starts before the faulting threads are released and ends
 *            when they are done (the pairs of the timed region are
 *            counted).
 * libvmar: one space over the sim's locked env (a vmar_sim_lock; frames
 * from per-thread caches) on the --mmu backend, in a machine of its own
 * sized for the largest n; each page is a vmar_fault(write). Linux:
 * threads of this process store one byte per page into fresh
 * MAP_PRIVATE | MAP_ANONYMOUS mappings (MADV_NOHUGEPAGE: 4 KiB faults, as
 * libvmar's) placed with MAP_FIXED in a PROT_NONE reservation, so that
 * nothing else of the process lands in the layout; the layout thread's
 * page is a one-page hole of the reservation, mapped with
 * MAP_FIXED_NOREPLACE and unmapped. Timed, both sides: from the release
 * of a barrier that the faulting threads wait at (the layout thread is
 * already in its loop) to the last join of a faulting thread; ns/op is
 * that time over the n * K faults (its inverse is the rate). Untimed, after
 * every run: libvmar's space must hold the n * K pages and pass vmar_check();
 * then the mappings are dropped (on Linux by mapping the range PROT_NONE
 * again).
 */
#define MT_BASE      ((uintptr_t)0x200000000)
#define MT_BLOCK     ((uintptr_t)2 << 20) /* the span of one leaf table */
#define MT_CHURN_GAP ((uintptr_t)1 << 30)
#define MT_COUNTS    24 /* thread counts: 1, 2, 4, ..., and the CPUs */

enum mt_layout {
    MT_SEP,
    MT_ONE,
    MT_CHURN,
    MT_LAYOUTS
};

static const enum scen mt_scen[MT_LAYOUTS] = {SC_MT_SEP, SC_MT_ONE,
                                              SC_MT_CHURN};

static struct {
    bool ran;
    long cpus;
    size_t k;       /* faults per thread */
    uintptr_t span; /* a thread's range: K pages rounded up to MT_BLOCK */
    unsigned nts[MT_COUNTS], nnt;
    uintptr_t fault_bytes; /* from the base: every layout's mappings */
    uintptr_t churn_off;   /* the layout thread's page, from the base */
    struct sample pairs[2][MT_COUNTS]; /* [side][count]: pairs per ms */
    struct sample zero[MT_COUNTS];     /* the zeroing floor, ns per page */
} mt;

/* Offset of thread t's pages from the base. */
static uintptr_t mt_off(enum mt_layout l, unsigned t)
{
    return (uintptr_t)t * (l == MT_SEP ? mt.span + MT_BLOCK : mt.span);
}

/* What one run's threads share. */
struct mt_ctx {
    enum side_kind kind;
    struct vmar_space *sp;
    uintptr_t churn_page;
    pthread_barrier_t go; /* the faulting threads and the timer */
    atomic_uint left;     /* faulting threads not done yet */
    atomic_size_t pairs;  /* the layout thread's map+unmap pairs so far */
};

struct mt_arg {
    struct mt_ctx *c;
    uintptr_t lo; /* this thread's first page */
};

static void *mt_fault_main(void *p)
{
    struct mt_arg *a = p;
    struct mt_ctx *c = a->c;

    pthread_barrier_wait(&c->go); /* start together */
    for (size_t i = 0; i < mt.k; i++) {
        uintptr_t va = a->lo + i * PG;
        if (c->kind == SIDE_LINUX) {
            *(volatile unsigned char *)va = 1;
            continue;
        }
        int rc = vmar_fault(c->sp, va, VMAR_ACCESS_WRITE, VMAR_FAULT_USER);
        if (rc)
            die("vmar_fault(%#" PRIxPTR "): %s", va, vmar_strerror(rc));
    }
    atomic_fetch_sub_explicit(&c->left, 1, memory_order_release);
    return NULL;
}

/* The layout thread: it is in its loop before the faulting threads are
 * released, so that it churns through the whole timed region however
 * late a woken thread gets a CPU, and stops when they are done. */
static void *mt_churn_main(void *p)
{
    struct mt_ctx *c = p;
    struct side s = {.kind = c->kind, .sp = c->sp};
    size_t pairs = 0;

    while (atomic_load_explicit(&c->left, memory_order_acquire)) {
        op_map_fixed(&s, c->churn_page, PG, PROT_READ | PROT_WRITE);
        op_unmap(&s, c->churn_page, PG);
        atomic_store_explicit(&c->pairs, ++pairs, memory_order_relaxed);
    }
    return NULL;
}

/* One timed run of layout l with nt faulting threads on one side, its
 * mappings in place at base; returns ns per fault and, for mt_churn, the
 * layout thread's map+unmap pairs of the timed region in *pairs. */
static double mt_run(enum side_kind kind, struct vmar_space *sp, uintptr_t base,
                     enum mt_layout l, unsigned nt, size_t *pairs)
{
    const bool layout_thread = l == MT_CHURN;
    struct mt_ctx c = {
        .kind = kind, .sp = sp, .churn_page = base + mt.churn_off};
    struct mt_arg *a = xmalloc(nt * sizeof(*a));
    pthread_t *th = xmalloc((nt + 1) * sizeof(*th));

    atomic_init(&c.left, nt);
    atomic_init(&c.pairs, 0);
    if (pthread_barrier_init(&c.go, NULL, nt + 1))
        die("pthread_barrier_init failed");
    for (unsigned t = 0; t < nt; t++) {
        a[t] = (struct mt_arg){&c, base + mt_off(l, t)};
        if (pthread_create(&th[t], NULL, mt_fault_main, &a[t]))
            die("pthread_create failed");
    }
    size_t pairs0 = 0;
    if (layout_thread) {
        if (pthread_create(&th[nt], NULL, mt_churn_main, &c))
            die("pthread_create failed");
        while (!atomic_load_explicit(&c.pairs, memory_order_relaxed))
            sched_yield(); /* until it is in its loop */
        pairs0 = atomic_load_explicit(&c.pairs, memory_order_relaxed);
    }
    double t0 = now_ns();
    pthread_barrier_wait(&c.go);
    for (unsigned t = 0; t < nt; t++)
        pthread_join(th[t], NULL);
    double ns = (now_ns() - t0) / (double)(nt * mt.k);
    if (layout_thread) {
        *pairs = atomic_load_explicit(&c.pairs, memory_order_relaxed) - pairs0;
        pthread_join(th[nt], NULL);
    }
    pthread_barrier_destroy(&c.go);
    free(th);
    free(a);
    return ns;
}

static double mt_lib_rep(struct vmar_space *sp, enum mt_layout l, unsigned nt,
                         size_t *pairs)
{
    const unsigned nmaps = l == MT_SEP ? nt : 1;
    struct vmar_map_opts m = {.size = l == MT_SEP ? mt.k * PG : nt * mt.span,
                              .place = VMAR_PLACE_FIXED,
                              .prot = VMAR_PROT_READ | VMAR_PROT_WRITE};
    struct vmar_stats st;
    int rc;

    for (unsigned t = 0; t < nmaps; t++) {
        m.addr = MT_BASE + mt_off(l, t);
        rc = vmar_map(sp, &m, NULL);
        if (rc)
            die("vmar_map(%#" PRIxPTR "): %s", (uintptr_t)m.addr,
                vmar_strerror(rc));
    }
    double ns = mt_run(SIDE_LIB, sp, MT_BASE, l, nt, pairs);
    vmar_stats(sp, &st);
    if (st.map_count != nmaps || st.resident != nt * mt.k * PG ||
        vmar_check(sp) != 0)
        die("%s%u: %zu mappings, %llu bytes resident after the run",
            scen_name[mt_scen[l]], nt, st.map_count,
            (unsigned long long)st.resident);
    rc = vmar_unmap(sp, MT_BASE, mt.fault_bytes);
    if (rc)
        die("vmar_unmap: %s", vmar_strerror(rc));
    return ns;
}

static double mt_linux_rep(uintptr_t base, enum mt_layout l, unsigned nt,
                           size_t *pairs)
{
    const unsigned nmaps = l == MT_SEP ? nt : 1;
    const size_t len = l == MT_SEP ? mt.k * PG : nt * mt.span;

    for (unsigned t = 0; t < nmaps; t++) {
        void *want = (void *)(base + mt_off(l, t));
        void *p = mmap(want, len, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
        if (p != want)
            die("mmap(%p, MAP_FIXED): %s", want, strerror(errno));
        madvise(p, len, MADV_NOHUGEPAGE);
    }
    double ns = mt_run(SIDE_LINUX, NULL, base, l, nt, pairs);
    if (mmap((void *)base, mt.fault_bytes, PROT_NONE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1,
             0) != (void *)base)
        die("mmap(PROT_NONE, MAP_FIXED): %s", strerror(errno));
    return ns;
}

/* The thread counts: 1, 2, doubling while below the online CPUs, and
 * their count. */
static void mt_counts(void)
{
    unsigned top;

    mt.cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (mt.cpus < 1)
        mt.cpus = 1;
    top = mt.cpus > 2 ? (unsigned)mt.cpus : 2;
    mt.nnt = 0;
    for (unsigned n = 1; n < top && mt.nnt < MT_COUNTS - 1; n *= 2)
        mt.nts[mt.nnt++] = n;
    mt.nts[mt.nnt++] = top;
}

static void mt_record(enum side_kind kind, enum mt_layout l, unsigned idx,
                      double ns, size_t pairs)
{
    struct row *r = row_get_nt(mt_scen[l], mt.k, mt.nts[idx]);

    if (kind == SIDE_LIB) {
        sample_add(&r->lib, ns);
    } else {
        sample_add(&r->lnx, ns);
        r->linux_n = mt.k;
    }
    if (l == MT_CHURN) /* ns * faults = the run's wall time */
        sample_add(&mt.pairs[kind == SIDE_LINUX][idx],
                   (double)pairs * 1e6 / (ns * mt.nts[idx] * (double)mt.k));
}

/* The zeroing floor: what the memory system allows when every fault
 * zeroes a page it has not touched lately. Each thread memsets K pages of
 * a buffer of its own (touched once before, so no page fault is timed),
 * together, as the faulting threads zero their frames. */
struct zf_arg {
    unsigned char *buf;
    pthread_barrier_t *go;
};

static void *zf_main(void *p)
{
    struct zf_arg *a = p;

    pthread_barrier_wait(a->go);
    for (size_t i = 0; i < mt.k; i++)
        memset(a->buf + i * PG, 0, PG);
    return NULL;
}

static void measure_zero_floor(void)
{
    const unsigned top = mt.nts[mt.nnt - 1];
    unsigned char **bufs = xmalloc(top * sizeof(*bufs));
    pthread_t *th = xmalloc(top * sizeof(*th));
    struct zf_arg *a = xmalloc(top * sizeof(*a));

    for (unsigned t = 0; t < top; t++) {
        bufs[t] = aligned_alloc(PG, mt.k * PG);
        if (!bufs[t])
            die("zeroing floor: out of memory");
        memset(bufs[t], 1, mt.k * PG);
    }
    for (unsigned rep = 0; rep < cfg.reps; rep++) {
        for (unsigned i = 0; i < mt.nnt; i++) {
            const unsigned nt = mt.nts[i];
            pthread_barrier_t go;

            /* Evict the buffers' lines from the caches between runs, as
             * a frame the pool hands out is cold. */
            for (unsigned t = 0; t < top; t++)
                memset(bufs[t], 2, mt.k * PG);
            pthread_barrier_init(&go, NULL, nt + 1);
            for (unsigned t = 0; t < nt; t++) {
                a[t] = (struct zf_arg){bufs[(t + rep) % top], &go};
                if (pthread_create(&th[t], NULL, zf_main, &a[t]))
                    die("pthread_create failed");
            }
            double t0 = now_ns();
            pthread_barrier_wait(&go);
            for (unsigned t = 0; t < nt; t++)
                pthread_join(th[t], NULL);
            sample_add(&mt.zero[i], (now_ns() - t0) / (double)(nt * mt.k));
            pthread_barrier_destroy(&go);
        }
    }
    for (unsigned t = 0; t < top; t++)
        free(bufs[t]);
    free(a);
    free(th);
    free(bufs);
}

/* The mt_* rows' metadata: malloc's per-thread arenas, as a kernel's
 * per-CPU slab caches, instead of the sim env's allocator, which records
 * every block under the machine's mutex (a layout thread mapping and
 * unmapping would measure that mutex against the faulting threads' frame
 * refills). */
static void *mt_alloc(void *ctx, size_t size, size_t align)
{
    (void)ctx;
    return aligned_alloc(align, (size + align - 1) & ~(align - 1));
}

static void mt_free(void *ctx, void *p, size_t size)
{
    (void)ctx;
    (void)size;
    free(p);
}

static void measure_fault_mt(void)
{
    const bool x86 = cfg.mmu == MMU_X86;
    unsigned top;
    size_t frames;
    uintptr_t lin_base = 0, lin_raw = 0, lin_bytes = 0;
    struct vmar_sim *sim;
    struct vmar_sim_lock *lock;
    struct vmar_space *sp;
    int rc;

    mt_counts();
    top = mt.nts[mt.nnt - 1];
    mt.k = cfg.quick ? 256 : 2048;
    mt.span = (mt.k * PG + MT_BLOCK - 1) & ~(MT_BLOCK - 1);
    mt.fault_bytes = (uintptr_t)top * (mt.span + MT_BLOCK);
    mt.churn_off = mt.fault_bytes + MT_CHURN_GAP;
    mt.ran = true;
    /* The data frames of the largest run, a leaf table per 2 MiB, the
     * upper tables and what the threads' frame caches may hold. */
    frames = top * (mt.k + mt.span / MT_BLOCK + 64) + 256;
    sim = bench_sim_create(frames);
    static struct vmar_env mt_env;
    mt_env = *vmar_sim_env_locked(sim);
    mt_env.alloc = mt_alloc;
    mt_env.free = mt_free;
    if (vmar_sim_lock_create(&lock))
        die("vmar_sim_lock_create failed");
    struct vmar_space_opts o = {
        .env = &mt_env,
        .mmu = x86 ? &vmar_mmu_x86_64_4l : &vmar_mmu_sim,
        .mmu_config = x86 ? (const void *)&layout_xcfg : (const void *)sim,
        .lock = lock};
    rc = vmar_space_create(&o, &sp);
    if (rc)
        die("vmar_space_create: %s", vmar_strerror(rc));
    if (!cfg.no_linux) {
        /* The reservation: the layout, the gap, the churn page (a hole)
         * and at least one page above it, from a 2 MiB boundary. */
        lin_bytes = mt.churn_off + 2 * PG + MT_BLOCK;
        void *p = mmap(NULL, lin_bytes, PROT_NONE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED)
            die("mmap(%zu bytes, PROT_NONE): %s", (size_t)lin_bytes,
                strerror(errno));
        lin_raw = (uintptr_t)p;
        lin_base = (lin_raw + MT_BLOCK - 1) & ~(MT_BLOCK - 1);
        if (munmap((void *)(lin_base + mt.churn_off), PG) != 0)
            die("munmap: %s", strerror(errno));
    }
    for (unsigned rep = 0; rep < cfg.reps; rep++) {
        for (enum mt_layout l = 0; l < MT_LAYOUTS; l++) {
            for (unsigned i = 0; i < mt.nnt; i++) {
                unsigned nt = mt.nts[i];
                size_t pairs = 0;
                double ns;
                if (!cfg.no_linux && rep % 2) {
                    ns = mt_linux_rep(lin_base, l, nt, &pairs);
                    mt_record(SIDE_LINUX, l, i, ns, pairs);
                }
                ns = mt_lib_rep(sp, l, nt, &pairs);
                mt_record(SIDE_LIB, l, i, ns, pairs);
                if (!cfg.no_linux && !(rep % 2)) {
                    ns = mt_linux_rep(lin_base, l, nt, &pairs);
                    mt_record(SIDE_LINUX, l, i, ns, pairs);
                }
            }
        }
    }
    if (!cfg.no_linux && munmap((void *)lin_raw, lin_bytes) != 0)
        die("munmap: %s", strerror(errno));
    vmar_space_destroy(sp);
    vmar_sim_lock_destroy(lock);
    measure_zero_floor();
    bench_sim_destroy(sim);
}

/* The median rate of a row's side in M faults/s, 0 if not measured. */
static double mt_rate(enum mt_layout l, unsigned idx, bool linux_side)
{
    struct row *r = row_get_nt(mt_scen[l], mt.k, mt.nts[idx]);
    struct stat3 s = sample_stat(linux_side ? &r->lnx : &r->lib);

    return s.med > 0 ? 1e3 / s.med : 0;
}

static void print_mt_notes(void)
{
    static const char *const side_name[2] = {"libvmar", "Linux"};

    printf("mt_*: N = K faults per thread, the name's suffix the faulting "
           "threads; ns/op is wall time over all faults; libvmar on the %s "
           "backend over the sim's locked env\n",
           mmu_name());
    printf("fault throughput, M faults/s (medians; xS: against 1 thread):\n");
    for (enum mt_layout l = 0; l < MT_LAYOUTS; l++) {
        for (int lx = 0; lx < 2 && !(lx && cfg.no_linux); lx++) {
            double r1 = mt_rate(l, 0, lx);
            printf("  %-9s %-8s", scen_name[mt_scen[l]], side_name[lx]);
            for (unsigned i = 0; i < mt.nnt; i++) {
                double r = mt_rate(l, i, lx);
                printf("%s %u: %.2f", i ? "," : "", mt.nts[i], r);
                if (i)
                    printf(" (x%.2f)", r1 > 0 ? r / r1 : 0);
            }
            printf("\n");
        }
    }
    printf("  zeroing floor (memset of K cold pages per thread, M pages/s):");
    for (unsigned i = 0; i < mt.nnt; i++) {
        double z = sample_stat(&mt.zero[i]).med;
        double z1 = sample_stat(&mt.zero[0]).med;
        printf("%s %u: %.2f", i ? "," : "", mt.nts[i], z > 0 ? 1e3 / z : 0);
        if (i)
            printf(" (x%.2f)", z > 0 ? z1 / z : 0);
    }
    printf("\n");
    printf("mt_churn against mt_one at the same threads (goal: keeps >= "
           "0.8x of its rate):");
    for (int lx = 0; lx < 2 && !(lx && cfg.no_linux); lx++) {
        printf("%s %s", lx ? ";" : "", side_name[lx]);
        for (unsigned i = 0; i < mt.nnt; i++) {
            double one = mt_rate(MT_ONE, i, lx);
            printf("%s %u: x%.2f", i ? "," : "", mt.nts[i],
                   one > 0 ? mt_rate(MT_CHURN, i, lx) / one : 0);
        }
    }
    printf("\nmt_churn's layout thread, map+unmap pairs per ms of the "
           "timed run (median; 0: it got no CPU):");
    for (int lx = 0; lx < 2 && !(lx && cfg.no_linux); lx++) {
        printf("%s %s", lx ? ";" : "", side_name[lx]);
        for (unsigned i = 0; i < mt.nnt; i++)
            printf("%s %u: %.0f", i ? "," : "", mt.nts[i],
                   sample_stat(&mt.pairs[lx][i]).med);
    }
    printf("\n");
    for (unsigned i = 0; i < mt.nnt; i++) {
        if ((long)mt.nts[i] + 1 > mt.cpus) {
            printf("mt_churn from %u threads on: %u + 1 threads on %ld "
                   "CPUs, the layout thread takes CPU time from the "
                   "faulting ones\n",
                   mt.nts[i], mt.nts[i], mt.cpus);
            break;
        }
    }
}

/* ------------------------------------------------------------ remap move */

/*
 * The libvmar side of remap, fork and fault_cow: a machine of `frames`
 * frames and in it a space on the x86-64 4-level backend (the hardware
 * page-table format, whose walks take no lock, where the sim backend takes
 * its table's lock per call) over the bench env, *envbuf holding it, with
 * one private read-write mapping of `pages` pages at `base`, all present
 * and written (VMAR_MAP_POPULATE).
 */
static struct vmar_sim *x86_populated(size_t frames, uintptr_t base,
                                      size_t pages, struct vmar_env *envbuf,
                                      struct vmar_space **sp)
{
    static const struct vmar_x86_64_config pcfg = {.pcid = 1};
    struct vmar_sim *sim = bench_sim_create(frames);
    struct vmar_space_opts o = {.env = bench_env(sim, true, envbuf),
                                .mmu = &vmar_mmu_x86_64_4l,
                                .mmu_config = &pcfg};
    struct vmar_map_opts m = {.addr = base,
                              .size = pages * PG,
                              .place = VMAR_PLACE_FIXED,
                              .prot = VMAR_PROT_READ | VMAR_PROT_WRITE,
                              .flags = VMAR_MAP_POPULATE};
    int rc = vmar_space_create(&o, sp);

    if (rc)
        die("vmar_space_create(x86_64): %s", vmar_strerror(rc));
    rc = vmar_map(*sp, &m, NULL);
    if (rc)
        die("vmar_map(%zu pages, populate): %s", pages, vmar_strerror(rc));
    return sim;
}

#define REMAP_PAGES 64
#define REMAP_LIB_A ((uintptr_t)0x300000000)
#define REMAP_GAP   ((uintptr_t)1 << 20) /* B = A + 1 MiB */

/* Move the populated REMAP_PAGES mapping between A and B, K times (K even,
 * so that it ends at A): one op = one vmar_remap / mremap call with
 * MAYMOVE|FIXED to the other place. */
static double run_remap(struct side *s, uintptr_t a, size_t k)
{
    const size_t len = REMAP_PAGES * PG;
    double t0 = region_begin();

    for (size_t i = 0; i < k; i++) {
        uintptr_t from = (i & 1) ? a + REMAP_GAP : a;
        uintptr_t to = (i & 1) ? a : a + REMAP_GAP;
        if (s->kind == SIDE_LIB) {
            int rc =
                vmar_remap(s->sp, from, len, len,
                           VMAR_REMAP_MAYMOVE | VMAR_REMAP_FIXED, to, NULL);
            if (rc)
                die("vmar_remap(%#" PRIxPTR "): %s", from, vmar_strerror(rc));
        } else {
            void *p = mremap((void *)from, len, len,
                             MREMAP_MAYMOVE | MREMAP_FIXED, (void *)to);
            if (p != (void *)to)
                die("mremap(%#" PRIxPTR "): %s", from,
                    p == MAP_FAILED ? strerror(errno) : "moved elsewhere");
        }
    }
    return region_end(t0, "remap", REMAP_PAGES, k) / (double)k;
}

/* libvmar: x86_populated(); Linux: a free 2 MiB range found by the
 * kernel. Both populate the mapping (every page written) before the first
 * move. */
static void measure_remap(void)
{
    const size_t k = cfg.quick ? 50 : 1000, len = REMAP_PAGES * PG;
    struct side lib = {.kind = SIDE_LIB, .base = REMAP_LIB_A},
                lin = {.kind = SIDE_LINUX};
    struct vmar_env envbuf;
    struct vmar_sim *sim = x86_populated(4 * REMAP_PAGES + 64, REMAP_LIB_A,
                                         REMAP_PAGES, &envbuf, &lib.sp);
    struct vmar_stats st;

    if (!cfg.no_linux) {
        void *p = mmap(NULL, 2 * REMAP_GAP, PROT_NONE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED)
            die("mmap: %s", strerror(errno));
        munmap(p, 2 * REMAP_GAP);
        lin.base = (uintptr_t)p;
        op_map_fixed(&lin, lin.base, len, PROT_READ | PROT_WRITE);
        for (size_t i = 0; i < REMAP_PAGES; i++)
            ((volatile unsigned char *)lin.base)[i * PG] = 1;
    }
    for (unsigned rep = 0; rep < cfg.reps; rep++) {
        struct row *r;
        double x;
        if (!cfg.no_linux && rep % 2) {
            x = run_remap(&lin, lin.base, k);
            r = row_get(SC_REMAP, REMAP_PAGES);
            sample_add(&r->lnx, x);
            r->linux_n = REMAP_PAGES;
        }
        x = run_remap(&lib, lib.base, k);
        sample_add(&row_get(SC_REMAP, REMAP_PAGES)->lib, x);
        if (!cfg.no_linux && !(rep % 2)) {
            x = run_remap(&lin, lin.base, k);
            r = row_get(SC_REMAP, REMAP_PAGES);
            sample_add(&r->lnx, x);
            r->linux_n = REMAP_PAGES;
        }
    }
    vmar_stats(lib.sp, &st);
    if (st.map_count != 1 || st.resident != len || vmar_check(lib.sp) != 0)
        die("remap: %zu mappings, %llu bytes resident after the moves",
            st.map_count, (unsigned long long)st.resident);
    vmar_space_destroy(lib.sp);
    bench_sim_destroy(sim);
    if (!cfg.no_linux) {
        unsigned char vec[REMAP_PAGES];
        if (mincore((void *)lin.base, len, vec) != 0)
            die("mincore: %s", strerror(errno));
        for (size_t i = 0; i < REMAP_PAGES; i++)
            if (!(vec[i] & 1))
                die("remap: Linux page %zu not resident after the moves", i);
        op_unmap(&lin, lin.base, len);
    }
}

/* ------------------------------------------------------------------ fork */

/*
 * fork per resident page. libvmar: a space on the x86-64 4-level backend
 * (the hardware page-table format, in frames of a sim machine of its own,
 * with the sim env's per-frame reference counts) holding one private
 * anonymous read-write mapping of R pages, all present and written; timed:
 * vmar_fork() and vmar_space_destroy() of the child. Linux: a worker
 * process (this program exec'd afresh, so that its resident set is R pages
 * plus the program itself and not this process's sim pools) with one
 * private anonymous read-write mapping of R written pages; timed: fork(),
 * the child's _exit(0) and the parent's waitpid(), which returns after the
 * child's address space has been torn down. Before every repetition, on
 * both sides and untimed, every page is written again (a write fault that
 * reuses the page, the previous fork having write-protected it), so each
 * fork starts from R writable, dirty pages.
 */
#define FORK_LIB_BASE ((uintptr_t)0x400000000)

static const size_t full_fork_rs[] = {256, 4096, 65536};
static const size_t quick_fork_rs[] = {16, 256};

static struct sample fork_only[3], fork_free[3]; /* per R: fork, destroy */

static _Noreturn void fork_worker(size_t r, int rfd, int wfd)
{
    size_t len = r * PG;
    unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char cmd;

    if (p == MAP_FAILED)
        die("fork worker: mmap: %s", strerror(errno));
    madvise(p, len, MADV_NOHUGEPAGE); /* R base pages, as libvmar's */
    while (read(rfd, &cmd, 1) == 1 && cmd == 'r') {
        for (size_t i = 0; i < r; i++)
            ((volatile unsigned char *)p)[i * PG] = (unsigned char)i;
        double t0 = now_ns();
        pid_t pid = fork();
        if (pid < 0)
            die("fork: %s", strerror(errno));
        if (pid == 0)
            _exit(0);
        int status;
        if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
            WEXITSTATUS(status) != 0)
            die("fork worker: child failed");
        double ns = now_ns() - t0;
        if (write(wfd, &ns, sizeof(ns)) != (ssize_t)sizeof(ns))
            die("fork worker: write: %s", strerror(errno));
    }
    exit(0);
}

struct worker {
    pid_t pid;
    int wfd, rfd; /* to and from the worker */
};

/* Start a worker: this program exec'd with `mode` (--fork-worker or
 * --cow-worker), its size r and the ends of two pipes. */
static void worker_start(struct worker *w, const char *mode, size_t r)
{
    int to[2], from[2];
    char self[4096], rs[32], rfd[16], wfd[16];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

    if (n <= 0)
        die("readlink(/proc/self/exe): %s", strerror(errno));
    self[n] = 0;
    if (pipe(to) != 0 || pipe(from) != 0)
        die("pipe: %s", strerror(errno));
    snprintf(rs, sizeof(rs), "%zu", r);
    snprintf(rfd, sizeof(rfd), "%d", to[0]);
    snprintf(wfd, sizeof(wfd), "%d", from[1]);
    fflush(NULL);
    w->pid = fork();
    if (w->pid < 0)
        die("fork: %s", strerror(errno));
    if (w->pid == 0) {
        char *argv[] = {self, (char *)mode, rs, rfd, wfd, NULL};
        close(to[1]);
        close(from[0]);
        execv(self, argv);
        _exit(127);
    }
    close(to[0]);
    close(from[1]);
    w->wfd = to[1];
    w->rfd = from[0];
}

/* One repetition of the worker: the time it reports. */
static double worker_rep(struct worker *w)
{
    double ns;

    if (write(w->wfd, "r", 1) != 1 ||
        read(w->rfd, &ns, sizeof(ns)) != (ssize_t)sizeof(ns))
        die("worker failed");
    return ns;
}

/* One repetition of the worker as Linux's sample of row (sc, n): the
 * time it reports divided by div. */
static void worker_sample(struct worker *w, enum scen sc, size_t n, double div)
{
    double ns = worker_rep(w);
    struct row *row = row_get(sc, n);

    sample_add(&row->lnx, ns / div);
    row->linux_n = n;
}

static void worker_stop(struct worker *w)
{
    int status;

    if (write(w->wfd, "q", 1) != 1)
        die("worker: %s", strerror(errno));
    close(w->wfd);
    close(w->rfd);
    if (waitpid(w->pid, &status, 0) != w->pid || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0)
        die("worker exited abnormally");
}

static void lib_fork_rep(struct vmar_space *sp, size_t r, size_t idx)
{
    struct vmar_x86_64_config ccfg = {.pcid = 2};
    struct vmar_fork_opts fo = {.mmu_config = &ccfg};
    struct vmar_space *child;

    for (size_t i = 0; i < r; i++) {
        int rc = vmar_fault(sp, FORK_LIB_BASE + i * PG, VMAR_ACCESS_WRITE,
                            VMAR_FAULT_USER);
        if (rc)
            die("vmar_fault: %s", vmar_strerror(rc));
    }
    double t0 = region_begin();
    int rc = vmar_fork(sp, &fo, &child);
    if (rc)
        die("vmar_fork: %s", vmar_strerror(rc));
    double t1 = now_ns();
    vmar_space_destroy(child);
    double t = region_end(t0, "fork", r, r);
    sample_add(&row_get(SC_FORK, r)->lib, t / (double)r);
    sample_add(&fork_only[idx], (t1 - t0) / (double)r);
    sample_add(&fork_free[idx], (t - (t1 - t0)) / (double)r);
}

static void measure_fork(void)
{
    const size_t *rs = cfg.quick ? quick_fork_rs : full_fork_rs;

    for (size_t idx = 0; idx < 3 && !(cfg.quick && idx == 2); idx++) {
        size_t r = rs[idx];
        struct vmar_sim *sim;
        struct vmar_env envbuf;
        struct vmar_space *sp;
        struct vmar_stats st;
        struct worker w;

        if (r > cfg.max_n)
            continue;
        sim = x86_populated(r + r / 128 + 256, FORK_LIB_BASE, r, &envbuf, &sp);
        if (!cfg.no_linux)
            worker_start(&w, "--fork-worker", r);
        for (unsigned rep = 0; rep < cfg.reps; rep++) {
            if (!cfg.no_linux && rep % 2)
                worker_sample(&w, SC_FORK, r, (double)r);
            lib_fork_rep(sp, r, idx);
            if (!cfg.no_linux && !(rep % 2))
                worker_sample(&w, SC_FORK, r, (double)r);
        }
        if (!cfg.no_linux)
            worker_stop(&w);
        vmar_stats(sp, &st);
        if (st.resident != r * PG || vmar_check(sp) != 0)
            die("fork: parent has %llu bytes resident, expected %zu",
                (unsigned long long)st.resident, r * PG);
        vmar_space_destroy(sp);
        bench_sim_destroy(sim);
    }
}

/* ------------------------------------------------------------- fault_cow */

/*
 * Copy-on-write break: the first write to each of K pages that a fork
 * shares between parent and child (a new frame, the copy, the leaf
 * rewritten), K = 1 000 and 10 000. libvmar: a space on the x86-64 4-level
 * backend (as fork) with K private pages, all written; per repetition,
 * untimed: the parent's pages written again (reused in place) and
 * vmar_fork(); timed: vmar_fault(write) on each of the child's K pages;
 * untimed: the child checked and destroyed. The env->frame_alloc calls of
 * the timed part are counted too: one data frame per fault, plus any
 * page-table page a break takes. Linux: a worker process (this program
 * exec'd afresh, as fork's, so that the fork copies little besides the K
 * pages) with one private anonymous mapping of K pages (MADV_NOHUGEPAGE);
 * per repetition it writes every page (untimed), forks, and the child
 * times its first store to each page (a write-protection fault that
 * copies the page, the parent holding it too), sends the time per page
 * through a pipe and _exits.
 */
#define COW_LIB_BASE ((uintptr_t)0x400000000)

static const size_t full_cow_ks[] = {1000, 10000};
static const size_t quick_cow_ks[] = {64, 256};
#define COW_KS 2

/* frame_alloc calls per fault, per size; -1: not run. */
static double cow_allocs[COW_KS] = {-1, -1};

static _Noreturn void cow_worker(size_t k, int rfd, int wfd)
{
    size_t len = k * PG;
    volatile unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
                                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char cmd;

    if (p == MAP_FAILED)
        die("cow worker: mmap: %s", strerror(errno));
    madvise((void *)p, len, MADV_NOHUGEPAGE); /* K base pages, as libvmar's */
    while (read(rfd, &cmd, 1) == 1 && cmd == 'r') {
        int fds[2], status;
        double ns;
        for (size_t i = 0; i < k; i++)
            p[i * PG] = (unsigned char)i;
        if (pipe(fds) != 0)
            die("cow worker: pipe: %s", strerror(errno));
        pid_t pid = fork();
        if (pid < 0)
            die("fork: %s", strerror(errno));
        if (pid == 0) {
            double t0 = now_ns();
            for (size_t i = 0; i < k; i++)
                p[i * PG] = (unsigned char)(i + 1);
            ns = (now_ns() - t0) / (double)k;
            _exit(write(fds[1], &ns, sizeof(ns)) == (ssize_t)sizeof(ns) ? 0
                                                                        : 1);
        }
        close(fds[1]);
        if (read(fds[0], &ns, sizeof(ns)) != (ssize_t)sizeof(ns))
            die("cow worker: no time from the child");
        close(fds[0]);
        if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
            WEXITSTATUS(status) != 0)
            die("cow worker: child failed");
        if (write(wfd, &ns, sizeof(ns)) != (ssize_t)sizeof(ns))
            die("cow worker: write: %s", strerror(errno));
    }
    exit(0);
}

static void cow_fault_all(struct vmar_space *sp, size_t k)
{
    for (size_t i = 0; i < k; i++) {
        int rc = vmar_fault(sp, COW_LIB_BASE + i * PG, VMAR_ACCESS_WRITE,
                            VMAR_FAULT_USER);
        if (rc)
            die("vmar_fault(cow): %s", vmar_strerror(rc));
    }
}

static void lib_cow_rep(struct vmar_sim *sim, struct vmar_space *sp, size_t k,
                        size_t idx)
{
    struct vmar_x86_64_config ccfg = {.pcid = 2};
    struct vmar_fork_opts fo = {.mmu_config = &ccfg};
    struct vmar_space *child;
    struct vmar_sim_stats s0, s1;
    struct vmar_stats st;
    int rc;

    cow_fault_all(sp, k);
    rc = vmar_fork(sp, &fo, &child);
    if (rc)
        die("vmar_fork: %s", vmar_strerror(rc));
    vmar_sim_stats(sim, &s0);
    double t0 = region_begin();
    cow_fault_all(child, k);
    double t = region_end(t0, "fault_cow", k, k);
    vmar_sim_stats(sim, &s1);
    cow_allocs[idx] =
        (double)(s1.frame_alloc_calls - s0.frame_alloc_calls) / (double)k;
    sample_add(&row_get(SC_FAULT_COW, k)->lib, t / (double)k);
    vmar_stats(child, &st);
    if (st.resident_anon != k * PG || vmar_check(child) != 0)
        die("fault_cow: child has %llu anonymous bytes, expected %zu",
            (unsigned long long)st.resident_anon, k * PG);
    vmar_space_destroy(child);
}

static void measure_cow(void)
{
    const size_t *ks = cfg.quick ? quick_cow_ks : full_cow_ks;

    for (size_t idx = 0; idx < COW_KS; idx++) {
        const size_t k = ks[idx];
        struct vmar_sim *sim;
        struct vmar_env envbuf;
        struct vmar_space *sp;
        struct worker w;

        if (k > cfg.max_n)
            continue;
        sim =
            x86_populated(2 * k + k / 256 + 256, COW_LIB_BASE, k, &envbuf, &sp);
        if (!cfg.no_linux)
            worker_start(&w, "--cow-worker", k);
        for (unsigned rep = 0; rep < cfg.reps; rep++) {
            if (!cfg.no_linux && rep % 2)
                worker_sample(&w, SC_FAULT_COW, k, 1);
            lib_cow_rep(sim, sp, k, idx);
            if (!cfg.no_linux && !(rep % 2))
                worker_sample(&w, SC_FAULT_COW, k, 1);
        }
        if (!cfg.no_linux)
            worker_stop(&w);
        if (vmar_check(sp) != 0)
            die("fault_cow: vmar_check of the parent failed");
        vmar_space_destroy(sp);
        bench_sim_destroy(sim);
    }
}

/* The syscall floor, sampled once per repetition all through the run. */
static struct sample floor_sample;

static void measure_floor(void)
{
    double t0 = now_ns();

    for (size_t i = 0; i < cfg.floor_calls; i++)
        syscall(SYS_getppid);
    sample_add(&floor_sample, (now_ns() - t0) / (double)cfg.floor_calls);
}

/*
 * Measure row size row_n: libvmar at lib_n mappings and, unless lin_n is
 * 0, Linux at lin_n. Both layouts exist at once and the repetitions
 * alternate between the sides (which one goes first alternates too), so a
 * change in the machine's load hits both sides alike.
 */
static void measure(size_t row_n, size_t lib_n, size_t lin_n, bool do_split)
{
    struct bench lib, lin;

    bench_setup(&lib, SIDE_LIB, lib_n);
    if (lin_n)
        bench_setup(&lin, SIDE_LINUX, lin_n);
    for (unsigned rep = 0; rep < cfg.reps; rep++) {
        if (lin_n && rep % 2)
            bench_rep(&lin, row_n, do_split);
        bench_rep(&lib, row_n, do_split);
        if (lin_n && !(rep % 2))
            bench_rep(&lin, row_n, do_split);
        if (lin_n)
            measure_floor();
    }
    bench_finish(&lib, do_split);
    if (lin_n)
        bench_finish(&lin, do_split);
}

/* Reuse the Linux results of row size from_n (measured at the cap) for the
 * larger row size to_n. */
static void copy_linux(size_t from_n, size_t to_n)
{
    for (size_t i = 0; i < nrows; i++) {
        if (rows[i].n != from_n || rows[i].nt || !rows[i].lnx.n)
            continue;
        struct sample lnx = rows[i].lnx;
        size_t linux_n = rows[i].linux_n;
        struct row *to = row_get(rows[i].sc, to_n); /* may move rows */
        to->lnx = lnx;
        to->linux_n = linux_n;
    }
}

static size_t count_own_mappings(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    size_t n = 0;
    int c;

    if (!f)
        return 0;
    while ((c = fgetc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

static size_t read_max_map_count(void)
{
    FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
    unsigned long v = 65530;

    if (f) {
        if (fscanf(f, "%lu", &v) != 1)
            v = 65530;
        fclose(f);
    }
    return v;
}

/* ---------------------------------------------------------------- output */

static void print_table(FILE *out, const struct stat3 *floor_st)
{
    fprintf(out, "%-12s %-37s %8s %27s %8s %27s %9s %9s\n", "scenario", "op",
            "N", "libvmar ns/op med [min-max]", "Linux N",
            "Linux ns/op med [min-max]", "lib/Linux", "lib/(L-f)");
    for (enum scen sc = 0; sc < SC_COUNT; sc++) {
        for (size_t i = 0; i < nrows; i++) {
            const struct row *r = &rows[i];
            if (r->sc != sc)
                continue;
            struct stat3 l = sample_stat(&r->lib), x = sample_stat(&r->lnx);
            char lb[64], xb[64], nb[32], rb[16], fb[16], name[32];
            snprintf(lb, sizeof(lb), "%.1f [%.1f-%.1f]", l.med, l.min, l.max);
            if (r->lnx.n) {
                snprintf(xb, sizeof(xb), "%.1f [%.1f-%.1f]", x.med, x.min,
                         x.max);
                snprintf(nb, sizeof(nb), "%zu%s", r->linux_n,
                         r->linux_n < r->n ? "*" : "");
                snprintf(rb, sizeof(rb), "%.3f", l.med / x.med);
                if (x.med > floor_st->med && scen_floor_applies(sc))
                    snprintf(fb, sizeof(fb), "%.3f",
                             l.med / (x.med - floor_st->med));
                else
                    snprintf(fb, sizeof(fb), "-");
            } else {
                snprintf(xb, sizeof(xb), "n/a");
                snprintf(nb, sizeof(nb), "-");
                snprintf(rb, sizeof(rb), "-");
                snprintf(fb, sizeof(fb), "-");
            }
            fprintf(out, "%-12s %-37s %8zu %27s %8s %27s %9s %9s\n",
                    row_name(r, name, sizeof(name)), scen_op[sc], r->n, lb, nb,
                    xb, rb, fb);
        }
    }
}

static void write_csv(const char *path, const struct stat3 *floor_st)
{
    FILE *f = fopen(path, "w");

    if (!f)
        die("%s: %s", path, strerror(errno));
    fprintf(f, "scenario,op,unit,n,lib_median,lib_min,lib_max,linux_n,"
               "linux_median,linux_min,linux_max,ratio,getppid_ns\n");
    for (enum scen sc = 0; sc < SC_COUNT; sc++) {
        for (size_t i = 0; i < nrows; i++) {
            const struct row *r = &rows[i];
            if (r->sc != sc)
                continue;
            struct stat3 l = sample_stat(&r->lib), x = sample_stat(&r->lnx);
            char name[32];
            fprintf(f, "%s,\"%s\",%s,%zu,%.2f,%.2f,%.2f,",
                    row_name(r, name, sizeof(name)), scen_op[sc], scen_unit(sc),
                    r->n, l.med, l.min, l.max);
            if (r->lnx.n)
                fprintf(f, "%zu,%.2f,%.2f,%.2f,%.4f,%.2f\n", r->linux_n, x.med,
                        x.min, x.max, l.med / x.med, floor_st->med);
            else
                fprintf(f, ",,,,,%.2f\n", floor_st->med);
        }
    }
    if (meta.lib_n) {
        double lib = (double)meta.lib_bytes / (double)meta.lib_n;
        fprintf(f,
                "meta_bytes,\"metadata per mapping\",bytes,%zu,%.2f,%.2f,"
                "%.2f,",
                meta.lib_n, lib, lib, lib);
        if (meta.vma_objsize)
            fprintf(f, "%zu,%zu,%zu,%zu,%.4f,\n", meta.linux_n,
                    meta.vma_objsize, meta.vma_objsize, meta.vma_objsize,
                    lib / (double)meta.vma_objsize);
        else
            fprintf(f, ",,,,,\n");
    }
    if (fclose(f) != 0)
        die("%s: %s", path, strerror(errno));
}

static void print_meta(void)
{
    struct utsname u;

    uname(&u);
    if (meta.lib_n)
        printf("metadata per mapping: libvmar %.1f bytes (growth of the bytes "
               "requested from env->alloc over %zu mappings, allocator "
               "overhead excluded)\n",
               (double)meta.lib_bytes / (double)meta.lib_n, meta.lib_n);
    if (churn.n)
        printf("index after churn: libvmar %zu mappings after the split and "
               "merge rounds: %zu index nodes of %zu bytes (%.1f bytes per "
               "mapping), %zu when built (%.1f)\n",
               churn.n, churn.churned, churn.node_size,
               (double)(churn.churned * churn.node_size) / (double)churn.n,
               churn.built,
               (double)(churn.built * churn.node_size) / (double)churn.n);
    if (meta.slab_ok && meta.linux_n) {
        double vma = (double)meta.vma_delta * (double)meta.vma_objsize /
                     (double)meta.linux_n;
        double node = (double)meta.node_delta * (double)meta.node_objsize /
                      (double)meta.linux_n;
        printf("metadata per mapping: Linux %s: sizeof(vm_area_struct) = %zu "
               "bytes (/proc/slabinfo objsize); measured slab growth over "
               "%zu mappings: vm_area_struct %.1f + maple_node %.1f = %.1f "
               "bytes (system-wide counters, approximate)\n",
               u.release, meta.vma_objsize, meta.linux_n, vma, node,
               vma + node);
    } else if (meta.vma_objsize) {
        printf("metadata per mapping: Linux %s: sizeof(vm_area_struct) = %zu "
               "bytes (/proc/slabinfo objsize)\n",
               u.release, meta.vma_objsize);
    } else {
        printf("metadata per mapping: Linux %s: /proc/slabinfo not readable "
               "(needs root); not measured\n",
               u.release);
    }
}

static void print_fork_notes(void)
{
    const size_t *rs = cfg.quick ? quick_fork_rs : full_fork_rs;
    size_t lo = 0, hi = 0;
    struct stat3 llo = {0}, lhi = {0}, xlo = {0}, xhi = {0};

    printf("remap: N = pages moved per call; libvmar on the x86-64 4-level "
           "backend (sim frames)\n");
    printf("fork: N = resident pages; libvmar on the x86-64 4-level backend "
           "(sim frames), timed vmar_fork + vmar_space_destroy(child); Linux "
           "timed fork + child _exit(0) + waitpid in a fresh worker process "
           "with N written pages; lib/(L-f) does not apply\n");
    for (size_t idx = 0; idx < 3 && !(cfg.quick && idx == 2); idx++) {
        size_t r = rs[idx];
        struct row *row;
        if (r > cfg.max_n)
            continue;
        row = row_get(SC_FORK, r);
        struct stat3 a = sample_stat(&fork_only[idx]);
        struct stat3 b = sample_stat(&fork_free[idx]);
        printf("fork: N = %zu: vmar_fork alone %.1f ns/page, child destroy "
               "%.1f ns/page (medians)\n",
               r, a.med, b.med);
        if (!lo) {
            lo = r;
            llo = sample_stat(&row->lib);
            xlo = sample_stat(&row->lnx);
        }
        hi = r;
        lhi = sample_stat(&row->lib);
        xhi = sample_stat(&row->lnx);
    }
    if (lo && hi > lo) {
        double dl =
            (lhi.med * (double)hi - llo.med * (double)lo) / (double)(hi - lo);
        printf("fork: marginal cost per page from N = %zu to %zu (medians): "
               "libvmar %.1f ns",
               lo, hi, dl);
        if (xlo.med > 0 && xhi.med > 0) {
            double dx = (xhi.med * (double)hi - xlo.med * (double)lo) /
                        (double)(hi - lo);
            if (dx > 0)
                printf(", Linux %.1f ns, ratio %.3f; Linux's fixed cost "
                       "(fork of the worker without its N pages) ~%.0f ns",
                       dx, dl / dx, xlo.med * (double)lo - dx * (double)lo);
            else
                printf(", Linux: none measurable (noise)");
        }
        printf("\n");
    }
}

static void print_cow_notes(void)
{
    const size_t *ks = cfg.quick ? quick_cow_ks : full_cow_ks;

    printf("fault_cow: N = pages written in the child; libvmar on the "
           "x86-64 4-level backend (sim frames), env->frame_alloc calls "
           "per fault:");
    for (size_t idx = 0, n = 0; idx < COW_KS; idx++)
        if (cow_allocs[idx] >= 0)
            printf("%s N = %zu: %.2f", n++ ? "," : "", ks[idx],
                   cow_allocs[idx]);
    printf("; Linux: a child of a freshly exec'd worker that wrote the N "
           "pages times its first store to each\n");
}

/* ------------------------------------------------------------------ main */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: vmar_bench [--quick] [--reps R] [--max-n N] [--csv FILE]\n"
            "                  [--no-linux] [--only G] "
            "[--env embed|embed4k|sim] [--mmu sim|x86_64]\n"
            "                  [--callgrind | --callgrind-cache]\n"
            "  --quick      tiny sizes (the ctest smoke test)\n"
            "  --reps R     repetitions per scenario (default 5, max %d)\n"
            "  --max-n N    skip sizes above N\n"
            "  --csv FILE   also write the results as CSV\n"
            "  --no-linux   libvmar side only\n"
            "  --only G     one group of rows: layout (split/merge to\n"
            "               fault_spur), remap, fork, fault_cow (or cow)\n"
            "               or fault_mt (mt_sep, mt_one, mt_churn)\n"
            "  --env E      libvmar's env: embed (default: slab allocator and\n"
            "               frame pool on 2 MiB pages, page-array refcounts,\n"
            "               direct-map phys_to_virt on x86-64), embed4k (slab\n"
            "               and pool on 4 KiB pages) or sim (the sim env\n"
            "               unchanged)\n"
            "  --mmu B      backend of the layout scenarios (split/merge,\n"
            "               map/unmap, placement, query, faults): sim\n"
            "               (default: the test backend, which takes its\n"
            "               table lock and records TLB state per call) or\n"
            "               x86_64 (the 4-level backend a kernel embeds, on\n"
            "               the sim's frames), also of the fault_mt rows\n"
            "               (over the sim's locked env); fork, remap and\n"
            "               fault_cow always x86_64\n"
            "  --callgrind  instruction counts: run under callgrind.sh\n"
            "  --callgrind-cache\n"
            "               the same with warm simulated caches: run under\n"
            "               callgrind.sh --cache\n",
            MAX_REPS);
}

/* The group of rows `g` runs (--only). */
static bool group(const char *g)
{
    return !cfg.only || !strcmp(cfg.only, g);
}

static size_t parse_size(const char *s)
{
    char *end;
    unsigned long long v;

    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || *end || end == s)
        die("not a number: %s", s);
    return (size_t)v;
}

static void parse_args(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--quick")) {
            cfg.quick = true;
        } else if (!strcmp(a, "--callgrind")) {
            cfg.callgrind = true;
        } else if (!strcmp(a, "--callgrind-cache")) {
            cfg.callgrind = cfg.callgrind_cache = true;
        } else if (!strcmp(a, "--no-linux")) {
            cfg.no_linux = true;
        } else if (!strcmp(a, "--only") && i + 1 < argc) {
            cfg.only = argv[++i];
            if (!strcmp(cfg.only, "cow")) /* the group's former name */
                cfg.only = "fault_cow";
            if (strcmp(cfg.only, "layout") && strcmp(cfg.only, "remap") &&
                strcmp(cfg.only, "fork") && strcmp(cfg.only, "fault_cow") &&
                strcmp(cfg.only, "fault_mt"))
                die("--only: layout, remap, fork, fault_cow (cow) or "
                    "fault_mt");
        } else if (!strcmp(a, "--reps") && i + 1 < argc) {
            cfg.reps = (unsigned)parse_size(argv[++i]);
            if (cfg.reps < 1 || cfg.reps > MAX_REPS)
                die("--reps: 1..%d", MAX_REPS);
        } else if (!strcmp(a, "--max-n") && i + 1 < argc) {
            cfg.max_n = parse_size(argv[++i]);
        } else if (!strcmp(a, "--env") && i + 1 < argc) {
            const char *v = argv[++i];
            if (!strcmp(v, "embed"))
                cfg.env = ENV_EMBED;
            else if (!strcmp(v, "embed4k"))
                cfg.env = ENV_EMBED4K;
            else if (!strcmp(v, "sim"))
                cfg.env = ENV_SIM;
            else
                die("--env: embed, embed4k or sim");
        } else if (!strcmp(a, "--mmu") && i + 1 < argc) {
            const char *v = argv[++i];
            if (!strcmp(v, "sim"))
                cfg.mmu = MMU_SIM;
            else if (!strcmp(v, "x86_64"))
                cfg.mmu = MMU_X86;
            else
                die("--mmu: sim or x86_64");
        } else if (!strcmp(a, "--csv") && i + 1 < argc) {
            cfg.csv = argv[++i];
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            exit(0);
        } else {
            usage(stderr);
            exit(2);
        }
    }
    if (cfg.quick) {
        cfg.batch = 50;
        cfg.lookups = 2000;
        cfg.floor_calls = 2000;
    }
    if (cfg.callgrind) {
#ifndef VMAR_HAVE_CALLGRIND_H
        die("--callgrind: built without <valgrind/callgrind.h>");
#endif
        cfg.reps = 1;
        cfg.no_linux = true;
        cfg.lookups = 10000;
    }
}

int main(int argc, char **argv)
{
    const size_t *ns;
    size_t nns, split_max;
    struct utsname u;
    size_t cap = 0, last_linux_n = 0, last_row_n = 0;

    /* The Linux side of the fork and fault_cow rows (worker_start()),
     * not user options. */
    if (argc == 5 && !strcmp(argv[1], "--fork-worker"))
        fork_worker(parse_size(argv[2]), (int)parse_size(argv[3]),
                    (int)parse_size(argv[4]));
    if (argc == 5 && !strcmp(argv[1], "--cow-worker"))
        cow_worker(parse_size(argv[2]), (int)parse_size(argv[3]),
                   (int)parse_size(argv[4]));
    parse_args(argc, argv);
    ns = cfg.quick ? quick_ns : full_ns;
    nns = cfg.quick ? sizeof(quick_ns) / sizeof(quick_ns[0])
                    : sizeof(full_ns) / sizeof(full_ns[0]);
    split_max = cfg.quick ? quick_split_max : full_split_max;

    the_sim = bench_sim_create(8192);
    uname(&u);

    if (!cfg.no_linux) {
        size_t mmc = read_max_map_count(), own = count_own_mappings();
        size_t margin = 2 * cfg.batch + 256; /* batches + malloc's own */
        cap = mmc > own + margin ? mmc - own - margin : 0;
        printf("vmar_bench: libvmar %d.%d.%d (%s backend, %s) vs Linux %s "
               "syscalls; %u repetitions\n",
               VMAR_VERSION_MAJOR, VMAR_VERSION_MINOR, VMAR_VERSION_PATCH,
               mmu_name(), env_name(), u.release, cfg.reps);
        printf("host: vm.max_map_count = %zu (not changed), this process "
               "already has %zu mappings: the Linux side runs at most "
               "N = %zu (rows marked *)\n",
               mmc, own, cap);
    } else {
        printf("vmar_bench: libvmar %d.%d.%d (%s backend, %s) only%s\n",
               VMAR_VERSION_MAJOR, VMAR_VERSION_MINOR, VMAR_VERSION_PATCH,
               mmu_name(), env_name(), cfg.callgrind ? ", callgrind mode" : "");
    }
    fflush(stdout);

    for (size_t i = 0; i < nns && group("layout"); i++) {
        size_t n = ns[i];
        if (n > cfg.max_n)
            continue;
        bool do_split = n <= split_max;
        size_t ln = cfg.no_linux ? 0 : n < cap ? n : cap;
        if (ln && ln == last_linux_n) {
            /* Linux is capped and ran at this size already. */
            measure(n, n, 0, do_split);
            copy_linux(last_row_n, n);
            continue;
        }
        measure(n, n, ln, do_split);
        last_linux_n = ln;
        last_row_n = n;
    }

    if (group("remap"))
        measure_remap();
    if (group("fork"))
        measure_fork();
    if (group("fault_cow"))
        measure_cow();
    if (!cfg.callgrind && group("fault_mt"))
        measure_fault_mt();

    /* Last: its buffers (up to 64 MiB of huge pages) measurably slowed
     * the scenarios' memory-bound rows when it ran first. */
    if (!cfg.callgrind && !cfg.quick && !cfg.only)
        print_mem_latency();

    if (cfg.callgrind) {
        printf("done: one callgrind dump per scenario and size\n");
    } else {
        struct stat3 floor_st = sample_stat(&floor_sample);
        if (floor_sample.n)
            printf("syscall floor: getppid() %.1f ns [%.1f-%.1f] "
                   "(median [min-max] of %u samples of %zu calls, one "
                   "per repetition)\n",
                   floor_st.med, floor_st.min, floor_st.max, floor_sample.n,
                   cfg.floor_calls);
        printf("\n");
        print_table(stdout, &floor_st);
        printf("\n");
        print_meta();
        printf("lib/(L-f): libvmar against Linux minus the getppid floor "
               "(the kernel-entry share)\n");
        printf("fault_spur has no Linux column: a store to a present page "
               "does not fault there\n");
        if (mt.ran)
            print_mt_notes();
        if (group("fork"))
            print_fork_notes();
        if (group("fault_cow"))
            print_cow_notes();
        if (cfg.csv)
            write_csv(cfg.csv, &floor_st);
    }
    free(rows);
    bench_sim_destroy(the_sim);
    slab_fini();
    return 0;
}
