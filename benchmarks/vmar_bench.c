/* SPDX-License-Identifier: MIT */
/*
 * vmar_bench: libvmar (sim backend) side by side with the host kernel's own
 * VMA code, reached through the syscalls, in one process run.
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
 *   fault_mt1,        fault throughput with 1 and 2 threads: each thread
 *   fault_mt2         calls vmar_fault() (write, demand-zero) on K distinct
 *                     pages of its own half of one mapping in one space
 *                     over the sim's locked env (faults take the space
 *                     lock shared and race on the page-table lock). One op
 *                     = one fault; ns/op is wall time over all faults of
 *                     all threads (its inverse, faults/s, is printed too).
 *                     N is K per thread. libvmar only, not in --callgrind.
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
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <vmar/fault.h>
#include <vmar/sim.h>
#include <vmar/vmar.h>

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

struct config {
    bool quick;
    bool callgrind;
    bool no_linux;
    unsigned reps;
    size_t batch;   /* K: ops per timed batch */
    size_t lookups; /* queries per repetition */
    size_t floor_calls;
    size_t max_n;
    const char *csv;
};

static struct config cfg = {
    .reps = 5,
    .batch = 1000,
    .lookups = 200000,
    .floor_calls = 100000,
    .max_n = (size_t)-1,
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
    if (cfg.callgrind) {
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
        CALLGRIND_DUMP_STATS_AT(label);
        CALLGRIND_STOP_INSTRUMENTATION;
    }
#else
    (void)scenario;
    (void)n;
    (void)ops;
#endif
    return t;
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

static size_t lib_meta_bytes(void)
{
    struct vmar_sim_stats st;

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
        struct vmar_space_opts o = {
            .env = vmar_sim_env(the_sim),
            .mmu = &vmar_mmu_sim,
            .mmu_config = the_sim,
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
    SC_FAULT_MT1,
    SC_FAULT_MT2,
    SC_COUNT
};

static const char *const scen_name[SC_COUNT] = {
    "split_seq",  "merge_seq",   "split_rand", "merge_rand",
    "map_fixed",  "unmap_fixed", "map_any",    "query",
    "fault_zero", "fault_spur",  "fault_mt1",  "fault_mt2",
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
    "demand-zero fault, 1 thread",
    "demand-zero fault, 2 threads",
};

#define SAMPLE_CAP 128

struct sample {
    double v[SAMPLE_CAP];
    unsigned n;
};

struct row {
    enum scen sc;
    size_t n;
    struct sample lib;
    size_t linux_n; /* 0: not measured */
    struct sample lnx;
};

static struct row *rows;
static size_t nrows;

static struct row *row_get(enum scen sc, size_t n)
{
    for (size_t i = 0; i < nrows; i++)
        if (rows[i].sc == sc && rows[i].n == n)
            return &rows[i];
    rows = realloc(rows, (nrows + 1) * sizeof(*rows));
    if (!rows)
        die("out of memory");
    memset(&rows[nrows], 0, sizeof(*rows));
    rows[nrows].sc = sc;
    rows[nrows].n = n;
    return &rows[nrows++];
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

static void bench_finish(struct bench *b)
{
    if (b->s.kind == SIDE_LIB) {
        struct vmar_stats st;
        vmar_stats(b->s.sp, &st);
        if (st.map_count != b->n || vmar_check(b->s.sp) != 0)
            die("libvmar layout changed: %zu mappings, expected %zu",
                st.map_count, b->n);
    }
    layout_teardown(&b->s, b->n);
    free(b->seq);
    free(b->perm);
    free(b->pick);
    free(b->fault_pick);
    free(b->addrs);
}

/* ------------------------------------------------ fault throughput (MT) */

#define MT_BASE ((uintptr_t)0x200000000)

struct mt_arg {
    struct vmar_space *sp;
    uintptr_t lo; /* first page of this thread's half */
    size_t pages; /* K */
    pthread_barrier_t *go;
};

static void *mt_main(void *p)
{
    struct mt_arg *a = p;

    pthread_barrier_wait(a->go); /* start together */
    for (size_t i = 0; i < a->pages; i++) {
        int rc = vmar_fault(a->sp, a->lo + i * PG, VMAR_ACCESS_WRITE,
                            VMAR_FAULT_USER);
        if (rc)
            die("vmar_fault(%#" PRIxPTR "): %s", a->lo + i * PG,
                vmar_strerror(rc));
    }
    return NULL;
}

/* One space over the locked env, one mapping of 2 * K pages; per
 * repetition and thread count: fault K pages per thread, timed from the
 * common start to the last join, then unmap and map again (untimed). */
static void measure_fault_mt(void)
{
    const size_t k = cfg.quick ? 256 : 2048;
    struct vmar_sim_lock *lock;
    struct vmar_space *sp;
    struct vmar_space_opts o = {.env = vmar_sim_env_locked(the_sim),
                                .mmu = &vmar_mmu_sim,
                                .mmu_config = the_sim};
    struct vmar_map_opts m = {.addr = MT_BASE,
                              .size = 2 * k * PG,
                              .place = VMAR_PLACE_FIXED,
                              .prot = VMAR_PROT_READ | VMAR_PROT_WRITE};
    int rc;

    if (vmar_sim_lock_create(&lock))
        die("vmar_sim_lock_create failed");
    o.lock = lock;
    rc = vmar_space_create(&o, &sp);
    if (rc)
        die("vmar_space_create: %s", vmar_strerror(rc));
    for (unsigned rep = 0; rep < cfg.reps; rep++) {
        for (unsigned nt = 1; nt <= 2; nt++) {
            pthread_barrier_t go;
            pthread_t th[2];
            struct mt_arg a[2];

            rc = vmar_map(sp, &m, NULL);
            if (rc)
                die("vmar_map: %s", vmar_strerror(rc));
            pthread_barrier_init(&go, NULL, nt + 1);
            for (unsigned t = 0; t < nt; t++) {
                a[t] = (struct mt_arg){sp, MT_BASE + t * k * PG, k, &go};
                if (pthread_create(&th[t], NULL, mt_main, &a[t]))
                    die("pthread_create failed");
            }
            double t0 = now_ns();
            pthread_barrier_wait(&go);
            for (unsigned t = 0; t < nt; t++)
                pthread_join(th[t], NULL);
            double ns = (now_ns() - t0) / (double)(nt * k);
            pthread_barrier_destroy(&go);
            struct row *r = row_get(nt == 1 ? SC_FAULT_MT1 : SC_FAULT_MT2, k);
            sample_add(&r->lib, ns);
            rc = vmar_unmap(sp, MT_BASE, 2 * k * PG);
            if (rc)
                die("vmar_unmap: %s", vmar_strerror(rc));
        }
    }
    if (vmar_check(sp) != 0)
        die("fault_mt: vmar_check failed");
    vmar_space_destroy(sp);
    vmar_sim_lock_destroy(lock);
    struct stat3 s1 = sample_stat(&row_get(SC_FAULT_MT1, k)->lib);
    struct stat3 s2 = sample_stat(&row_get(SC_FAULT_MT2, k)->lib);
    printf("fault throughput (locked env, %zu faults per thread, median of "
           "%u): 1 thread %.2f M faults/s, 2 threads %.2f M faults/s "
           "(x%.2f)\n",
           k, cfg.reps, 1e3 / s1.med, 1e3 / s2.med, s1.med / s2.med);
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
    bench_finish(&lib);
    if (lin_n)
        bench_finish(&lin);
}

/* Reuse the Linux results of row size from_n (measured at the cap) for the
 * larger row size to_n. */
static void copy_linux(size_t from_n, size_t to_n)
{
    for (size_t i = 0; i < nrows; i++) {
        if (rows[i].n != from_n || !rows[i].lnx.n)
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
            char lb[64], xb[64], nb[32], rb[16], fb[16];
            snprintf(lb, sizeof(lb), "%.1f [%.1f-%.1f]", l.med, l.min, l.max);
            if (r->lnx.n) {
                snprintf(xb, sizeof(xb), "%.1f [%.1f-%.1f]", x.med, x.min,
                         x.max);
                snprintf(nb, sizeof(nb), "%zu%s", r->linux_n,
                         r->linux_n < r->n ? "*" : "");
                snprintf(rb, sizeof(rb), "%.3f", l.med / x.med);
                if (x.med > floor_st->med)
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
                    scen_name[sc], scen_op[sc], r->n, lb, nb, xb, rb, fb);
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
            fprintf(f, "%s,\"%s\",ns/op,%zu,%.2f,%.2f,%.2f,", scen_name[sc],
                    scen_op[sc], r->n, l.med, l.min, l.max);
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
        printf("metadata per mapping: libvmar %.1f bytes (sim alloc_bytes_live "
               "delta over %zu mappings, allocator headers excluded)\n",
               (double)meta.lib_bytes / (double)meta.lib_n, meta.lib_n);
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

/* ------------------------------------------------------------------ main */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: vmar_bench [--quick] [--reps R] [--max-n N] [--csv FILE]\n"
            "                  [--no-linux] [--callgrind]\n"
            "  --quick      tiny sizes (the ctest smoke test)\n"
            "  --reps R     repetitions per scenario (default 5, max %d)\n"
            "  --max-n N    skip sizes above N\n"
            "  --csv FILE   also write the results as CSV\n"
            "  --no-linux   libvmar side only\n"
            "  --callgrind  instruction counts: run under callgrind.sh\n",
            MAX_REPS);
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
        } else if (!strcmp(a, "--no-linux")) {
            cfg.no_linux = true;
        } else if (!strcmp(a, "--reps") && i + 1 < argc) {
            cfg.reps = (unsigned)parse_size(argv[++i]);
            if (cfg.reps < 1 || cfg.reps > MAX_REPS)
                die("--reps: 1..%d", MAX_REPS);
        } else if (!strcmp(a, "--max-n") && i + 1 < argc) {
            cfg.max_n = parse_size(argv[++i]);
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
    struct vmar_sim_opts so = {.nframes = 8192};
    struct utsname u;
    size_t cap = 0, last_linux_n = 0, last_row_n = 0;
    int rc;

    parse_args(argc, argv);
    ns = cfg.quick ? quick_ns : full_ns;
    nns = cfg.quick ? sizeof(quick_ns) / sizeof(quick_ns[0])
                    : sizeof(full_ns) / sizeof(full_ns[0]);
    split_max = cfg.quick ? quick_split_max : full_split_max;

    rc = vmar_sim_create(&so, &the_sim);
    if (rc)
        die("vmar_sim_create: %s", vmar_strerror(rc));
    uname(&u);

    if (!cfg.no_linux) {
        size_t mmc = read_max_map_count(), own = count_own_mappings();
        size_t margin = 2 * cfg.batch + 256; /* batches + malloc's own */
        cap = mmc > own + margin ? mmc - own - margin : 0;
        printf("vmar_bench: libvmar %d.%d.%d (sim backend) vs Linux %s "
               "syscalls; %u repetitions\n",
               VMAR_VERSION_MAJOR, VMAR_VERSION_MINOR, VMAR_VERSION_PATCH,
               u.release, cfg.reps);
        printf("host: vm.max_map_count = %zu (not changed), this process "
               "already has %zu mappings: the Linux side runs at most "
               "N = %zu (rows marked *)\n",
               mmc, own, cap);
    } else {
        printf("vmar_bench: libvmar %d.%d.%d (sim backend) only%s\n",
               VMAR_VERSION_MAJOR, VMAR_VERSION_MINOR, VMAR_VERSION_PATCH,
               cfg.callgrind ? ", callgrind mode" : "");
    }
    fflush(stdout);

    for (size_t i = 0; i < nns; i++) {
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

    if (!cfg.callgrind)
        measure_fault_mt();

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
        printf("fault_mt1/fault_mt2: N is faults per thread; ns/op is wall "
               "time per fault over all threads (1e3/ns = M faults/s)\n");
        printf("TODO (not implemented in libvmar yet, no numbers): "
               "fork, remap\n");
        if (cfg.csv)
            write_csv(cfg.csv, &floor_st);
    }
    free(rows);
    vmar_sim_destroy(the_sim);
    return 0;
}
