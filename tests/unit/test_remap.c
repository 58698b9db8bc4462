/* SPDX-License-Identifier: MIT */
/*
 * vmar_remap() (mremap) and vmar_resize(): shrink and grow in place, moves
 * that keep contents, residency and device entries, FIXED targets that
 * replace what is there, DONTUNMAP, Linux's errno for every bad argument,
 * merging at the new place, shared objects, fork, limits, allocation
 * failures at every point, and the TLB discipline as seen by simulated
 * CPUs (including a flush skipped on purpose, so that the detector is
 * shown to fire).
 *
 * Every page written gets its own byte value, so a page that moved to the
 * wrong place, or was zeroed, or kept a stale frame, reads differently.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vmar/mmu.h>
#include <vmar/object.h>

#define R    ((unsigned)VMAR_PROT_READ)
#define W    ((unsigned)VMAR_PROT_WRITE)
#define RW   (R | W)
#define NONE ((unsigned)VMAR_PROT_NONE)

#define FIXED     VMAR_PLACE_FIXED
#define MAYMOVE   VMAR_REMAP_MAYMOVE
#define RFIXED    (VMAR_REMAP_MAYMOVE | VMAR_REMAP_FIXED)
#define DONTUNMAP (VMAR_REMAP_MAYMOVE | VMAR_REMAP_DONTUNMAP)
#define RD        VMAR_ACCESS_READ
#define WR        VMAR_ACCESS_WRITE

#define BASE ((vmar_addr_t)0x40000000) /* 1 GiB aligned, on every backend */
#define MB2  ((vmar_size_t)1 << 21)
#define NDEV 4

/* ---- helpers ------------------------------------------------------------- */

/* The operations under test, each followed by the invariant check. */
static int remap(struct vt *vt, vmar_addr_t old, vmar_size_t osz,
                 vmar_size_t nsz, unsigned flags, vmar_addr_t new_addr,
                 vmar_addr_t *out)
{
    int rc = vmar_remap(vt->space, old, osz, nsz, flags, new_addr, out);
    VT_CHECK(vt);
    return rc;
}

static int resize(struct vt *vt, vmar_addr_t addr, vmar_size_t osz,
                  vmar_size_t nsz)
{
    int rc = vmar_resize(vt->space, addr, osz, nsz);
    VT_CHECK(vt);
    return rc;
}

/* A remap that must fail with `want` and change nothing at all. */
#define EXPECT_REMAP_FAILS(vt, old, osz, nsz, flags, new_addr, want)           \
    do {                                                                       \
        struct vt_snap snap_;                                                  \
        vmar_addr_t out_ = 0x1234;                                             \
        vt_snap_take((vt), &snap_);                                            \
        VT_EXPECT_RC(                                                          \
            remap((vt), (old), (osz), (nsz), (flags), (new_addr), &out_),      \
            (want));                                                           \
        assert_int_equal(out_, 0x1234);                                        \
        VT_EXPECT_UNCHANGED((vt), &snap_);                                     \
    } while (0)

#define EXPECT_RESIZE_FAILS(vt, addr, osz, nsz, want)                          \
    do {                                                                       \
        struct vt_snap snap_;                                                  \
        vt_snap_take((vt), &snap_);                                            \
        VT_EXPECT_RC(resize((vt), (addr), (osz), (nsz)), (want));              \
        VT_EXPECT_UNCHANGED((vt), &snap_);                                     \
    } while (0)

/* A shared read-write mapping of `obj` from offset 0. */
static void map_shared(struct vt *vt, vmar_addr_t at, size_t pages,
                       struct vmar_object *obj)
{
    struct vmar_map_opts o = {.addr = at,
                              .size = pages * PG,
                              .prot = RW,
                              .place = FIXED,
                              .flags = VMAR_MAP_SHARED,
                              .backing = VMAR_BACKING_OBJECT,
                              .object = obj};

    VT_EXPECT_RC(vt_map_opts(vt, &o, NULL), 0);
}

/* VT_EXPECT_PAGES through a simulated CPU (TLB, walk, fault). */
#define EXPECT_CPU_PAGES(vt, cpu, at, pages, seed)                             \
    expect_cpu_pages_at((vt), (cpu), (at), (pages), (seed), false, __FILE__,   \
                        __LINE__)
#define EXPECT_CPU_ZERO(vt, cpu, at, pages)                                    \
    expect_cpu_pages_at((vt), (cpu), (at), (pages), 0, true, __FILE__, __LINE__)
static void expect_cpu_pages_at(struct vt *vt, struct vmar_sim_cpu *cpu,
                                vmar_addr_t at, size_t pages, unsigned seed,
                                bool zero, const char *file, int line)
{
    static unsigned char buf[VMAR_PAGE_SIZE];

    for (size_t i = 0; i < pages; i++) {
        unsigned char want = zero ? 0 : vt_page_byte(seed, i);
        memset(buf, 0xee, sizeof(buf));
        _assert_int_equal(
            vmar_sim_cpu_access(cpu, at + i * PG, RD, buf, sizeof(buf)), 0,
            file, line);
        if (!vt_all_bytes(buf, sizeof(buf), want)) {
            fprintf(stderr,
                    "%s:%d: cpu: page %zu at %#llx: byte %#x, want %#x\n", file,
                    line, i, (unsigned long long)(at + i * PG), buf[0], want);
            _fail(file, line);
        }
    }
    vt_check_at(vt, file, line);
}

/* Frames that are not page tables of `vt` (nor of `child`, if any): data
 * frames, whatever tables a move creates or frees. */
static size_t data_frames(struct vt *vt, struct vt *child)
{
    return vt_frames_live(vt) - vt_tables(vt) - (child ? vt_tables(child) : 0);
}

#define EXPECT_UNMAPPED(vt, at)                                                \
    do {                                                                       \
        struct vmar_mapping_info i_;                                           \
        VT_EXPECT_RC(vmar_query((vt)->space, (at), &i_), VMAR_ENOENT);         \
    } while (0)

static struct vmar_mapping_info query(struct vt *vt, vmar_addr_t at)
{
    struct vmar_mapping_info info;

    memset(&info, 0, sizeof(info));
    VT_EXPECT_RC(vmar_query(vt->space, at, &info), 0);
    return info;
}

/* A /proc/pid/maps line of a private anonymous mapping (or any mapping
 * whose offset column is `off`). */
static char *line(char *p, vmar_addr_t lo, vmar_addr_t hi, const char *perms,
                  uint64_t off)
{
    return p + sprintf(p, "%08llx-%08llx %s %08llx 00:00 0\n",
                       (unsigned long long)lo, (unsigned long long)hi, perms,
                       (unsigned long long)off);
}

static void cpu_new(struct vt *vt, struct vmar_sim_cpu **cpu)
{
    assert_int_equal(vmar_sim_cpu_create(vt->sim, 0, cpu), 0);
    vmar_sim_cpu_switch(*cpu, vt->space);
}

static void cpu_del(struct vmar_sim_cpu *cpu)
{
    vmar_sim_cpu_switch(cpu, NULL);
    vmar_sim_cpu_destroy(cpu);
}

/* vt_fork() without the reference decoder on either side
 * (vt_without_refdecoder): the same per-child backend configuration, then
 * vmar_fork(). */
static int fork_unchecked(struct vt *parent, struct vt *child)
{
    struct vmar_fork_opts fo;
    int rc;

    vt_without_refdecoder(parent);
    fo = (struct vmar_fork_opts){
        .mmu_config = vt_child_config(parent, child, 1),
    };
    rc = vmar_fork(parent->space, &fo, &child->space);
    if (rc)
        child->space = NULL;
    else
        VT_CHECK(child);
    VT_CHECK(parent);
    return rc;
}

/* ---- device frames ------------------------------------------------------- */

struct dev {
    vmar_paddr_t pa; /* first of `n` contiguous frames */
    vmar_paddr_t *got;
    size_t ngot;
};

/* Take frames until `n` contiguous ones aligned to `align` show up; give
 * each page of the run its own byte value. */
static void dev_get(struct vt *vt, struct dev *d, size_t n, vmar_size_t align)
{
    const size_t cap = 4096;
    size_t run = 0;

    d->got = calloc(cap, sizeof(*d->got));
    assert_non_null(d->got);
    d->ngot = 0;
    d->pa = 0;
    while (!d->pa && d->ngot < cap &&
           vt->env->frame_alloc(vt->env->ctx, 0, &d->got[d->ngot]) == 0) {
        vmar_paddr_t pa = d->got[d->ngot];
        run = (d->ngot && pa == d->got[d->ngot - 1] + PG) ? run + 1 : 1;
        d->ngot++;
        vmar_paddr_t first = pa + PG - (vmar_paddr_t)n * PG;
        if (run >= n && first % align == 0)
            d->pa = first;
    }
    assert_true(d->pa != 0);
    for (size_t k = 0; k < n; k++)
        memset(vt->env->phys_to_virt(vt->env->ctx, d->pa + k * PG),
               vt_page_byte(0x40, k), PG);
}

static void dev_put(struct vt *vt, struct dev *d)
{
    while (d->ngot)
        vt->env->frame_free(vt->env->ctx, d->got[--d->ngot]);
    free(d->got);
}

static int map_dev(struct vt *vt, vmar_addr_t at, vmar_size_t size,
                   vmar_paddr_t pa, unsigned prot)
{
    struct vmar_map_opts o = {.addr = at,
                              .size = size,
                              .prot = prot,
                              .place = FIXED,
                              .backing = VMAR_BACKING_DEVICE,
                              .paddr = pa,
                              .cache = VMAR_CACHE_UC};
    return vt_map_opts(vt, &o, NULL);
}

/* ---- in place ------------------------------------------------------------ */

static void test_shrink_in_place(void **state)
{
    struct vt vt;
    vmar_addr_t out = 0;
    char want[256];
    (void)state;

    vt_setup(&vt, NULL, 0);
    vt_map_fixed(&vt, BASE, 4, RW, 0);
    vt_fill_pages(&vt, BASE, 4, 1);
    size_t frames = data_frames(&vt, NULL);
    assert_int_equal(vt_space_stats(&vt).resident, 4 * PG);

    VT_EXPECT_RC(remap(&vt, BASE, 4 * PG, 2 * PG, 0, 0, &out), 0);
    assert_int_equal(out, BASE);
    line(want, BASE, BASE + 2 * PG, "rw-p", 0);
    VT_EXPECT_LAYOUT(&vt, want);
    VT_EXPECT_PAGES(&vt, BASE, 2, 1);
    EXPECT_UNMAPPED(&vt, BASE + 2 * PG);
    assert_int_equal(vt_space_stats(&vt).resident, 2 * PG);
    assert_int_equal(vt_space_stats(&vt).total_vm, 2 * PG);
    assert_int_equal(data_frames(&vt, NULL), frames - 2); /* the tail's */

    /* Same size: nothing to do, even with MAYMOVE (new_addr ignored). */
    out = 0;
    VT_EXPECT_RC(remap(&vt, BASE, 2 * PG, 2 * PG, MAYMOVE, 0x12345, &out), 0);
    assert_int_equal(out, BASE);
    VT_EXPECT_LAYOUT(&vt, want);

    /* Sizes are rounded up to a page. */
    VT_EXPECT_RC(remap(&vt, BASE, 2 * PG - 5, PG - 100, 0, 0, &out), 0);
    assert_int_equal(out, BASE);
    line(want, BASE, BASE + PG, "rw-p", 0);
    VT_EXPECT_LAYOUT(&vt, want);
    VT_EXPECT_PAGES(&vt, BASE, 1, 1);

    /* A range inside a mapping shrinks by cutting its tail out. */
    vt_map_fixed(&vt, BASE + 16 * PG, 8, RW, 0);
    VT_EXPECT_RC(remap(&vt, BASE + 16 * PG, 4 * PG, 2 * PG, 0, 0, &out), 0);
    char *p = line(want, BASE, BASE + PG, "rw-p", 0);
    p = line(p, BASE + 16 * PG, BASE + 18 * PG, "rw-p", 0);
    line(p, BASE + 20 * PG, BASE + 24 * PG, "rw-p", 0);
    VT_EXPECT_LAYOUT(&vt, want);
    vt_teardown(&vt);
}

static void test_grow_in_place(void **state)
{
    struct vt vt;
    vmar_addr_t out = 0;
    char want[256], *p;
    (void)state;

    vt_setup(&vt, NULL, 0);
    vt_map_fixed(&vt, BASE, 2, RW, 0);
    vt_fill_pages(&vt, BASE, 2, 2);
    size_t frames = data_frames(&vt, NULL);

    VT_EXPECT_RC(remap(&vt, BASE, 2 * PG, 5 * PG, 0, 0, &out), 0);
    assert_int_equal(out, BASE);
    line(want, BASE, BASE + 5 * PG, "rw-p", 0);
    VT_EXPECT_LAYOUT(&vt, want);
    VT_EXPECT_PAGES(&vt, BASE, 2, 2);
    assert_int_equal(data_frames(&vt, NULL), frames); /* nothing copied */
    VT_EXPECT_ZERO(&vt, BASE + 2 * PG, 3);
    assert_int_equal(vt_space_stats(&vt).total_vm, 5 * PG);
    assert_int_equal(vt_space_stats(&vt).resident, 5 * PG);

    /* Growing up to a compatible neighbour merges with it. */
    vt_map_fixed(&vt, BASE + 8 * PG, 2, RW, 0);
    vt_fill_pages(&vt, BASE + 8 * PG, 2, 9);
    VT_EXPECT_RC(remap(&vt, BASE, 5 * PG, 8 * PG, MAYMOVE, 0, &out), 0);
    assert_int_equal(out, BASE);
    line(want, BASE, BASE + 10 * PG, "rw-p", 0);
    VT_EXPECT_LAYOUT(&vt, want);
    VT_EXPECT_PAGES(&vt, BASE, 2, 2);
    VT_EXPECT_PAGES(&vt, BASE + 8 * PG, 2, 9);
    assert_int_equal(vt_space_stats(&vt).map_count, 1);

    /* ...and up to an incompatible one stays apart. */
    vt_map_fixed(&vt, BASE + 12 * PG, 1, R, 0);
    VT_EXPECT_RC(remap(&vt, BASE, 10 * PG, 12 * PG, 0, 0, &out), 0);
    p = line(want, BASE, BASE + 12 * PG, "rw-p", 0);
    line(p, BASE + 12 * PG, BASE + 13 * PG, "r--p", 0);
    VT_EXPECT_LAYOUT(&vt, want);
    vt_teardown(&vt);
}

static void test_grow_blocked(void **state)
{
    struct vt vt;
    (void)state;

    vt_setup(&vt, NULL, 0);
    vt_map_fixed(&vt, BASE, 2, RW, 0);
    vt_map_fixed(&vt, BASE + 3 * PG, 1, R, 0);
    vt_fill_pages(&vt, BASE, 2, 3);
    /* One page fits, two do not: without MAYMOVE, ENOMEM. */
    EXPECT_REMAP_FAILS(&vt, BASE, 2 * PG, 4 * PG, 0, 0, VMAR_ENOMEM);
    /* A range that is not the mapping's tail cannot grow in place. */
    vt_map_fixed(&vt, BASE + 8 * PG, 4, RW, 0);
    EXPECT_REMAP_FAILS(&vt, BASE + 8 * PG, 2 * PG, 3 * PG, 0, 0, VMAR_ENOMEM);
    /* Nor past the top of the user range. */
    vmar_addr_t top = vt_space_stats(&vt).user_hi;
    vt_map_fixed(&vt, top - 2 * PG, 2, RW, 0);
    EXPECT_REMAP_FAILS(&vt, top - 2 * PG, 2 * PG, 3 * PG, 0, 0, VMAR_ENOMEM);
    VT_EXPECT_PAGES(&vt, BASE, 2, 3);
    vt_teardown(&vt);
}

/* ---- moves --------------------------------------------------------------- */

static void test_maymove(void **state)
{
    struct vt vt;
    struct vmar_sim_cpu *cpu;
    vmar_addr_t out = 0;
    unsigned char b = 0;
    char want[256], *p;
    (void)state;

    vt_setup(&vt, NULL, 0);
    cpu_new(&vt, &cpu);
    vt_map_fixed(&vt, BASE, 3, RW, 0);
    vt_map_fixed(&vt, BASE + 3 * PG, 1, R, 0); /* blocks growth in place */
    vt_fill_pages(&vt, BASE, 3, 4);
    EXPECT_CPU_PAGES(&vt, cpu, BASE, 3, 4); /* the TLB caches the source */
    const struct vmar_stats before = vt_space_stats(&vt);
    const size_t frames = data_frames(&vt, NULL);
    assert_int_equal(before.resident, 3 * PG);

    VT_EXPECT_RC(remap(&vt, BASE, 3 * PG, 5 * PG, MAYMOVE, 0, &out), 0);
    assert_true(out != BASE);
    assert_true(out % PG == 0);
    VT_EXPECT_PAGES(&vt, out, 3, 4);
    EXPECT_CPU_PAGES(&vt, cpu, out, 3, 4);
    VT_EXPECT_ZERO(&vt, out + 3 * PG, 2);
    EXPECT_UNMAPPED(&vt, BASE);
    EXPECT_UNMAPPED(&vt, BASE + 2 * PG);
    VT_EXPECT_RC(vmar_sim_cpu_access(cpu, BASE + 5, RD, &b, 1), VMAR_ENOENT);
    VT_EXPECT_RC(vmar_sim_cpu_access(cpu, BASE + 2 * PG, WR, &b, 1),
                 VMAR_ENOENT);
    assert_int_equal(vmar_sim_violations(vt.sim), 0);
    /* The frames moved: none copied, none freed (two zero pages were
     * faulted in by the reads above). */
    assert_int_equal(data_frames(&vt, NULL), frames + 2);
    if (out > BASE) {
        p = line(want, BASE + 3 * PG, BASE + 4 * PG, "r--p", 0);
        line(p, out, out + 5 * PG, "rw-p", 0);
    } else {
        p = line(want, out, out + 5 * PG, "rw-p", 0);
        line(p, BASE + 3 * PG, BASE + 4 * PG, "r--p", 0);
    }
    VT_EXPECT_LAYOUT(&vt, want);
    assert_int_equal(vt_space_stats(&vt).total_vm, 6 * PG);

    /* A pure move keeps RSS exactly, by kind. */
    const struct vmar_stats mid = vt_space_stats(&vt);
    vmar_addr_t again = 0;
    VT_EXPECT_RC(
        remap(&vt, out, 5 * PG, 5 * PG, RFIXED, BASE + 64 * PG, &again), 0);
    assert_int_equal(again, BASE + 64 * PG);
    const struct vmar_stats after = vt_space_stats(&vt);
    assert_int_equal(after.resident, mid.resident);
    assert_int_equal(after.resident_anon, mid.resident_anon);
    assert_int_equal(after.resident_file, mid.resident_file);
    assert_int_equal(after.resident, 5 * PG);
    assert_int_equal(after.total_vm, mid.total_vm);
    EXPECT_CPU_PAGES(&vt, cpu, again, 3, 4);
    vmar_size_t bytes = 0;
    assert_int_equal(vmar_resident(vt.space, again, again + 5 * PG, &bytes), 0);
    assert_int_equal(bytes, 5 * PG);
    assert_int_equal(vmar_sim_violations(vt.sim), 0);
    cpu_del(cpu);
    vt_teardown(&vt);
}

/* A move of part of a mapping, that also grows: the rest stays. */
static void test_move_part(void **state)
{
    struct vt vt;
    vmar_addr_t out = 0;
    char want[256], *p;
    (void)state;

    vt_setup(&vt, NULL, 0);
    vt_map_fixed(&vt, BASE, 6, RW, 0);
    vt_fill_pages(&vt, BASE, 6, 5);
    VT_EXPECT_RC(
        remap(&vt, BASE + 2 * PG, 2 * PG, 3 * PG, RFIXED, BASE + 32 * PG, &out),
        0);
    assert_int_equal(out, BASE + 32 * PG);
    p = line(want, BASE, BASE + 2 * PG, "rw-p", 0);
    p = line(p, BASE + 4 * PG, BASE + 6 * PG, "rw-p", 0);
    line(p, BASE + 32 * PG, BASE + 35 * PG, "rw-p", 0);
    VT_EXPECT_LAYOUT(&vt, want);
    VT_EXPECT_PAGES(&vt, BASE, 2, 5);
    VT_EXPECT_PAGES(&vt, out, 2, 5 + 2 * 17);
    VT_EXPECT_ZERO(&vt, out + 2 * PG, 1);
    VT_EXPECT_PAGES(&vt, BASE + 4 * PG, 2, 5 + 4 * 17);

    /* Move-and-shrink (FIXED): the source's tail is dropped. */
    size_t frames = data_frames(&vt, NULL);
    VT_EXPECT_RC(
        remap(&vt, BASE + 4 * PG, 2 * PG, PG, RFIXED, BASE + 40 * PG, &out), 0);
    assert_int_equal(out, BASE + 40 * PG);
    VT_EXPECT_PAGES(&vt, out, 1, 5 + 4 * 17);
    EXPECT_UNMAPPED(&vt, BASE + 5 * PG);
    assert_int_equal(data_frames(&vt, NULL), frames - 1);
    assert_int_equal(vt_space_stats(&vt).total_vm, 6 * PG);
    vt_teardown(&vt);
}

/* The carve of a shrinking move's tail may empty a page table that the
 * target shares: the target's tables must be counted as missing. */
static void test_shrink_move_shared_table(void **state)
{
    struct vt vt;
    vmar_addr_t out = 0;
    const vmar_addr_t src = BASE + MB2 - PG; /* last page of a table */
    (void)state;

    vt_setup(&vt, NULL, 0);
    vt_map_fixed(&vt, src, 2, RW, 0);
    vt_fill_pages(&vt, src, 2, 6);
    /* The tail page is alone in the table of [BASE+2M, BASE+4M); the
     * target lies in that table too. */
    VT_EXPECT_RC(
        remap(&vt, src, 2 * PG, PG, RFIXED, BASE + MB2 + 256 * PG, &out), 0);
    assert_int_equal(out, BASE + MB2 + 256 * PG);
    VT_EXPECT_PAGES(&vt, out, 1, 6);
    EXPECT_UNMAPPED(&vt, src);
    EXPECT_UNMAPPED(&vt, src + PG);
    assert_int_equal(vt_space_stats(&vt).resident, PG);
    vt_teardown(&vt);
}

/* A FIXED target inside the source's own mapping, below the source: the
 * carve cuts that mapping before the source is cut (found by the Linux
 * differential test; it used to trip an assertion). */
static void test_fixed_inside_own_mapping(void **state)
{
    struct vt vt;
    vmar_addr_t out = 0;
    char want[256], *p;
    (void)state;

    vt_setup(&vt, NULL, 0);
    vt_map_fixed(&vt, BASE, 17, RW, 0);
    vt_fill_pages(&vt, BASE + 10 * PG, 4, 0x31);
    VT_EXPECT_RC(
        remap(&vt, BASE + 10 * PG, 4 * PG, 4 * PG, RFIXED, BASE + 5 * PG, &out),
        0);
    assert_int_equal(out, BASE + 5 * PG);
    VT_EXPECT_PAGES(&vt, out, 4, 0x31);
    EXPECT_UNMAPPED(&vt, BASE + 10 * PG);
    p = line(want, BASE, BASE + 10 * PG, "rw-p", 0);
    line(p, BASE + 14 * PG, BASE + 17 * PG, "rw-p", 0);
    VT_EXPECT_LAYOUT(&vt, want);
    vt_teardown(&vt);
}

static void test_fixed_replaces(void **state)
{
    struct vt vt;
    vmar_addr_t out = 0;
    char want[256], *p;
    const vmar_addr_t tgt = BASE + 16 * PG;
    (void)state;

    vt_setup(&vt, NULL, 0);
    vt_map_fixed(&vt, BASE, 2, RW, 0);
    vt_fill_pages(&vt, BASE, 2, 7);
    /* The target: 4 populated read-only pages with their own bytes. */
    vt_map_fixed(&vt, tgt, 4, RW, VMAR_MAP_POPULATE);
    vt_fill_pages(&vt, tgt, 4, 0x80);
    assert_int_equal(vt_protect(&vt, tgt, 4 * PG, R), 0);
    const size_t frames = data_frames(&vt, NULL);
    assert_int_equal(vt_space_stats(&vt).resident, 6 * PG);

    /* Into the middle of the target mapping: it is cut in two. */
    VT_EXPECT_RC(remap(&vt, BASE, 2 * PG, 2 * PG, RFIXED, tgt + PG, &out), 0);
    assert_int_equal(out, tgt + PG);
    p = line(want, tgt, tgt + PG, "r--p", 0);
    p = line(p, tgt + PG, tgt + 3 * PG, "rw-p", 0);
    line(p, tgt + 3 * PG, tgt + 4 * PG, "r--p", 0);
    VT_EXPECT_LAYOUT(&vt, want);
    VT_EXPECT_PAGES(&vt, out, 2, 7);
    VT_EXPECT_PAGES(&vt, tgt, 1, 0x80);
    VT_EXPECT_PAGES(&vt, tgt + 3 * PG, 1, 0x80 + 3 * 17);
    EXPECT_UNMAPPED(&vt, BASE);
    /* The two replaced pages' frames were freed. */
    assert_int_equal(data_frames(&vt, NULL), frames - 2);
    assert_int_equal(vt_space_stats(&vt).resident, 4 * PG);
    assert_int_equal(vt_space_stats(&vt).total_vm, 4 * PG);
    assert_int_equal(vt_space_stats(&vt).map_count, 3);

    /* Over several mappings and a hole, growing too. */
    vt_map_fixed(&vt, BASE + 64 * PG, 1, RW, 0);
    vt_fill_pages(&vt, BASE + 64 * PG, 1, 0x33);
    VT_EXPECT_RC(
        remap(&vt, BASE + 64 * PG, PG, 8 * PG, RFIXED, tgt - 2 * PG, &out), 0);
    assert_int_equal(out, tgt - 2 * PG);
    line(want, out, out + 8 * PG, "rw-p", 0);
    VT_EXPECT_LAYOUT(&vt, want);
    VT_EXPECT_PAGES(&vt, out, 1, 0x33);
    VT_EXPECT_ZERO(&vt, out + PG, 7);
    assert_int_equal(vt_space_stats(&vt).total_vm, 8 * PG);
    vt_teardown(&vt);
}

static void test_fixed_overlap(void **state)
{
    struct vt vt;
    (void)state;

    vt_setup(&vt, NULL, 0);
    vt_map_fixed(&vt, BASE, 8, RW, 0);
    vt_fill_pages(&vt, BASE, 8, 8);
    /* Target overlapping the source from above, from below, exactly, and
     * by growing into it. */
    EXPECT_REMAP_FAILS(&vt, BASE + 2 * PG, 2 * PG, 2 * PG, RFIXED,
                       BASE + 3 * PG, VMAR_EINVAL);
    EXPECT_REMAP_FAILS(&vt, BASE + 2 * PG, 2 * PG, 2 * PG, RFIXED, BASE + PG,
                       VMAR_EINVAL);
    EXPECT_REMAP_FAILS(&vt, BASE + 2 * PG, 2 * PG, 2 * PG, RFIXED,
                       BASE + 2 * PG, VMAR_EINVAL);
    EXPECT_REMAP_FAILS(&vt, BASE + 2 * PG, 2 * PG, 3 * PG, RFIXED, BASE,
                       VMAR_EINVAL);
    /* Adjacent on either side is fine. */
    vmar_addr_t out = 0;
    VT_EXPECT_RC(
        remap(&vt, BASE + 2 * PG, 2 * PG, 2 * PG, RFIXED, BASE + 4 * PG, &out),
        0);
    assert_int_equal(out, BASE + 4 * PG);
    VT_EXPECT_PAGES(&vt, BASE + 4 * PG, 2, 8 + 2 * 17);
    char want[128];
    char *p = line(want, BASE, BASE + 2 * PG, "rw-p", 0);
    line(p, BASE + 4 * PG, BASE + 8 * PG, "rw-p", 0);
    VT_EXPECT_LAYOUT(&vt, want);
    vt_teardown(&vt);
}

/* ---- DONTUNMAP ----------------------------------------------------------- */

static void test_dontunmap(void **state)
{
    struct vt vt;
    struct vmar_sim_cpu *cpu;
    vmar_addr_t out = 0;
    char want[256], *p;
    (void)state;

    vt_setup(&vt, NULL, 0);
    cpu_new(&vt, &cpu);
    vt_map_fixed(&vt, BASE, 3, RW, 0);
    vt_fill_pages(&vt, BASE, 3, 10);
    EXPECT_CPU_PAGES(&vt, cpu, BASE, 3, 10);
    const size_t frames = data_frames(&vt, NULL);

    VT_EXPECT_RC(remap(&vt, BASE, 3 * PG, 3 * PG, DONTUNMAP, 0, &out), 0);
    assert_true(out != BASE);
    /* Source mapped, empty; target has the contents. */
    struct vmar_mapping_info info = query(&vt, BASE + PG);
    assert_int_equal(info.start, BASE);
    assert_int_equal(info.end, BASE + 3 * PG);
    assert_int_equal(info.prot, RW);
    assert_int_equal(vt_space_stats(&vt).resident, 3 * PG);
    assert_int_equal(vt_space_stats(&vt).total_vm, 6 * PG);
    assert_int_equal(data_frames(&vt, NULL), frames);
    VT_EXPECT_PAGES(&vt, out, 3, 10);
    EXPECT_CPU_PAGES(&vt, cpu, out, 3, 10);
    EXPECT_CPU_ZERO(&vt, cpu, BASE, 1); /* the cached entry went away */
    VT_EXPECT_ZERO(&vt, BASE + PG, 2);
    assert_int_equal(vt_space_stats(&vt).resident, 6 * PG);
    assert_int_equal(vmar_sim_violations(vt.sim), 0);

    /* With FIXED, over part of a mapping in the middle of another one. */
    vt_map_fixed(&vt, BASE + 32 * PG, 4, RW, 0);
    vt_fill_pages(&vt, BASE + 32 * PG, 4, 11);
    VT_EXPECT_RC(remap(&vt, BASE + 33 * PG, 2 * PG, 2 * PG,
                       DONTUNMAP | VMAR_REMAP_FIXED, BASE + 64 * PG, &out),
                 0);
    assert_int_equal(out, BASE + 64 * PG);
    VT_EXPECT_PAGES(&vt, out, 2, 11 + 17);
    VT_EXPECT_PAGES(&vt, BASE + 32 * PG, 1, 11);
    VT_EXPECT_ZERO(&vt, BASE + 33 * PG, 2);
    VT_EXPECT_PAGES(&vt, BASE + 35 * PG, 1, 11 + 3 * 17);
    /* The source pieces merged back into one mapping. */
    info = query(&vt, BASE + 33 * PG);
    assert_int_equal(info.start, BASE + 32 * PG);
    assert_int_equal(info.end, BASE + 36 * PG);
    (void)p;
    (void)want;
    cpu_del(cpu);
    vt_teardown(&vt);
}

static void test_dontunmap_einval(void **state)
{
    struct vt vt;
    struct vmar_object *obj;
    (void)state;

    vt_setup(&vt, NULL, 0);
    vt_map_fixed(&vt, BASE, 2, RW, VMAR_MAP_SHARED); /* shared anonymous */
    vt_fill_pages(&vt, BASE, 2, 12);
    EXPECT_REMAP_FAILS(&vt, BASE, 2 * PG, 2 * PG, DONTUNMAP, 0, VMAR_EINVAL);
    assert_int_equal(vmar_memfd_create(vt.env, 4 * PG, &obj), 0);
    struct vmar_map_opts o = {.addr = BASE + 16 * PG,
                              .size = 2 * PG,
                              .prot = RW,
                              .place = FIXED,
                              .backing = VMAR_BACKING_OBJECT,
                              .object = obj};
    VT_EXPECT_RC(vt_map_opts(&vt, &o, NULL), 0); /* private object mapping */
    EXPECT_REMAP_FAILS(&vt, BASE + 16 * PG, 2 * PG, 2 * PG, DONTUNMAP, 0,
                       VMAR_EINVAL);
    o.flags = VMAR_MAP_SHARED;
    o.addr = BASE + 32 * PG;
    VT_EXPECT_RC(vt_map_opts(&vt, &o, NULL), 0);
    EXPECT_REMAP_FAILS(&vt, BASE + 32 * PG, 2 * PG, 2 * PG, DONTUNMAP, 0,
                       VMAR_EINVAL);
    /* A size change with DONTUNMAP, either way. */
    vt_map_fixed(&vt, BASE + 48 * PG, 4, RW, 0);
    EXPECT_REMAP_FAILS(&vt, BASE + 48 * PG, 2 * PG, 3 * PG, DONTUNMAP, 0,
                       VMAR_EINVAL);
    EXPECT_REMAP_FAILS(&vt, BASE + 48 * PG, 2 * PG, PG, DONTUNMAP, 0,
                       VMAR_EINVAL);
    /* A move spanning a private anonymous and a shared mapping. */
    vt_map_fixed(&vt, BASE + 2 * PG, 2, RW, 0);
    EXPECT_REMAP_FAILS(&vt, BASE + PG, 2 * PG, 2 * PG, DONTUNMAP, 0,
                       VMAR_EINVAL);
    vmar_object_unref(obj);
    vt_teardown(&vt);
}

/* ---- the errno table ----------------------------------------------------- */

static void test_errno_table(void **state)
{
    struct vt vt;
    struct dev d;
    (void)state;

    vt_setup(&vt, NULL, 0);
    vt_map_fixed(&vt, BASE, 4, RW, 0);
    vt_map_fixed(&vt, BASE + 4 * PG, 2, R, 0);
    vt_map_fixed(&vt, BASE + 8 * PG, 2, RW, 0);
    vt_fill_pages(&vt, BASE, 4, 13);
    const vmar_addr_t top = vt_space_stats(&vt).user_hi;

    /* EINVAL */
    EXPECT_REMAP_FAILS(&vt, BASE + 1, PG, PG, 0, 0, VMAR_EINVAL);
    EXPECT_REMAP_FAILS(&vt, BASE + PG / 2, PG, 2 * PG, MAYMOVE, 0, VMAR_EINVAL);
    EXPECT_REMAP_FAILS(&vt, BASE, PG, PG, RFIXED, BASE + 32 * PG + 8,
                       VMAR_EINVAL);
    EXPECT_REMAP_FAILS(&vt, BASE, PG, PG, 1u << 3, 0, VMAR_EINVAL);
    EXPECT_REMAP_FAILS(&vt, BASE, PG, PG, MAYMOVE | (1u << 31), 0, VMAR_EINVAL);
    EXPECT_REMAP_FAILS(&vt, BASE, PG, PG, VMAR_REMAP_FIXED, BASE + 32 * PG,
                       VMAR_EINVAL);
    EXPECT_REMAP_FAILS(&vt, BASE, PG, PG, VMAR_REMAP_DONTUNMAP, 0, VMAR_EINVAL);
    EXPECT_REMAP_FAILS(&vt, BASE, PG, 0, MAYMOVE, 0, VMAR_EINVAL);
    EXPECT_REMAP_FAILS(&vt, BASE, PG, 0, 0, 0, VMAR_EINVAL);
    EXPECT_REMAP_FAILS(&vt, BASE, 0, PG, MAYMOVE, 0, VMAR_EINVAL);
    EXPECT_REMAP_FAILS(&vt, BASE, PG, ~(vmar_size_t)0, MAYMOVE, 0, VMAR_EINVAL);
    /* FIXED targets outside the user range, or wrapping. */
    EXPECT_REMAP_FAILS(&vt, BASE, PG, 2 * PG, RFIXED, top - PG, VMAR_EINVAL);
    EXPECT_REMAP_FAILS(&vt, BASE, PG, PG, RFIXED, 0, VMAR_EINVAL);
    EXPECT_REMAP_FAILS(&vt, BASE, PG, PG, RFIXED, ~(vmar_addr_t)0 - PG + 1,
                       VMAR_EINVAL);

    /* EFAULT */
    EXPECT_REMAP_FAILS(&vt, BASE + 16 * PG, PG, 2 * PG, MAYMOVE, 0,
                       VMAR_EFAULT); /* nothing there */
    EXPECT_REMAP_FAILS(&vt, BASE + 16 * PG, PG, PG, RFIXED, BASE + 32 * PG,
                       VMAR_EFAULT);
    EXPECT_REMAP_FAILS(&vt, BASE + 7 * PG, 2 * PG, 2 * PG, RFIXED,
                       BASE + 32 * PG, VMAR_EFAULT); /* starts in the hole */
    EXPECT_REMAP_FAILS(&vt, BASE + 4 * PG, 6 * PG, 6 * PG, RFIXED,
                       BASE + 32 * PG, VMAR_EFAULT); /* spans the hole */
    EXPECT_REMAP_FAILS(&vt, BASE + 8 * PG, 3 * PG, 3 * PG, MAYMOVE, 0,
                       VMAR_EFAULT); /* runs past the end */
    /* A size change across two mappings, growing or shrinking. */
    EXPECT_REMAP_FAILS(&vt, BASE + 2 * PG, 4 * PG, 8 * PG, MAYMOVE, 0,
                       VMAR_EFAULT);
    EXPECT_REMAP_FAILS(&vt, BASE + 2 * PG, 4 * PG, 3 * PG, 0, 0, VMAR_EFAULT);
    EXPECT_REMAP_FAILS(&vt, BASE + 2 * PG, 4 * PG, 3 * PG, RFIXED,
                       BASE + 32 * PG, VMAR_EFAULT);
    /* Source beyond the top of the user range. */
    EXPECT_REMAP_FAILS(&vt, top, PG, PG, MAYMOVE, 0, VMAR_EFAULT);

    /* A device never grows, not even with MAYMOVE; shrinking is fine. */
    dev_get(&vt, &d, NDEV, PG);
    VT_EXPECT_RC(map_dev(&vt, BASE + 64 * PG, NDEV * PG, d.pa, RW), 0);
    EXPECT_REMAP_FAILS(&vt, BASE + 64 * PG, NDEV * PG, (NDEV + 1) * PG, 0, 0,
                       VMAR_EFAULT);
    EXPECT_REMAP_FAILS(&vt, BASE + 64 * PG, NDEV * PG, (NDEV + 1) * PG, MAYMOVE,
                       0, VMAR_EFAULT);
    EXPECT_REMAP_FAILS(&vt, BASE + 64 * PG, NDEV * PG, (NDEV + 1) * PG, RFIXED,
                       BASE + 128 * PG, VMAR_EFAULT);
    EXPECT_REMAP_FAILS(&vt, BASE + 64 * PG, NDEV * PG, NDEV * PG, DONTUNMAP, 0,
                       VMAR_EINVAL);

    /* NULL space. */
    assert_int_equal(vmar_remap(NULL, BASE, PG, PG, 0, 0, NULL), VMAR_EINVAL);
    assert_int_equal(vmar_resize(NULL, BASE, PG, PG), VMAR_EINVAL);
    VT_EXPECT_PAGES(&vt, BASE, 4, 13);
    vmar_space_destroy(vt.space);
    vt.space = NULL;
    dev_put(&vt, &d);
    vt_teardown(&vt);
}

/* ---- layout after a move ------------------------------------------------- */

static void test_merge_after_move(void **state)
{
    struct vt vt;
    vmar_addr_t out = 0;
    char want[256], *p;
    (void)state;

    vt_setup(&vt, NULL, 0);
    vt_map_fixed(&vt, BASE, 2, RW, 0);
    vt_map_fixed(&vt, BASE + 16 * PG, 2, RW, 0);
    vt_map_fixed(&vt, BASE + 20 * PG, 2, RW, 0);
    vt_fill_pages(&vt, BASE, 2, 14);
    vt_fill_pages(&vt, BASE + 16 * PG, 2, 15);
    vt_fill_pages(&vt, BASE + 20 * PG, 2, 16);
    /* Into the gap between two compatible neighbours: all three merge. */
    VT_EXPECT_RC(remap(&vt, BASE, 2 * PG, 2 * PG, RFIXED, BASE + 18 * PG, &out),
                 0);
    line(want, BASE + 16 * PG, BASE + 22 * PG, "rw-p", 0);
    VT_EXPECT_LAYOUT(&vt, want);
    assert_int_equal(vt_space_stats(&vt).map_count, 1);
    VT_EXPECT_PAGES(&vt, BASE + 16 * PG, 2, 15);
    VT_EXPECT_PAGES(&vt, BASE + 18 * PG, 2, 14);
    VT_EXPECT_PAGES(&vt, BASE + 20 * PG, 2, 16);

    /* Next to an incompatible neighbour (other prot, shared): apart. */
    vt_map_fixed(&vt, BASE + 40 * PG, 2, R, 0);
    vt_map_fixed(&vt, BASE + 44 * PG, 2, RW, VMAR_MAP_SHARED);
    VT_EXPECT_RC(remap(&vt, BASE + 20 * PG, 2 * PG, 2 * PG, RFIXED,
                       BASE + 42 * PG, &out),
                 0);
    p = line(want, BASE + 16 * PG, BASE + 20 * PG, "rw-p", 0);
    p = line(p, BASE + 40 * PG, BASE + 42 * PG, "r--p", 0);
    p = line(p, BASE + 42 * PG, BASE + 44 * PG, "rw-p", 0);
    line(p, BASE + 44 * PG, BASE + 46 * PG, "rw-s", 0);
    VT_EXPECT_LAYOUT(&vt, want);
    VT_EXPECT_PAGES(&vt, BASE + 42 * PG, 2, 16);
    vt_teardown(&vt);
}

/* A pure move spanning mappings of different permissions moves them all,
 * each with its own permissions. */
static void test_move_spanning_mappings(void **state)
{
    struct vt vt;
    vmar_addr_t out = 0;
    char want[256], *p;
    unsigned char b = 0;
    struct vmar_sim_cpu *cpu;
    (void)state;

    vt_setup(&vt, NULL, 0);
    cpu_new(&vt, &cpu);
    vt_map_fixed(&vt, BASE, 6, RW, 0);
    vt_fill_pages(&vt, BASE, 6, 17);
    assert_int_equal(vt_protect(&vt, BASE + 3 * PG, 3 * PG, R), 0);
    const struct vmar_stats before = vt_space_stats(&vt);

    VT_EXPECT_RC(
        remap(&vt, BASE + PG, 4 * PG, 4 * PG, RFIXED, BASE + 64 * PG, &out), 0);
    assert_int_equal(out, BASE + 64 * PG);
    p = line(want, BASE, BASE + PG, "rw-p", 0);
    p = line(p, BASE + 5 * PG, BASE + 6 * PG, "r--p", 0);
    p = line(p, out, out + 2 * PG, "rw-p", 0);
    line(p, out + 2 * PG, out + 4 * PG, "r--p", 0);
    VT_EXPECT_LAYOUT(&vt, want);
    VT_EXPECT_PAGES(&vt, out, 4, 17 + 17);
    EXPECT_CPU_PAGES(&vt, cpu, out, 4, 17 + 17);
    VT_EXPECT_PAGES(&vt, BASE, 1, 17);
    VT_EXPECT_PAGES(&vt, BASE + 5 * PG, 1, 17 + 5 * 17);
    /* Permissions moved with the pages. */
    b = 1;
    VT_EXPECT_RC(vmar_sim_cpu_access(cpu, out + PG, WR, &b, 1), 0);
    VT_EXPECT_RC(vmar_sim_cpu_access(cpu, out + 2 * PG, WR, &b, 1),
                 VMAR_EACCES);
    assert_int_equal(vt_space_stats(&vt).resident, before.resident);
    assert_int_equal(vt_space_stats(&vt).total_vm, before.total_vm);
    assert_int_equal(vt_space_stats(&vt).map_count, 4);

    /* The same without FIXED (the core places it). */
    VT_EXPECT_RC(remap(&vt, out, 4 * PG, 4 * PG, MAYMOVE, 0, &out), 0);
    assert_int_equal(out, BASE + 64 * PG); /* nothing to do: same size */
    assert_int_equal(vmar_sim_violations(vt.sim), 0);
    cpu_del(cpu);
    vt_teardown(&vt);
}

/* ---- device memory ------------------------------------------------------- */

static void test_device_move(void **state)
{
    struct vt vt;
    struct dev d;
    struct vmar_sim_cpu *cpu;
    vmar_addr_t out = 0;
    unsigned char b = 0;
    vmar_size_t bytes = 0;
    (void)state;

    vt_setup(&vt, NULL, 0);
    dev_get(&vt, &d, NDEV, PG);
    cpu_new(&vt, &cpu);
    VT_EXPECT_RC(map_dev(&vt, BASE, NDEV * PG, d.pa, RW), 0);
    EXPECT_CPU_PAGES(&vt, cpu, BASE, NDEV, 0x40);

    VT_EXPECT_RC(
        remap(&vt, BASE, NDEV * PG, NDEV * PG, RFIXED, BASE + 64 * PG, &out),
        0);
    assert_int_equal(out, BASE + 64 * PG);
    struct vmar_mapping_info info = query(&vt, out + PG);
    assert_int_equal(info.backing, VMAR_BACKING_DEVICE);
    assert_int_equal(info.start, out);
    assert_int_equal(info.offset, d.pa);
    assert_int_equal(info.cache, VMAR_CACHE_UC);
    EXPECT_CPU_PAGES(&vt, cpu, out, NDEV, 0x40);
    VT_EXPECT_RC(vmar_sim_cpu_access(cpu, BASE, RD, &b, 1), VMAR_ENOENT);
    EXPECT_UNMAPPED(&vt, BASE);
    assert_int_equal(vt_space_stats(&vt).resident, 0);
    assert_int_equal(vmar_resident(vt.space, out, out + NDEV * PG, &bytes), 0);
    assert_int_equal(bytes, NDEV * PG);

    /* The middle two pages move on: their physical address follows. */
    VT_EXPECT_RC(remap(&vt, out + PG, 2 * PG, 2 * PG,
                       MAYMOVE | VMAR_REMAP_FIXED, BASE + 128 * PG, &out),
                 0);
    info = query(&vt, BASE + 128 * PG);
    assert_int_equal(info.offset, d.pa + PG);
    assert_int_equal(info.end, BASE + 130 * PG);
    EXPECT_CPU_PAGES(&vt, cpu, BASE + 128 * PG, 2, 0x40 + 17);
    info = query(&vt, BASE + 67 * PG);
    assert_int_equal(info.offset, d.pa + 3 * PG);
    EXPECT_CPU_PAGES(&vt, cpu, BASE + 67 * PG, 1, 0x40 + 3 * 17);
    /* A write through the moved mapping lands in the device. */
    b = 0xd7;
    VT_EXPECT_RC(vmar_sim_cpu_access(cpu, BASE + 129 * PG + 3, WR, &b, 1), 0);
    unsigned char *dev2 =
        vt.env->phys_to_virt(vt.env->ctx, d.pa + 2 * (vmar_paddr_t)PG);
    assert_int_equal(dev2[3], 0xd7);

    /* Shrinking a device in place is allowed. */
    VT_EXPECT_RC(resize(&vt, BASE + 128 * PG, 2 * PG, PG), 0);
    EXPECT_UNMAPPED(&vt, BASE + 129 * PG);
    assert_int_equal(vmar_sim_violations(vt.sim), 0);
    for (size_t k = 0; k < NDEV; k++)
        assert_true(vmar_sim_frame_live(vt.sim, d.pa + k * PG));
    cpu_del(cpu);
    vmar_space_destroy(vt.space);
    vt.space = NULL;
    dev_put(&vt, &d);
    vt_teardown(&vt);
}

/* A 2 MiB device range moves to a 2 MiB-aligned target as one huge leaf
 * (where the backend has them); a move that also shrinks must split it. */
static void test_device_huge_move(void **state)
{
    struct vt vt;
    struct dev d;
    struct vmar_sim_cpu *cpu;
    vmar_addr_t out = 0;
    const bool sim = strcmp(vt_backend()->name, "sim") == 0;
    struct vmar_sim_stats s0, s1;
    (void)state;

    vt_setup(&vt, NULL, 0);
    dev_get(&vt, &d, MB2 / PG, MB2);
    cpu_new(&vt, &cpu);
    VT_EXPECT_RC(map_dev(&vt, BASE, MB2, d.pa, RW), 0);
    vmar_sim_stats(vt.sim, &s0);
    EXPECT_CPU_PAGES(&vt, cpu, BASE + 300 * PG, 1, 0x40 + 300 * 17);

    VT_EXPECT_RC(remap(&vt, BASE, MB2, MB2, RFIXED, BASE + 2 * MB2, &out), 0);
    assert_int_equal(out, BASE + 2 * MB2);
    vmar_sim_stats(vt.sim, &s1);
    if (sim)
        assert_int_equal(s1.leaves_live, s0.leaves_live); /* one huge leaf */
    assert_int_equal(query(&vt, out).offset, d.pa);
    EXPECT_CPU_PAGES(&vt, cpu, out + 300 * PG, 1, 0x40 + 300 * 17);
    EXPECT_CPU_PAGES(&vt, cpu, out, 1, 0x40);
    EXPECT_UNMAPPED(&vt, BASE + 300 * PG);

    /* Move-and-shrink to half: the huge leaf is cut at the new end. */
    VT_EXPECT_RC(remap(&vt, out, MB2, MB2 / 2, RFIXED, BASE + 4 * MB2, &out),
                 0);
    assert_int_equal(out, BASE + 4 * MB2);
    EXPECT_CPU_PAGES(&vt, cpu, out + 200 * PG, 1, 0x40 + 200 * 17);
    EXPECT_UNMAPPED(&vt, out + MB2 / 2);
    EXPECT_UNMAPPED(&vt, BASE + 2 * MB2);
    vmar_size_t bytes = 0;
    assert_int_equal(vmar_resident(vt.space, vt_space_stats(&vt).user_lo,
                                   vt_space_stats(&vt).user_hi, &bytes),
                     0);
    assert_int_equal(bytes, MB2 / 2);

    /* Part of it to an unaligned place: base pages, same bytes. */
    VT_EXPECT_RC(
        remap(&vt, out + 16 * PG, 8 * PG, 8 * PG, RFIXED, BASE + 5 * PG, &out),
        0);
    assert_int_equal(query(&vt, BASE + 5 * PG).offset, d.pa + 16 * PG);
    EXPECT_CPU_PAGES(&vt, cpu, BASE + 5 * PG, 8, 0x40 + 16 * 17);
    assert_int_equal(vmar_sim_violations(vt.sim), 0);
    cpu_del(cpu);
    vmar_space_destroy(vt.space);
    vt.space = NULL;
    dev_put(&vt, &d);
    vt_teardown(&vt);
}

/* ---- objects, fork ------------------------------------------------------- */

static void test_shared_object_move(void **state)
{
    struct vt vt;
    struct vmar_object *obj;
    vmar_addr_t out = 0;
    struct vmar_sim_cpu *cpu;
    (void)state;

    vt_setup(&vt, NULL, 0);
    vt_without_refdecoder(&vt); /* the object's pages are mapped twice */
    cpu_new(&vt, &cpu);
    assert_int_equal(vmar_memfd_create(vt.env, 4 * PG, &obj), 0);
    map_shared(&vt, BASE, 4, obj);
    map_shared(&vt, BASE + 32 * PG, 4, obj);
    vt_fill_pages(&vt, BASE, 4, 18);
    VT_EXPECT_PAGES(&vt, BASE + 32 * PG, 4, 18);
    const struct vmar_stats before = vt_space_stats(&vt);
    assert_int_equal(before.resident_file, 8 * PG);
    assert_int_equal(before.resident_anon, 0);

    /* The last three pages move and grow by one. */
    VT_EXPECT_RC(
        remap(&vt, BASE + PG, 3 * PG, 4 * PG, RFIXED, BASE + 64 * PG, &out), 0);
    assert_int_equal(out, BASE + 64 * PG);
    struct vmar_mapping_info info = query(&vt, out);
    assert_ptr_equal(info.object, obj);
    assert_int_equal(info.offset, PG);
    assert_true(info.flags & VMAR_MAP_SHARED);
    assert_int_equal(vt_space_stats(&vt).resident_file, before.resident_file);
    assert_int_equal(vt_space_stats(&vt).resident_anon, 0);
    VT_EXPECT_PAGES(&vt, out, 3, 18 + 17);
    EXPECT_CPU_PAGES(&vt, cpu, out, 3, 18 + 17);
    /* Still shared: writes through the moved range show in the other
     * mapping and the other way round. */
    vt_fill_pages(&vt, out, 3, 19);
    VT_EXPECT_PAGES(&vt, BASE + 33 * PG, 3, 19);
    vt_fill_pages(&vt, BASE + 32 * PG, 4, 20);
    EXPECT_CPU_PAGES(&vt, cpu, out, 3, 20 + 17);
    VT_EXPECT_PAGES(&vt, BASE, 1, 20);
    /* The grown page is past the object's end: SIGBUS for a shared
     * mapping, as Linux. */
    unsigned char b = 0;
    VT_EXPECT_RC(vmar_sim_cpu_access(cpu, out + 3 * PG, RD, &b, 1), VMAR_ENXIO);
    assert_int_equal(vmar_sim_violations(vt.sim), 0);
    cpu_del(cpu);
    vmar_object_unref(obj);
    vt_teardown(&vt);
}

static void test_fork_then_move(void **state)
{
    struct vt vt, child;
    vmar_addr_t out = 0;
    (void)state;

    vt_setup(&vt, NULL, 0);
    vt_map_fixed(&vt, BASE, 4, RW, 0);
    vt_fill_pages(&vt, BASE, 4, 21);
    VT_EXPECT_RC(fork_unchecked(&vt, &child), 0);
    const size_t frames = data_frames(&vt, &child);

    /* The parent moves its COW mapping; no frame is copied. */
    VT_EXPECT_RC(remap(&vt, BASE, 4 * PG, 6 * PG, RFIXED, BASE + 64 * PG, &out),
                 0);
    assert_int_equal(out, BASE + 64 * PG);
    VT_CHECK(&child);
    assert_int_equal(data_frames(&vt, &child), frames);
    VT_EXPECT_PAGES(&vt, out, 4, 21);
    VT_EXPECT_PAGES(&child, BASE, 4, 21);

    /* A write in the child copies its page: the parent keeps the old. */
    vt_fill_pages(&child, BASE + PG, 1, 22);
    VT_CHECK(&vt);
    VT_EXPECT_PAGES(&vt, out + PG, 1, 21 + 17);
    VT_EXPECT_PAGES(&child, BASE + PG, 1, 22);
    assert_int_equal(data_frames(&vt, &child), frames + 1);
    /* And a write in the parent at the new place: the child keeps the
     * old. */
    vt_fill_pages(&vt, out + 2 * PG, 1, 23);
    VT_CHECK(&child);
    VT_EXPECT_PAGES(&child, BASE + 2 * PG, 1, 21 + 2 * 17);
    VT_EXPECT_PAGES(&vt, out + 2 * PG, 1, 23);
    assert_int_equal(data_frames(&vt, &child), frames + 2);
    /* The untouched pages are still one frame each, for both. */
    VT_EXPECT_PAGES(&child, BASE, 1, 21);
    VT_EXPECT_PAGES(&vt, out + 3 * PG, 1, 21 + 3 * 17);
    assert_int_equal(data_frames(&vt, &child), frames + 2);

    /* The child moves too; then the parent drops its copy. */
    VT_EXPECT_RC(
        remap(&child, BASE, 4 * PG, 4 * PG, RFIXED, BASE + 128 * PG, &out), 0);
    VT_EXPECT_RC(vt_unmap(&vt, BASE + 64 * PG, 6 * PG), 0);
    VT_EXPECT_PAGES(&child, BASE + 128 * PG, 1, 21);
    VT_EXPECT_PAGES(&child, BASE + 129 * PG, 1, 22);
    VT_EXPECT_PAGES(&child, BASE + 130 * PG, 1, 21 + 2 * 17);
    vt_fill_pages(&child, BASE + 128 * PG, 4, 24); /* reuses or copies */
    VT_EXPECT_PAGES(&child, BASE + 128 * PG, 4, 24);
    vt_child_destroy(&child);
    vt_teardown(&vt);
}

/* ---- vmar_resize --------------------------------------------------------- */

static void test_resize(void **state)
{
    struct vt vt;
    char want[256], *p;
    (void)state;

    vt_setup(&vt, NULL, 0);
    vt_map_fixed(&vt, BASE, 4, RW, 0);
    vt_fill_pages(&vt, BASE, 4, 25);
    VT_EXPECT_RC(resize(&vt, BASE, 4 * PG, 2 * PG), 0);
    line(want, BASE, BASE + 2 * PG, "rw-p", 0);
    VT_EXPECT_LAYOUT(&vt, want);
    assert_int_equal(vt_space_stats(&vt).resident, 2 * PG);
    VT_EXPECT_RC(resize(&vt, BASE, 2 * PG, 6 * PG), 0);
    line(want, BASE, BASE + 6 * PG, "rw-p", 0);
    VT_EXPECT_LAYOUT(&vt, want);
    VT_EXPECT_PAGES(&vt, BASE, 2, 25);
    VT_EXPECT_ZERO(&vt, BASE + 2 * PG, 4); /* the dropped pages are gone */

    /* Blocked: ENOMEM, never a move. */
    vt_map_fixed(&vt, BASE + 8 * PG, 1, R, 0);
    EXPECT_RESIZE_FAILS(&vt, BASE, 6 * PG, 9 * PG, VMAR_ENOMEM);
    VT_EXPECT_RC(resize(&vt, BASE, 6 * PG, 8 * PG), 0);
    p = line(want, BASE, BASE + 8 * PG, "rw-p", 0);
    line(p, BASE + 8 * PG, BASE + 9 * PG, "r--p", 0);
    VT_EXPECT_LAYOUT(&vt, want);

    /* Not exactly one mapping from its start: EFAULT. */
    EXPECT_RESIZE_FAILS(&vt, BASE, 9 * PG, 10 * PG, VMAR_EFAULT);
    EXPECT_RESIZE_FAILS(&vt, BASE, 9 * PG, 8 * PG, VMAR_EFAULT);
    EXPECT_RESIZE_FAILS(&vt, BASE + 16 * PG, PG, 2 * PG, VMAR_EFAULT);
    EXPECT_RESIZE_FAILS(&vt, BASE + PG, 7 * PG, 2 * PG, VMAR_EFAULT);
    EXPECT_RESIZE_FAILS(&vt, BASE, 4 * PG, 2 * PG, VMAR_EFAULT);
    /* Bad arguments: EINVAL. */
    EXPECT_RESIZE_FAILS(&vt, BASE, 8 * PG, 0, VMAR_EINVAL);
    EXPECT_RESIZE_FAILS(&vt, BASE, 0, PG, VMAR_EINVAL);
    EXPECT_RESIZE_FAILS(&vt, BASE + 1, 8 * PG, PG, VMAR_EINVAL);
    EXPECT_RESIZE_FAILS(&vt, BASE, 8 * PG - 1, PG, VMAR_EINVAL);
    EXPECT_RESIZE_FAILS(&vt, BASE, 8 * PG, ~(vmar_size_t)0 - PG + 1,
                        VMAR_EINVAL);

    /* The address-space limit: growth past it is refused, shrinking and
     * growth up to it are not. */
    vmar_set_limits(vt.space, 12 * PG, 0);
    VT_EXPECT_RC(resize(&vt, BASE + 8 * PG, PG, 4 * PG), 0);
    EXPECT_RESIZE_FAILS(&vt, BASE + 8 * PG, 4 * PG, 5 * PG, VMAR_ENOMEM);
    VT_EXPECT_RC(resize(&vt, BASE + 8 * PG, 4 * PG, 3 * PG), 0);
    VT_EXPECT_RC(resize(&vt, BASE + 8 * PG, 3 * PG, 4 * PG), 0);
    assert_int_equal(vt_space_stats(&vt).total_vm, 12 * PG);
    vt_teardown(&vt);
}

/* ---- limits -------------------------------------------------------------- */

static void test_limits(void **state)
{
    struct vt vt;
    vmar_addr_t out = 0;
    (void)state;

    vt_setup(&vt, NULL, 0);
    vt_map_fixed(&vt, BASE, 4, RW, 0);
    vt_map_fixed(&vt, BASE + 8 * PG, 2, R, 0);
    vt_fill_pages(&vt, BASE, 4, 26);

    /* Address space: 8 pages. A pure move adds nothing; growth does. */
    vmar_set_limits(vt.space, 8 * PG, 0);
    VT_EXPECT_RC(remap(&vt, BASE, 4 * PG, 4 * PG, RFIXED, BASE + 32 * PG, &out),
                 0);
    EXPECT_REMAP_FAILS(&vt, BASE + 32 * PG, 4 * PG, 7 * PG, MAYMOVE, 0,
                       VMAR_ENOMEM);
    EXPECT_REMAP_FAILS(&vt, BASE + 32 * PG, 4 * PG, 4 * PG, DONTUNMAP, 0,
                       VMAR_ENOMEM);
    VT_EXPECT_RC(remap(&vt, BASE + 32 * PG, 4 * PG, 6 * PG, MAYMOVE, 0, &out),
                 0);
    /* Replacing mapped bytes pays for them: a move-and-grow over the R
     * mapping fits. */
    VT_EXPECT_RC(remap(&vt, out, 6 * PG, 8 * PG, RFIXED, BASE + 8 * PG, &out),
                 0);
    assert_int_equal(vt_space_stats(&vt).total_vm, 8 * PG);
    VT_EXPECT_PAGES(&vt, out, 4, 26);

    /* Mapping count: moving a whole mapping adds none. */
    vmar_set_limits(vt.space, 0, 1);
    VT_EXPECT_RC(remap(&vt, out, 8 * PG, 8 * PG, RFIXED, BASE + 64 * PG, &out),
                 0);
    VT_EXPECT_RC(
        remap(&vt, out, 8 * PG, 8 * PG, MAYMOVE | VMAR_REMAP_FIXED, BASE, &out),
        0);
    assert_int_equal(out, BASE);
    /* Moving its middle adds two. */
    EXPECT_REMAP_FAILS(&vt, BASE + 2 * PG, 2 * PG, 2 * PG, RFIXED,
                       BASE + 64 * PG, VMAR_ENOMEM);
    vmar_set_limits(vt.space, 0, 2);
    EXPECT_REMAP_FAILS(&vt, BASE + 2 * PG, 2 * PG, 2 * PG, RFIXED,
                       BASE + 64 * PG, VMAR_ENOMEM);
    /* Its tail adds one. */
    VT_EXPECT_RC(
        remap(&vt, BASE + 6 * PG, 2 * PG, 2 * PG, RFIXED, BASE + 64 * PG, &out),
        0);
    VT_EXPECT_PAGES(&vt, BASE, 4, 26);
    assert_int_equal(vt_space_stats(&vt).map_count, 2);
    /* DONTUNMAP of a whole mapping adds one. */
    EXPECT_REMAP_FAILS(&vt, BASE, 6 * PG, 6 * PG, DONTUNMAP, 0, VMAR_ENOMEM);
    vmar_set_limits(vt.space, 0, 3);
    VT_EXPECT_RC(remap(&vt, BASE, 6 * PG, 6 * PG, DONTUNMAP, 0, &out), 0);
    VT_EXPECT_PAGES(&vt, out, 4, 26);
    VT_EXPECT_ZERO(&vt, BASE, 4);
    vt_teardown(&vt);
}

/* ---- allocation failures ------------------------------------------------- */

struct mv {
    vmar_addr_t old, new_addr, out;
    vmar_size_t osz, nsz;
    unsigned flags;
};

static int op_remap(struct vt *vt, void *arg)
{
    struct mv *m = arg;

    return vmar_remap(vt->space, m->old, m->osz, m->nsz, m->flags, m->new_addr,
                      &m->out);
}

static void test_oom_move(void **state)
{
    struct vt vt;
    size_t failed;
    (void)state;

    vt_setup(&vt, NULL, 0);
    vt_map_fixed(&vt, BASE, 8, RW, 0);
    vt_fill_pages(&vt, BASE, 8, 27);

    /* The middle, growing, to a place the core picks (fresh tables). */
    struct mv m = {
        .old = BASE + 2 * PG, .osz = 3 * PG, .nsz = 5 * PG, .flags = MAYMOVE};
    failed = vt_fail_each_allocation(&vt, op_remap, &m);
    VT_CHECK(&vt);
    assert_true(failed >= 3); /* two nodes and at least one table */
    VT_EXPECT_PAGES(&vt, m.out, 3, 27 + 2 * 17);
    VT_EXPECT_ZERO(&vt, m.out + 3 * PG, 2);
    VT_EXPECT_PAGES(&vt, BASE, 2, 27);
    VT_EXPECT_PAGES(&vt, BASE + 5 * PG, 3, 27 + 5 * 17);
    EXPECT_UNMAPPED(&vt, BASE + 2 * PG);

    /* FIXED into the middle of populated pages, with a table to create. */
    vt_map_fixed(&vt, BASE + 64 * MB2, 8, RW, VMAR_MAP_POPULATE);
    vt_fill_pages(&vt, BASE + 64 * MB2, 8, 28);
    struct mv f = {.old = BASE,
                   .osz = 2 * PG,
                   .nsz = 2 * PG,
                   .flags = RFIXED,
                   .new_addr = BASE + 64 * MB2 + 3 * PG};
    failed = vt_fail_each_allocation(&vt, op_remap, &f);
    VT_CHECK(&vt);
    assert_true(failed >= 2);
    assert_int_equal(f.out, BASE + 64 * MB2 + 3 * PG);
    VT_EXPECT_PAGES(&vt, f.out, 2, 27);
    VT_EXPECT_PAGES(&vt, BASE + 64 * MB2, 3, 28);
    VT_EXPECT_PAGES(&vt, BASE + 64 * MB2 + 5 * PG, 3, 28 + 5 * 17);

    /* DONTUNMAP from the middle of a mapping. */
    struct mv d = {
        .old = BASE + 6 * PG, .osz = PG, .nsz = PG, .flags = DONTUNMAP};
    failed = vt_fail_each_allocation(&vt, op_remap, &d);
    VT_CHECK(&vt);
    assert_true(failed >= 3); /* two cuts, a copy node, a table */
    VT_EXPECT_PAGES(&vt, d.out, 1, 27 + 6 * 17);
    VT_EXPECT_ZERO(&vt, BASE + 6 * PG, 1);
    VT_EXPECT_PAGES(&vt, BASE + 7 * PG, 1, 27 + 7 * 17);

    /* Grow in place: nothing to allocate, nothing fails. */
    vt_map_fixed(&vt, BASE + 256 * PG, 1, RW, 0);
    vt_fill_pages(&vt, BASE + 256 * PG, 1, 29);
    struct mv g = {.old = BASE + 256 * PG, .osz = PG, .nsz = 3 * PG};
    assert_int_equal(vt_fail_each_allocation(&vt, op_remap, &g), 0);
    VT_CHECK(&vt);
    assert_int_equal(g.out, BASE + 256 * PG);
    VT_EXPECT_PAGES(&vt, g.out, 1, 29);
    assert_int_equal(query(&vt, g.out).end, BASE + 259 * PG);
    vt_teardown(&vt);
}

/* A shrinking move of a huge device leaf: the split needs table pages. */
static void test_oom_device_shrink_move(void **state)
{
    struct vt vt;
    struct dev d;
    (void)state;

    vt_setup(&vt, NULL, 0);
    dev_get(&vt, &d, MB2 / PG, MB2);
    VT_EXPECT_RC(map_dev(&vt, BASE, MB2, d.pa, RW), 0);
    struct mv m = {.old = BASE,
                   .osz = MB2,
                   .nsz = MB2 / 2 + PG,
                   .flags = RFIXED,
                   .new_addr = BASE + 4 * MB2};
    size_t failed = vt_fail_each_allocation(&vt, op_remap, &m);
    VT_CHECK(&vt);
    assert_true(failed >= 1);
    assert_int_equal(m.out, BASE + 4 * MB2);
    struct vmar_mapping_info info = query(&vt, m.out + MB2 / 2);
    assert_int_equal(info.start, m.out);
    assert_int_equal(info.end, m.out + MB2 / 2 + PG);
    assert_int_equal(info.offset, d.pa);
    EXPECT_UNMAPPED(&vt, BASE);
    vmar_space_destroy(vt.space);
    vt.space = NULL;
    dev_put(&vt, &d);
    vt_teardown(&vt);
}

/* ---- TLB ----------------------------------------------------------------- */

/* Two CPUs run the space and cache every page involved; after each kind
 * of remap no access is served by a stale entry. */
static void test_tlb_clean(void **state)
{
    struct vt vt;
    struct vmar_sim_cpu *c0, *c1;
    vmar_addr_t out = 0;
    unsigned char b = 0;
    (void)state;

    vt_setup(&vt, NULL, 0);
    cpu_new(&vt, &c0);
    cpu_new(&vt, &c1);
    vt_map_fixed(&vt, BASE, 4, RW, 0);
    vt_map_fixed(&vt, BASE + 16 * PG, 4, RW, 0);
    vt_fill_pages(&vt, BASE, 4, 29);
    vt_fill_pages(&vt, BASE + 16 * PG, 4, 30);
    EXPECT_CPU_PAGES(&vt, c0, BASE, 4, 29);
    EXPECT_CPU_PAGES(&vt, c1, BASE + 16 * PG, 4, 30);
    EXPECT_CPU_PAGES(&vt, c1, BASE, 4, 29);

    /* FIXED over pages c1 caches: c1 must see the moved bytes. */
    VT_EXPECT_RC(remap(&vt, BASE, 2 * PG, 2 * PG, RFIXED, BASE + 17 * PG, &out),
                 0);
    EXPECT_CPU_PAGES(&vt, c1, BASE + 17 * PG, 2, 29);
    EXPECT_CPU_PAGES(&vt, c0, BASE + 17 * PG, 2, 29);
    VT_EXPECT_RC(vmar_sim_cpu_access(c0, BASE, RD, &b, 1), VMAR_ENOENT);
    VT_EXPECT_RC(vmar_sim_cpu_access(c1, BASE + PG, WR, &b, 1), VMAR_ENOENT);
    /* Shrink in place: the cached tail faults. */
    VT_EXPECT_RC(remap(&vt, BASE + 16 * PG, 4 * PG, 2 * PG, 0, 0, &out), 0);
    VT_EXPECT_RC(vmar_sim_cpu_access(c1, BASE + 19 * PG, RD, &b, 1),
                 VMAR_ENOENT);
    EXPECT_CPU_PAGES(&vt, c1, BASE + 17 * PG, 1, 29);
    /* DONTUNMAP: the cached source reads zero on both CPUs. */
    EXPECT_CPU_PAGES(&vt, c0, BASE + 2 * PG, 2, 29 + 2 * 17);
    VT_EXPECT_RC(remap(&vt, BASE + 2 * PG, 2 * PG, 2 * PG, DONTUNMAP, 0, &out),
                 0);
    EXPECT_CPU_ZERO(&vt, c0, BASE + 2 * PG, 2);
    EXPECT_CPU_ZERO(&vt, c1, BASE + 2 * PG, 2);
    EXPECT_CPU_PAGES(&vt, c1, out, 2, 29 + 2 * 17);
    /* Writes on one CPU at the new place show on the other. */
    b = 0x5c;
    VT_EXPECT_RC(vmar_sim_cpu_access(c0, out + 7, WR, &b, 1), 0);
    b = 0;
    VT_EXPECT_RC(vmar_sim_cpu_access(c1, out + 7, RD, &b, 1), 0);
    assert_int_equal(b, 0x5c);
    assert_int_equal(vmar_sim_violations(vt.sim), 0);
    cpu_del(c0);
    cpu_del(c1);
    vt_teardown(&vt);
}

static void test_tlb_detector(void **state)
{
    struct vt vt;
    struct vmar_sim_cpu *cpu;
    vmar_addr_t out = 0;
    unsigned char b = 0;
    (void)state;

    vt_setup_flaky(&vt);
    cpu_new(&vt, &cpu);
    vt_map_fixed(&vt, BASE, 2, RW, 0);
    vt_fill_pages(&vt, BASE, 2, 31);
    EXPECT_CPU_PAGES(&vt, cpu, BASE, 2, 31);

    /* The move's flush goes missing: the CPU still translates the old
     * address with the cached entry, which the detector reports. */
    vt_flaky.skip = 1;
    VT_EXPECT_RC(remap(&vt, BASE, 2 * PG, 2 * PG, RFIXED, BASE + 32 * PG, &out),
                 0);
    assert_int_equal(vt_flaky.skipped, 1);
    VT_EXPECT_RC(vmar_sim_cpu_access(cpu, BASE + 3, RD, &b, 1), 0);
    assert_int_equal(b, vt_page_byte(31, 0)); /* the frame lives on, moved */
    assert_int_equal(vmar_sim_violations(vt.sim), 1);

    /* The same move with its flush: no violation. */
    vmar_sim_cpu_switch(cpu, vt.space); /* forget the stale entries */
    const size_t v0 = vmar_sim_violations(vt.sim);
    EXPECT_CPU_PAGES(&vt, cpu, out, 2, 31);
    VT_EXPECT_RC(remap(&vt, out, 2 * PG, 2 * PG, RFIXED, BASE, &out), 0);
    VT_EXPECT_RC(vmar_sim_cpu_access(cpu, BASE + 32 * PG + 3, RD, &b, 1),
                 VMAR_ENOENT);
    EXPECT_CPU_PAGES(&vt, cpu, BASE, 2, 31);
    assert_int_equal(vmar_sim_violations(vt.sim), v0);

    /* A FIXED move over cached pages whose flush is skipped: the CPU
     * reads the replaced, freed frame (poison). */
    vt_map_fixed(&vt, BASE + 64 * PG, 2, RW, 0);
    vt_fill_pages(&vt, BASE + 64 * PG, 2, 32);
    EXPECT_CPU_PAGES(&vt, cpu, BASE + 64 * PG, 2, 32);
    vt_flaky.skip = 2;
    VT_EXPECT_RC(remap(&vt, BASE, 2 * PG, 2 * PG, RFIXED, BASE + 64 * PG, &out),
                 0);
    assert_int_equal(vt_flaky.skipped, 3);
    VT_EXPECT_RC(vmar_sim_cpu_access(cpu, BASE + 64 * PG, RD, &b, 1), 0);
    assert_int_equal(b, 0x5a); /* VMAR_SIM_FRAME_POISON */
    assert_true(vmar_sim_violations(vt.sim) > v0);
    cpu_del(cpu);
    vt_teardown(&vt);
}

/* Pages of test_move_whole_tables' 5 MiB mapping that hold data: both
 * sides of each leaf-table boundary, and inside each table. */
static const size_t wt_pages[] = {0, 1, 300, 511, 512, 700, 1023, 1024, 1279};
#define WT_N (sizeof(wt_pages) / sizeof(wt_pages[0]))

/* Every data page of the 5 MiB mapping at `at` reads its seed on `cpu`
 * and through the space; the source `from` translates nothing. */
static void wt_expect(struct vt *vt, struct vmar_sim_cpu *cpu, vmar_addr_t at,
                      vmar_addr_t from)
{
    unsigned char b = 0;

    for (size_t i = 0; i < WT_N; i++) {
        EXPECT_CPU_PAGES(vt, cpu, at + wt_pages[i] * PG, 1, (unsigned)(70 + i));
        VT_EXPECT_RC(
            vmar_sim_cpu_access(cpu, from + wt_pages[i] * PG, RD, &b, 1),
            VMAR_ENOENT);
    }
    assert_int_equal(vt_space_stats(vt).resident_anon, WT_N * PG);
    assert_int_equal(vmar_sim_violations(vt->sim), 0);
}

/*
 * Moves of a populated 5 MiB mapping (two whole leaf tables and a half)
 * whose pages a CPU has cached: to a target aligned alike in another GiB
 * (whole tables relinked, the half moved word by word), back to an
 * unaligned one (every table word by word, across table boundaries), and
 * to an aligned one whose tables must all be allocated, with each
 * allocation failing in turn (nothing changes). The CPU sees the data at
 * the new place at once and nothing at the old (the detector counts no
 * stale use), and the RSS does not change.
 */
static void test_move_whole_tables(void **state)
{
    const vmar_addr_t A = BASE + 2 * MB2, T = BASE + ((vmar_addr_t)1 << 30),
                      U = BASE + 64 * MB2 + 5 * PG;
    const vmar_size_t len = 5 * ((vmar_size_t)1 << 20);
    struct vmar_sim_cpu *cpu;
    vmar_addr_t out = 0;
    struct vt vt;
    (void)state;

    vt_setup(&vt, NULL, 0);
    cpu_new(&vt, &cpu);
    vt_map_fixed(&vt, A, len / PG, RW, 0);
    for (size_t i = 0; i < WT_N; i++)
        vt_fill_pages(&vt, A + wt_pages[i] * PG, 1, (unsigned)(70 + i));
    for (size_t i = 0; i < WT_N; i++)
        EXPECT_CPU_PAGES(&vt, cpu, A + wt_pages[i] * PG, 1, (unsigned)(70 + i));

    VT_EXPECT_RC(remap(&vt, A, len, len, RFIXED, T + 4 * MB2, &out), 0);
    assert_int_equal(out, T + 4 * MB2);
    wt_expect(&vt, cpu, out, A);
    EXPECT_UNMAPPED(&vt, A);

    VT_EXPECT_RC(remap(&vt, out, len, len, RFIXED, U, &out), 0);
    assert_int_equal(out, U);
    wt_expect(&vt, cpu, U, T + 4 * MB2);

    /* From the unaligned place to an aligned one: word by word again
     * (the offsets differ), into a GiB without tables. */
    struct mv m = {.old = U,
                   .osz = len,
                   .nsz = len,
                   .flags = RFIXED,
                   .new_addr = BASE + 3 * ((vmar_addr_t)1 << 30)};
    assert_true(vt_fail_each_allocation(&vt, op_remap, &m) >= 3);
    VT_CHECK(&vt);
    assert_int_equal(m.out, m.new_addr);
    wt_expect(&vt, cpu, m.out, U);

    /* Aligned alike again, into a GiB without tables, failing each
     * allocation: the relinked tables' upper tables come first. */
    m = (struct mv){.old = m.out,
                    .osz = len,
                    .nsz = len,
                    .flags = RFIXED,
                    .new_addr = BASE + 5 * ((vmar_addr_t)1 << 30)};
    assert_true(vt_fail_each_allocation(&vt, op_remap, &m) >= 1);
    VT_CHECK(&vt);
    wt_expect(&vt, cpu, m.out, m.old);

    /* DONTUNMAP, aligned alike: the source stays mapped and empty. */
    VT_EXPECT_RC(remap(&vt, m.out, len, len, DONTUNMAP, 0, &out), 0);
    VT_EXPECT_ZERO(&vt, m.out, 1);
    for (size_t i = 0; i < WT_N; i++)
        VT_EXPECT_PAGES(&vt, out + wt_pages[i] * PG, 1, (unsigned)(70 + i));
    assert_int_equal(vmar_sim_violations(vt.sim), 0);
    cpu_del(cpu);
    vt_teardown(&vt);
}

/* ---- ops->move and the page loop ------------------------------------------
 */

#define MOVED_MAX 520

struct moved_rec {
    size_t n;
    vmar_paddr_t pa[MOVED_MAX];
};

static void moved_rec_fn(void *arg, vmar_paddr_t pa)
{
    struct moved_rec *m = arg;

    assert_true(m->n < MOVED_MAX);
    m->pa[m->n++] = pa;
}

static void op_map(const struct vmar_env *env, const struct vmar_mmu_ops *ops,
                   struct vmar_mmu *mmu, vmar_addr_t va, vmar_size_t len,
                   const struct vmar_pte *pte)
{
    struct vmar_frame_list resv = {0, 0};

    assert_int_equal(ops->prepare(mmu, va, len, VMAR_PREP_MAP, &resv), 0);
    ops->map_range(mmu, va, pte, len, len == MB2 ? VMAR_MAP_RANGE_HUGE : 0,
                   &resv);
    vmar_frame_list_release(env, &resv);
}

/* Unmap [va, va+len) of a bare table; `transfer` as remap's source: the
 * references of the managed leaves stay with their frames (the core's
 * batch queues none; here each gets one more first, which the unmap
 * drops). */
static size_t op_unmap(const struct vmar_env *env,
                       const struct vmar_mmu_ops *ops, struct vmar_mmu *mmu,
                       vmar_addr_t va, vmar_size_t len, bool transfer)
{
    struct vmar_tlb_batch batch;
    struct vmar_pte pte;
    size_t pages;

    for (vmar_addr_t at = va;
         transfer && ops->find_next(mmu, &at, va + len, &pte) == 0; at += PG)
        if (pte.flags & VMAR_PTE_MANAGED)
            vmar_frame_get(env, pte.pa);
    vmar_tlb_batch_init(&batch, env, ops, mmu);
    pages = ops->unmap(mmu, va, len, NULL, &batch);
    vmar_tlb_batch_finish(&batch);
    return pages;
}

static void expect_same_pte(const struct vmar_pte *a, const struct vmar_pte *b)
{
    assert_int_equal(a->pa, b->pa);
    assert_int_equal(a->prot, b->prot);
    assert_int_equal(a->flags, b->flags);
    assert_int_equal(a->cache, b->cache);
}

/* Every present page of [va, va+len) of `mmu`, in order (at most `max`). */
static size_t op_leaves(const struct vmar_mmu_ops *ops, struct vmar_mmu *mmu,
                        vmar_addr_t lo, vmar_addr_t hi, vmar_addr_t *at,
                        struct vmar_pte *pte, size_t max)
{
    size_t n = 0;

    while (n < max && ops->find_next(mmu, &lo, hi, &pte[n]) == 0) {
        at[n++] = lo;
        lo += PG;
    }
    return n;
}

/*
 * vmar_mmu_ops::move on its own, on a bare table of the selected backend:
 * base leaves on both sides of leaf-table boundaries and a 2 MiB huge
 * leaf, moved to a target that is not table aligned (each source leaf
 * table lands in two target ones). Every leaf arrives as a base page with
 * the source's frame and attributes; the source and the leaves just
 * outside the range are unchanged; the target's four leaf tables come
 * from the reservation; moved() sees every base page once, in order; the
 * leaf count follows (the sim's counter here, and on every backend the
 * destroy, which asserts that unmapping everything leaves none). A huge
 * leaf cut by the range moves only its pages inside.
 */
static void test_mmu_move_op(void **state)
{
    const vmar_addr_t S = BASE + MB2;               /* source, 6 MiB */
    const vmar_size_t LEN = 3 * MB2;                /* [S, S + 6M) */
    const vmar_addr_t H = S + 2 * MB2;              /* huge leaf in it */
    const vmar_addr_t T = BASE + 64 * MB2 + 3 * PG; /* target */
    const vmar_addr_t H2 = BASE + 16 * MB2;         /* huge leaf, cut */
    const vmar_addr_t T2 = BASE + 80 * MB2 + PG;
    const vmar_paddr_t HPA = (vmar_paddr_t)1 << 30;
    const vmar_addr_t fva[6] = {S - PG,           S,      S + MB2 - PG, S + MB2,
                                S + MB2 + 5 * PG, S + LEN};
    const unsigned fprot[6] = {RW, RW, R, RW, R | VMAR_PROT_EXEC, RW};
    const unsigned fflags[6] = {
        0, VMAR_PTE_ACCESSED | VMAR_PTE_DIRTY, VMAR_PTE_ACCESSED, 0, 0, 0};
    const enum vmar_cache fcache[6] = {VMAR_CACHE_WB, VMAR_CACHE_WB,
                                       VMAR_CACHE_WT, VMAR_CACHE_WB,
                                       VMAR_CACHE_WB, VMAR_CACHE_WB};
    static vmar_addr_t sat[MOVED_MAX], sat1[MOVED_MAX], tat[MOVED_MAX];
    static struct vmar_pte spte[MOVED_MAX], spte1[MOVED_MAX], tpte[MOVED_MAX];
    static struct moved_rec rec;
    struct vmar_frame_list resv = {0, 0};
    struct vmar_mmu *mmu;
    vmar_paddr_t f[6];
    struct vt vt;
    (void)state;

    vt_setup(&vt, NULL, 0);
    const struct vmar_mmu_ops *ops = vt_backend_ops();
    const void *cfg = vt_backend()->real ? NULL : (const void *)vt.sim;
    const struct vmar_env *env = vt.env;
    /* Every backend of this tree implements move (the NULL fallback is
     * test_move_op_matches_loop's other half). */
    assert_non_null(ops->move);
    assert_int_equal(ops->create(env, cfg, &mmu), 0);
    for (unsigned i = 0; i < 6; i++) {
        assert_int_equal(vmar_frame_new(env, &f[i]), 0);
        struct vmar_pte pte = {.pa = f[i],
                               .prot = fprot[i],
                               .flags = VMAR_PTE_MANAGED | fflags[i],
                               .cache = fcache[i]};
        op_map(env, ops, mmu, fva[i], PG, &pte);
    }
    struct vmar_pte huge = {
        .pa = HPA, .prot = RW, .flags = 0, .cache = VMAR_CACHE_UC};
    op_map(env, ops, mmu, H, MB2, &huge);
    huge.pa = HPA + MB2;
    op_map(env, ops, mmu, H2, MB2, &huge);
    size_t ns = op_leaves(ops, mmu, S, S + LEN, sat, spte, MOVED_MAX);
    assert_int_equal(ns, 4 + 512);

    /* An empty range moves nothing and takes no table. */
    rec.n = 0;
    ops->move(mmu, S + LEN + PG, 4 * MB2, T, &resv, moved_rec_fn, &rec);
    assert_int_equal(rec.n, 0);

    struct vmar_sim_stats s0 = vt_stats(&vt);
    assert_int_equal(ops->prepare(mmu, T, LEN, VMAR_PREP_MAP, &resv), 0);
    assert_int_equal(resv.count, 4); /* T is 3 pages past a table start */
    ops->move(mmu, S, LEN, T, &resv, moved_rec_fn, &rec);
    assert_int_equal(resv.count, 0);
    if (!vt_backend()->real) {
        struct vmar_sim_stats s1 = vt_stats(&vt);
        /* the source's huge leaf is still one leaf */
        assert_int_equal(s1.leaves_live - s0.leaves_live, 4 + 512);
        assert_int_equal(s1.tables_live - s0.tables_live, 4);
    }

    /* moved(): each base page once, in address order. */
    assert_int_equal(rec.n, 4 + 512);
    for (unsigned i = 0; i < 4; i++)
        assert_int_equal(rec.pa[i], f[i + 1]);
    for (unsigned i = 0; i < 512; i++)
        assert_int_equal(rec.pa[4 + i], HPA + i * PG);

    /* The target: page for page the source's entry, base pages only. */
    size_t nt = op_leaves(ops, mmu, T - PG, T + LEN + PG, tat, tpte, MOVED_MAX);
    assert_int_equal(nt, ns);
    for (size_t i = 0; i < nt; i++) {
        assert_int_equal(tat[i] - T, sat[i] - S);
        expect_same_pte(&tpte[i], &spte[i]);
    }
    /* The source, its neighbours included, is as it was. */
    size_t n1 =
        op_leaves(ops, mmu, S - PG, S + LEN + PG, sat1, spte1, MOVED_MAX);
    assert_int_equal(n1, ns + 2);
    assert_int_equal(sat1[0], S - PG);
    assert_int_equal(sat1[n1 - 1], S + LEN);
    for (size_t i = 0; i < ns; i++) {
        assert_int_equal(sat1[i + 1], sat[i]);
        expect_same_pte(&spte1[i + 1], &spte[i]);
    }

    /* A huge leaf cut at both ends: only the pages in the range. */
    rec.n = 0;
    assert_int_equal(ops->prepare(mmu, T2, 4 * PG, VMAR_PREP_MAP, &resv), 0);
    ops->move(mmu, H2 + 3 * PG, 4 * PG, T2, &resv, moved_rec_fn, &rec);
    assert_int_equal(resv.count, 0);
    assert_int_equal(rec.n, 4);
    nt = op_leaves(ops, mmu, T2 - PG, T2 + MB2, tat, tpte, MOVED_MAX);
    assert_int_equal(nt, 4);
    for (unsigned i = 0; i < 4; i++) {
        assert_int_equal(rec.pa[i], HPA + MB2 + (3 + i) * PG);
        assert_int_equal(tat[i], T2 + i * PG);
        assert_int_equal(tpte[i].pa, HPA + MB2 + (3 + i) * PG);
        assert_int_equal(tpte[i].prot, RW);
        assert_int_equal(tpte[i].cache, VMAR_CACHE_UC);
    }

    /* The references moved: the source goes in transfer mode and the
     * frames keep theirs; the target's unmap drops them. */
    assert_int_equal(op_unmap(env, ops, mmu, S, LEN, true), 516);
    for (unsigned i = 1; i < 5; i++)
        assert_int_equal(*env->frame_refcount(env->ctx, f[i]), 1);
    assert_int_equal(op_unmap(env, ops, mmu, T, LEN, false), 516);
    assert_int_equal(op_unmap(env, ops, mmu, T2, 4 * PG, false), 4);
    assert_int_equal(op_unmap(env, ops, mmu, H2, MB2, false), 512);
    assert_int_equal(op_unmap(env, ops, mmu, S - PG, PG, false), 1);
    assert_int_equal(op_unmap(env, ops, mmu, S + LEN, PG, false), 1);
    ops->destroy(mmu); /* asserts that no leaf is left */
    vt_teardown(&vt);  /* asserts every frame came back */
}

/* Three copies of the selected backend's ops whose find_next, map, move
 * and transfer count their calls: path 0 with neither move nor transfer
 * (the core's page loop), path 1 with move only, path 2 with transfer. */
static const struct vmar_mmu_ops *paths_base;
static struct vmar_mmu_ops paths_ops[3];
static size_t paths_finds, paths_maps, paths_moves, paths_transfers;

static int paths_find_next(const struct vmar_mmu *mmu, vmar_addr_t *va,
                           vmar_addr_t end, struct vmar_pte *pte)
{
    paths_finds++;
    return paths_base->find_next(mmu, va, end, pte);
}

static void paths_map(struct vmar_mmu *mmu, vmar_addr_t va,
                      const struct vmar_pte *pte, struct vmar_frame_list *resv)
{
    paths_maps++;
    paths_base->map(mmu, va, pte, resv);
}

static void paths_move_op(struct vmar_mmu *mmu, vmar_addr_t va, vmar_size_t len,
                          vmar_addr_t to, struct vmar_frame_list *resv,
                          vmar_mmu_take_fn *moved, void *arg)
{
    paths_moves++;
    paths_base->move(mmu, va, len, to, resv, moved, arg);
}

static void paths_transfer_op(struct vmar_mmu *mmu, vmar_addr_t va,
                              vmar_size_t len, vmar_addr_t to,
                              struct vmar_frame_list *resv,
                              struct vmar_tlb_batch *batch)
{
    paths_transfers++;
    paths_base->transfer(mmu, va, len, to, resv, batch);
}

/* A space over paths_ops[path]. Both paths' spaces are made the same way,
 * so the two machines allocate the same frames in the same order. */
static void paths_setup(struct vt *vt, unsigned path)
{
    vt_setup(vt, NULL, 0);
    vmar_space_destroy(vt->space);
    paths_base = vt->opts.mmu;
    paths_ops[path] = *paths_base;
    paths_ops[path].find_next = paths_find_next;
    paths_ops[path].map = paths_map;
    paths_ops[path].move = path == 0 ? NULL : paths_move_op;
    paths_ops[path].transfer = path == 2 ? paths_transfer_op : NULL;
    vt->opts.mmu = &paths_ops[path];
    assert_int_equal(vmar_space_create(&vt->opts, &vt->space), 0);
    vt->refcheck = vt_backend()->real;
}

/* Resident pages of the anonymous mapping of paths_move, by page index. */
static const size_t paths_anon[6] = {0, 511, 512, 517, 1031, 1535};

/*
 * Three pieces moved by one remap: 6 MiB of anonymous memory with pages
 * on both sides of leaf-table boundaries, 4 read-only pages, and a shared
 * object (file RSS) with two resident pages; to a target 3 pages past a
 * table boundary in an empty GiB.
 */
static void paths_move(struct vt *vt, struct vmar_object *obj, vmar_addr_t to,
                       size_t calls[4])
{
    const vmar_addr_t B = BASE + 3 * MB2, C = B + 4 * PG;
    vmar_addr_t out = 0;

    vt_map_fixed(vt, BASE, 3 * 512, RW, 0);
    for (size_t i = 0; i < 6; i++)
        vt_fill_pages(vt, BASE + paths_anon[i] * PG, 1, (unsigned)(40 + i));
    vt_map_fixed(vt, B, 4, RW, 0);
    vt_fill_pages(vt, B, 4, 50);
    VT_EXPECT_RC(vt_protect(vt, B, 4 * PG, R), 0);
    map_shared(vt, C, 4, obj);
    vt_fill_pages(vt, C, 2, 60);
    paths_finds = paths_maps = paths_moves = paths_transfers = 0;
    VT_EXPECT_RC(vmar_remap(vt->space, BASE, C + 4 * PG - BASE,
                            C + 4 * PG - BASE, RFIXED, to, &out),
                 0);
    calls[0] = paths_finds;
    calls[1] = paths_maps;
    calls[2] = paths_moves;
    calls[3] = paths_transfers;
    VT_CHECK(vt);
    assert_int_equal(out, to);
    const struct vmar_stats st = vt_space_stats(vt);
    assert_int_equal(st.resident_anon, 10 * PG);
    assert_int_equal(st.resident_file, 2 * PG);
    for (size_t i = 0; i < 6; i++)
        VT_EXPECT_PAGES(vt, to + paths_anon[i] * PG, 1, (unsigned)(40 + i));
    VT_EXPECT_ZERO(vt, to + PG, 1);
    VT_EXPECT_PAGES(vt, to + (B - BASE), 4, 50);
    VT_EXPECT_PAGES(vt, to + (C - BASE), 2, 60);
    EXPECT_UNMAPPED(vt, BASE);
    EXPECT_UNMAPPED(vt, C);
}

/*
 * A remap with ops->transfer, the same remap with ops->move (a backend
 * without transfer) and through the core's page loop (neither) end in the
 * same space: layout, counters (RSS anon and file), contents, and, since
 * the machines allocate alike, the same digest of every frame and page
 * table, so bit-identical tables. The backend calls show which path ran:
 * move makes none of the per-page find_next/map calls, and prepare_target
 * looks up one page per target leaf-table span (4 in the anonymous piece,
 * 1 in each other) instead of every page; transfer is one call for the
 * whole range.
 */
static void test_move_op_matches_loop(void **state)
{
    const vmar_addr_t to = BASE + 2 * ((vmar_addr_t)1 << 30) + 3 * PG;
    struct vt vt[3];
    struct vmar_object *obj[3];
    size_t calls[3][4];
    struct vt_snap snap;
    (void)state;

    for (unsigned p = 0; p < 3; p++) {
        paths_setup(&vt[p], p);
        assert_int_equal(vmar_memfd_create(vt[p].env, 4 * PG, &obj[p]), 0);
        paths_move(&vt[p], obj[p], to, calls[p]);
    }
    /* Loop: 6 lookups for the reservation, then one per page (12) and
     * the miss that ends the object piece; a map per page. */
    assert_int_equal(calls[0][0], 6 + 12 + 1);
    assert_int_equal(calls[0][1], 12);
    assert_int_equal(calls[0][2], 0);
    assert_int_equal(calls[0][3], 0);
    /* move: the reservation's 6 lookups, then one move per piece. */
    assert_int_equal(calls[1][0], 6);
    assert_int_equal(calls[1][1], 0);
    assert_int_equal(calls[1][2], 3);
    assert_int_equal(calls[1][3], 0);
    /* transfer: the same lookups, then one call. */
    assert_int_equal(calls[2][0], 6);
    assert_int_equal(calls[2][1], 0);
    assert_int_equal(calls[2][2], 0);
    assert_int_equal(calls[2][3], 1);

    for (unsigned p = 1; p < 3; p++) {
        vt_snap_take(&vt[0], &snap); /* VT_EXPECT_UNCHANGED frees it */
        VT_EXPECT_UNCHANGED(&vt[p], &snap);
    }
    for (unsigned p = 0; p < 3; p++) {
        vmar_object_unref(obj[p]);
        vt_teardown(&vt[p]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shrink_in_place),
        cmocka_unit_test(test_grow_in_place),
        cmocka_unit_test(test_grow_blocked),
        cmocka_unit_test(test_maymove),
        cmocka_unit_test(test_move_part),
        cmocka_unit_test(test_shrink_move_shared_table),
        cmocka_unit_test(test_fixed_replaces),
        cmocka_unit_test(test_fixed_overlap),
        cmocka_unit_test(test_dontunmap),
        cmocka_unit_test(test_dontunmap_einval),
        cmocka_unit_test(test_errno_table),
        cmocka_unit_test(test_merge_after_move),
        cmocka_unit_test(test_move_spanning_mappings),
        cmocka_unit_test(test_device_move),
        cmocka_unit_test(test_device_huge_move),
        cmocka_unit_test(test_shared_object_move),
        cmocka_unit_test(test_fork_then_move),
        cmocka_unit_test(test_resize),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_oom_move),
        cmocka_unit_test(test_oom_device_shrink_move),
        cmocka_unit_test(test_fixed_inside_own_mapping),
        cmocka_unit_test(test_tlb_clean),
        cmocka_unit_test(test_tlb_detector),
        cmocka_unit_test(test_move_whole_tables),
        cmocka_unit_test(test_mmu_move_op),
        cmocka_unit_test(test_move_op_matches_loop),
    };

    fprintf(stderr, "backend: %s\n", vt_backend()->name);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
